"""Onebox server cost and throughput, measured with raw pre-encoded frames.

    .venv/bin/python bench/onebox.py [--seconds 3] [--depth 64] [--connections 8]

Starts a onebox child process, then drives it from this process with request frames encoded
once up front by the wire codec (so the client costs little: it only writes buffers and counts
reply frames by their length prefixes). Prints, for get and set, with one pipelined connection
and with many: requests/s, and the server's CPU microseconds per request (from the child's
/proc/<pid>/stat utime+stime, i.e. what the server really spent), plus the server's CPU
utilisation (1.0 = one full core: the server was the bottleneck).

Goal (issue 5): at least 20k get/s on one core.
"""
from __future__ import annotations

import argparse
import os
import selectors
import socket
import struct
import sys
import time

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_PUT, encode_key, encode_request
from pegload.onebox import Onebox

CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_GET_PER_S = 20_000


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def build_frames(ob: Onebox, op: str, nkeys: int, value_size: int) -> dict[str, list[bytes]]:
    """Request frames per replica address, each addressed to the key's primary."""
    cfg = ob.partition_config("temp")
    count = len(cfg)
    per_replica: dict[str, list[bytes]] = {}
    value = b"x" * value_size
    for i in range(nkeys):
        key = encode_key(b"bench%06d" % i, b"s")
        pidx = wire.partition_index(wire.key_hash(key), count)
        if op == "get":
            f = encode_request(RPC_GET, i, key, app_id=1, partition_index=pidx)
        else:
            f = encode_request(RPC_PUT, i, wire.UpdateRequest(key, value, 0), app_id=1, partition_index=pidx)
        per_replica.setdefault(cfg[pidx]["primary"], []).append(f)
    return per_replica


class Conn:
    def __init__(self, addr: str, frames: list[bytes], depth: int) -> None:
        host, _, port = addr.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        # pre-joined windows of `depth` frames, cycled
        self.windows = [b"".join(frames[i:i + depth]) for i in range(0, len(frames) - depth + 1, depth)]
        self.depth = depth
        self.next_window = 0
        self.out = memoryview(b"")
        self.inflight = 0
        self.buf = b""
        self.done = 0

    def queue_window(self) -> None:
        w = self.windows[self.next_window]
        self.next_window = (self.next_window + 1) % len(self.windows)
        self.out = memoryview(bytes(self.out) + w) if self.out else memoryview(w)
        self.inflight += self.depth

    def on_readable(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("onebox closed the connection")
        buf = self.buf + data if self.buf else data
        pos, n = 0, len(buf)
        got = 0
        while n - pos >= 4:
            size = struct.unpack_from(">i", buf, pos)[0]
            if n - pos < size:
                break
            pos += size
            got += 1
        self.buf = buf[pos:]
        self.inflight -= got
        self.done += got

    def on_writable(self) -> None:
        if self.out:
            sent = self.sock.send(self.out)
            self.out = self.out[sent:]


def drive(ob: Onebox, per_replica: dict[str, list[bytes]], connections: int, depth: int, seconds: float):
    addrs = sorted(per_replica)
    conns = [Conn(addrs[i % len(addrs)], per_replica[addrs[i % len(addrs)]], depth) for i in range(connections)]
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        c.queue_window()
        c.queue_window()  # two windows in flight: the server never waits for us
    # warm-up, then measure
    t_end = time.monotonic() + 0.5
    measuring = False
    cpu0 = wall0 = 0.0
    base = 0
    while True:
        now = time.monotonic()
        if now >= t_end:
            if measuring:
                break
            measuring = True
            cpu0, wall0 = cpu_seconds(ob.pid), now
            base = sum(c.done for c in conns)
            t_end = now + seconds
        for key, events in sel.select(timeout=0.5):
            c = key.data
            if events & selectors.EVENT_READ:
                c.on_readable()
                while c.inflight <= c.depth:
                    c.queue_window()
            if events & selectors.EVENT_WRITE:
                c.on_writable()
    wall = time.monotonic() - wall0
    cpu = cpu_seconds(ob.pid) - cpu0
    n = sum(c.done for c in conns) - base
    for c in conns:
        sel.unregister(c.sock)
        c.sock.close()
    return n / wall, cpu / n * 1e6, cpu / wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=3.0, help="measuring time per case")
    p.add_argument("--depth", type=int, default=64, help="requests per pipelined window")
    p.add_argument("--connections", type=int, default=8, help="connections of the 'many' cases")
    p.add_argument("--keys", type=int, default=6144)
    p.add_argument("--value-size", type=int, default=100)
    args = p.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; depth {args.depth}, "
          f"{args.seconds:.0f}s per case, value {args.value_size} B")
    print(f"{'case':<28}{'req/s':>10}{'server CPU us/req':>20}{'server CPU use':>16}")
    results = {}
    with Onebox(tables={"temp": 8}) as ob:
        sets = build_frames(ob, "set", args.keys, args.value_size)
        gets = build_frames(ob, "get", args.keys, args.value_size)
        for op, frames in (("set", sets), ("get", gets)):  # sets first: gets then hit real records
            for label, conns in (("1 connection", 1), (f"{args.connections} connections", args.connections)):
                rate, us, use = drive(ob, frames, conns, args.depth, args.seconds)
                results[(op, conns)] = rate
                print(f"{op + ', ' + label:<28}{rate:>10,.0f}{us:>20.1f}{use:>16.2f}")
        errors = ob.counters()["errors"]
    if errors:
        print(f"frame errors seen: {errors}", file=sys.stderr)
        return 1
    best_get = max(v for (op, _), v in results.items() if op == "get")
    verdict = "meets" if best_get >= GOAL_GET_PER_S else "MISSES"
    print(f"best get throughput {best_get:,.0f}/s {verdict} the goal of {GOAL_GET_PER_S:,}/s on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
