"""How long a big, slow-to-decode frame holds up other connections of the onebox.

    PYTHONPATH=$PWD .venv/bin/python bench/onebox_bigframe.py [--rounds 5] [--mib 3.9]

One connection sends a multi_put of many empty values (the slowest kind of frame to decode per
byte; over 1 MiB of body it is refused with ERR_INVALID_DATA, so nothing is executed and only the
decode costs); meanwhile another connection runs back-to-back gets. Printed per round: the decode
window (big frame sent -> its reply), how many gets completed in it and their p50 / max latency,
against the get latency of the same connection with no big frame (baseline, same run).
Latencies are taken on this process's clock around each blocking call.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import struct
import threading
import time

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_MULTI_PUT, encode_key, encode_request, parse_address
from pegload.onebox import Onebox


def _recv_frame(sock, buf=b""):
    while len(buf) < 4 or len(buf) < struct.unpack_from(">i", buf)[0]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed by the onebox")
        buf += chunk
    n = struct.unpack_from(">i", buf)[0]
    return buf[:n], buf[n:]


def _connect(addr):
    s = socket.create_connection(parse_address(addr), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _get_latencies(addr, frame, stop: threading.Event, out: list):
    s = _connect(addr)
    try:
        while not stop.is_set():
            t = time.perf_counter()
            s.sendall(frame)
            _recv_frame(s)
            out.append((t, time.perf_counter() - t))
    finally:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=float, default=3.9, help="size of the big frame (default 3.9 MiB)")
    args = ap.parse_args()
    hk = b"bigframe"
    p = wire.partition_index(wire.hash_key_hash(hk), 8)
    n = int(args.mib * (1 << 20)) // 22  # 22 bytes per empty key-value on the wire
    big = encode_request(RPC_MULTI_PUT, 7, wire.MultiPutRequest(hk, [wire.KeyValue(b"%07d" % i, b"")
                                                                     for i in range(n)], 0),
                         app_id=1, partition_index=p)
    with Onebox(replica_ports=(0,), tables={"temp": 8}) as ob:
        addr = ob.replica_addrs[0]
        get = encode_request(RPC_GET, 1, encode_key(b"other", b"s"), app_id=1,
                             partition_index=wire.partition_index(wire.hash_key_hash(b"other"), 8))
        print(f"onebox loop backend {ob.info.get('loop_backend')}; big frame {len(big) / 2**20:.2f} MiB, "
              f"{n} key-values")
        for r in range(args.rounds):
            lat: list = []
            stop = threading.Event()
            th = threading.Thread(target=_get_latencies, args=(addr, get, stop, lat))
            th.start()
            time.sleep(0.3)  # baseline gets
            s = _connect(addr)
            t0 = time.perf_counter()
            s.sendall(big)
            reply, _ = _recv_frame(s)
            t1 = time.perf_counter()
            time.sleep(0.1)
            stop.set()
            th.join()
            s.close()
            assert wire.decode_response(reply).error_name == "ERR_INVALID_DATA"
            base = [d for t, d in lat if t + d < t0]
            during = [d for t, d in lat if t < t1 and t + d > t0]
            print(f"round {r + 1}: decode window {(t1 - t0) * 1e3:.0f} ms; baseline {len(base)} gets, p50 "
                  f"{statistics.median(base) * 1e3:.3f} ms, max {max(base) * 1e3:.2f} ms; during: "
                  f"{len(during)} gets, p50 {statistics.median(during) * 1e3:.3f} ms, "
                  f"max {max(during) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
