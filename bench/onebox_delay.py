"""How exact the onebox's injected reply delay is, seen from a client's clock.

    PYTHONPATH=$PWD .venv/bin/python bench/onebox_delay.py [--requests 1200] [--delays 0.25,0.5,1,2,3,5]

Gets alternate between a partition with ``delay_ms D`` and an undelayed partition of the same
replica, one request at a time on each of two connections (moderate load), so machine noise hits
both series alike. Printed per D: the delayed replies' min / p50 / p90, the undelayed p50, and
how much the delay added to the median beyond D (the goal: within +-0.3 ms, min never below D).
"""
from __future__ import annotations

import argparse
import socket
import struct
import time

from pegload.client import wire
from pegload.client.wire import RPC_GET, encode_key, encode_request, parse_address
from pegload.onebox import Onebox


def _frames(ob, count):
    cfg = ob.partition_config("temp")
    target = cfg[0]["primary"]
    assert cfg[1]["primary"] == target, "partitions 0 and 1 must share their primary"
    keys = {0: [], 1: []}
    i = 0
    while min(len(v) for v in keys.values()) < count // 2 + 1:
        key = encode_key(b"delay-%d" % i, b"s")
        p = wire.partition_index(wire.key_hash(key), 8)
        if p in keys:
            keys[p].append(key)
        i += 1
    return target, [encode_request(RPC_GET, n + 1, keys[n % 2][n // 2], app_id=1, partition_index=n % 2)
                    for n in range(count)]


def _call(sock, frame):
    t = time.perf_counter()
    sock.sendall(frame)
    buf = b""
    while len(buf) < 4 or len(buf) < struct.unpack_from(">i", buf)[0]:
        buf += sock.recv(65536)
    return time.perf_counter() - t


def _q(v, f):
    return v[min(len(v) - 1, int(f * len(v)))] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1200)
    ap.add_argument("--delays", default="0.25,0.5,1,2,3,5")
    args = ap.parse_args()
    with Onebox(replica_ports=(0,), tables={"temp": 8}) as ob:
        addr, frames = _frames(ob, args.requests)
        socks = []
        for _ in range(2):
            s = socket.create_connection(parse_address(addr))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        for f in frames[:100]:
            _call(socks[0], f)
        print(f"loop backend: {ob.info.get('loop_backend', 'epoll (default)')}")
        print(f"{'D ms':>6} {'min':>7} {'p50':>7} {'p90':>7} {'plain p50':>10} {'added-D':>8} {'early':>6}")
        for d in (float(x) for x in args.delays.split(",")):
            ob.set_faults(table="temp", partition=0, delay_ms=d)
            delayed, plain = [], []
            for n, f in enumerate(frames):
                (delayed if n % 2 == 0 else plain).append(_call(socks[n // 2 % 2], f))
            delayed.sort()
            plain.sort()
            added = _q(delayed, 0.5) - _q(plain, 0.5) - d
            early = sum(1 for x in delayed if x * 1e3 < d)
            print(f"{d:6.2f} {_q(delayed, 0):7.3f} {_q(delayed, 0.5):7.3f} {_q(delayed, 0.9):7.3f} "
                  f"{_q(plain, 0.5):10.3f} {added:+8.3f} {early:6d}")
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
