#!/usr/bin/env python
"""Client-process CPU per operation: pegload.client vs pypegasus3 vs a raw gevent socket loop.

    .venv/bin/python bench/client.py                  # canned-reply server, then the onebox
    .venv/bin/python bench/client.py --server canned --quick
    .venv/bin/python bench/client.py --no-io          # the client's own path, no sockets

For every (server, client, operation, mode) a fresh child process connects, warms up, then runs
the same operation sequence and reports the user+sys CPU time of its own process per operation
(``getrusage(RUSAGE_SELF)``), so neither the server's CPU nor start-up costs are counted.
Operations: get, set, multi_get of 10 sort keys, a 1,000-record scan (one op = the whole scan).
Modes: ``seq`` (one call at a time) and ``pipe`` (64 greenlets / 64 Deferreds in flight).
The raw loop (get only) sends pre-encoded GET frames and counts replies by their length prefix
without decoding them: the floor any Python gevent client pays for syscalls and wake-ups.

Servers: ``canned`` is pegload.client.testing's canned-reply server in its own process (it
answers from precomputed bytes, so it keeps up); ``onebox`` is the embedded cluster (RocksDB
behind it; its answers are slower, which shows up in wall time, not in client CPU).

``--no-io`` measures what is left of a call without sockets and switches: ``Table.get`` /
``set`` / ``multi_get`` over a connection stub (the pool's connection factory) that returns a
canned reply at once, so routing, encoding, the call path and reply reading are all that run.
It reports the best of many short rounds of this process's CPU time (``time.process_time``),
which stays steady on a shared machine where the socket figures move by 10-30%: the figure to
compare before and after a change to the hot path.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HK = b"bench_hk"
SK = b"bench_sk"
VALUE = b"v" * 100
MG_KEYS = [b"mg%02d" % i for i in range(10)]
SCAN_HK = b"bench_scan"
SCAN_N = 1000
PIPE = 64

# operations per measurement: (seq, pipe) per op, scaled by --quick
COUNTS = {"get": (20000, 128000), "set": (20000, 128000), "multi_get": (10000, 64000),
          "scan": (100, 640)}
SLOW = {"pypegasus3": 0.25}  # fewer ops for the slow client, to keep the run short


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ------------------------------------------------------------------------------ child drivers
def run_pegload(meta: str, op: str, mode: str, n: int) -> tuple[float, float]:
    import gevent

    from pegload.client import Pegasus

    c = Pegasus([meta], "temp", timeout=10000)
    assert c.init(), "pegload client could not init"
    mg = set(MG_KEYS)

    def one():
        if op == "get":
            code, v = c.get(HK, SK)
            return code == 0 and len(v) == len(VALUE)
        if op == "set":
            return c.set(HK, SK, VALUE)[0] == 0
        if op == "multi_get":
            code, kvs = c.multi_get(HK, mg)
            return code == 0 and len(kvs) == 10
        k = 0
        for _ in c.get_scanner(SCAN_HK, b"", b""):
            k += 1
        return k == SCAN_N

    assert one(), f"pegload {op} gave a wrong answer"

    def loop(k: int) -> None:
        for _ in range(k):
            if not one():
                raise RuntimeError(f"pegload {op} failed during the run (is the server alive?)")

    def measure(k: int) -> tuple[float, float]:
        c0, w0 = cpu(), time.perf_counter()
        if mode == "seq":
            loop(k)
        else:
            gevent.joinall([gevent.spawn(loop, k // PIPE) for _ in range(PIPE)], raise_error=True)
        return cpu() - c0, time.perf_counter() - w0

    measure(max(n // 10, PIPE))  # warm-up
    result = measure(n)
    c.close()
    return result


def run_pypegasus(meta: str, op: str, mode: str, n: int) -> tuple[float, float]:
    os.chdir(tempfile.mkdtemp(prefix="pypegasus-bench-"))  # it writes pegasus.log into the cwd
    from pypegasus.pgclient import Pegasus
    from pypegasus.utils.tools import ScanOptions
    from twisted.internet import defer, reactor

    out = {}
    hk, sk, mg = HK.decode(), SK.decode(), {k.decode() for k in MG_KEYS}

    @defer.inlineCallbacks
    def one():
        if op == "get":
            code, v = yield c.get(hk, sk)
            return code == 0 and len(v) == len(VALUE)
        if op == "set":
            code, _ = yield c.set(hk, sk, VALUE)
            return code == 0
        if op == "multi_get":
            code, kvs = yield c.multi_get(hk, mg)
            return code == 0 and len(kvs) == 10
        s = c.get_scanner(SCAN_HK.decode(), "", "\xff", ScanOptions())
        k = 0
        while (yield s.get_next()) is not None:
            k += 1
        return k == SCAN_N

    @defer.inlineCallbacks
    def loop(k):
        for _ in range(k):
            if not (yield one()):
                raise RuntimeError(f"pypegasus3 {op} failed during the run")

    @defer.inlineCallbacks
    def measure(k):
        c0, w0 = cpu(), time.perf_counter()
        if mode == "seq":
            yield loop(k)
        else:
            yield defer.DeferredList([loop(k // PIPE) for _ in range(PIPE)], fireOnOneErrback=True)
        return cpu() - c0, time.perf_counter() - w0

    @defer.inlineCallbacks
    def main():
        try:
            ok = yield c.init()
            assert ok is True, f"pypegasus3 init failed: {ok}"
            assert (yield one()), f"pypegasus3 {op} gave a wrong answer"
            yield measure(max(n // 10, PIPE))
            out["r"] = yield measure(n)
        except BaseException as e:  # report, then stop the reactor
            out["error"] = repr(e)
        finally:
            c.close()
            reactor.stop()

    c = Pegasus([meta], "temp", 10000)
    reactor.callWhenRunning(main)
    reactor.run()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["r"]


def run_raw(meta: str, op: str, mode: str, n: int) -> tuple[float, float]:
    """Pre-encoded GET frames over a gevent socket; replies counted by length, not decoded."""
    import struct

    from gevent import socket

    from pegload.client import wire
    from pegload.client.table import Table

    if op != "get":
        raise ValueError("the raw loop only does get")
    t = Table([meta], "temp")
    cfg = t.open()
    key = wire.encode_key(HK, SK)
    h = wire.key_hash(key)
    pidx = cfg.partition_of(h)
    host, port = cfg.primaries[pidx].rsplit(":", 1)
    t.close()
    frames = [wire.encode_request(wire.RPC_GET, i + 1, key, app_id=cfg.app_id, partition_index=pidx,
                                  client_timeout=10000, partition_hash=h) for i in range(PIPE)]
    batch = b"".join(frames)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    unpack = struct.Struct(">i").unpack_from

    def read_replies(count: int, buf: bytes) -> bytes:
        while True:
            pos = 0
            while count and len(buf) - pos >= 4:
                size = unpack(buf, pos)[0]
                if len(buf) - pos < size:
                    break
                pos += size
                count -= 1
            buf = buf[pos:]
            if not count:
                return buf
            data = sock.recv(262144)
            if not data:
                raise ConnectionError("server closed the connection")
            buf += data

    def measure(k: int) -> tuple[float, float]:
        c0, w0 = cpu(), time.perf_counter()
        buf = b""
        if mode == "seq":
            frame = frames[0]
            for _ in range(k):
                sock.sendall(frame)
                buf = read_replies(1, buf)
        else:
            for _ in range(k // PIPE):
                sock.sendall(batch)
                buf = read_replies(PIPE, buf)
        return cpu() - c0, time.perf_counter() - w0

    measure(max(n // 10, PIPE))
    r = measure(n)
    sock.close()
    return r


DRIVERS = {"pegload": run_pegload, "pypegasus3": run_pypegasus, "raw": run_raw}


# ------------------------------------------------------------------------------ ablations
# Each undoes one optimisation of pegload.client inside the child process only (the library
# keeps one code path); ``--ablations`` measures get with and without each of them.
def ablate_codec() -> None:
    """Generic codec: encode_request/decode_response instead of the precomputed fast path."""
    from pegload.client import callpath as cp
    from pegload.client import table as t
    from pegload.client import wire

    class Generic:
        rpc_name = wire.RPC_GET

        def blob(self, seqid, blob, app_id, pidx, timeout, phash):
            return wire.encode_request(wire.RPC_GET, seqid, blob, app_id=app_id, partition_index=pidx,
                                       client_timeout=timeout, partition_hash=phash)

    t._GET = Generic()
    t.read_response_value = lambda frame, offset: None
    cp.reply_result = lambda frame, offset, cls, ack: wire.decode_response(frame).result


def ablate_hash() -> None:
    """Byte-at-a-time CRC-64 and no per-table cache of hash-key hashes."""
    from pegload.client import table as t
    from pegload.client.wire.crc64 import TABLE

    def crc_bytewise(data):
        crc = 0xFFFFFFFFFFFFFFFF
        for b in data:
            crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFFFFFFFFFF

    t.Table._key_hash = lambda self, hk, sk: crc_bytewise(hk if hk else sk)


def ablate_coalescing() -> None:
    """One send() per request instead of one per event-loop turn."""
    from pegload.client import connection as cn

    def call(self, seqid, frame, deadline):
        if self._state is not cn._OPEN:
            self._open(deadline)
        waiter = cn.Waiter(self._hub)
        self.pending[seqid] = waiter
        self._sock.send(frame)
        timer = self._loop.timer(max(deadline - cn._monotonic(), 0.0))
        timer.start(waiter.switch, cn._TIMEOUT)
        try:
            reply = waiter.get()
        finally:
            timer.close()
        if reply.__class__ is bytes:
            return reply
        self.pending.pop(seqid, None)
        raise RuntimeError(f"bench call failed: {reply!r}")

    cn.Connection.call = call


def ablate_reader() -> None:
    """A reader greenlet that hands each reply to its caller through the hub, instead of the
    hub-side watcher callback switching straight into the caller."""
    import gevent

    from pegload.client import connection as cn

    def reader(conn, sock):
        watcher = conn._loop.io(sock.fileno(), 1)
        unpack, buf = cn._I32, b""
        while conn._sock is sock:
            conn._hub.wait(watcher)
            data = sock.recv(cn._RECV_SIZE)
            if not data:
                return
            data, pos = buf + data, 0
            while len(data) - pos >= 4 and len(data) - pos >= unpack(data, pos)[0]:
                n = unpack(data, pos)[0]
                p = pos + 8 + unpack(data, pos + 4)[0] + 4
                p += 4 + unpack(data, p)[0]
                w = conn.pending.pop(unpack(data, p)[0], None)
                if w is not None:
                    conn._loop.run_callback(w.switch, data[pos:pos + n])
                pos += n
            buf = data[pos:]

    opened = cn.Connection._open

    def _open(self, deadline):
        opened(self, deadline)
        if self._rwatch is not None:
            self._rwatch.close()
            self._rwatch = None
            gevent.spawn(reader, self, self._sock)

    cn.Connection._open = _open


# ------------------------------------------------------------------------------ no I/O
def bench_no_io(rounds: int = 40, n: int = 20000) -> dict:
    """ns of CPU per call of the client's own path over a stub connection (best of ``rounds``)."""
    from pegload.client import wire
    from pegload.client.table import Table
    from pegload.client.testing import reply_frame, table_config
    from pegload.client.wire import messages as m

    meta, replica = "127.0.0.1:1", "127.0.0.1:2"  # never connected: the stub answers

    def canned(rpc_name, result):
        return reply_frame(wire.Request(None, 1, rpc_name, 1, None), result)

    replies = {
        "get": canned(wire.RPC_GET, m.ReadResponse(0, VALUE, 1, 0)),
        "set": canned(wire.RPC_PUT, m.UpdateResponse(0, 1, 0, 1)),
        "multi_get": canned(wire.RPC_MULTI_GET,
                            m.MultiGetResponse(0, [m.KeyValue(k, VALUE) for k in MG_KEYS], 1, 0)),
    }

    class Stub:
        """Connection's public surface; ``call`` returns ``reply`` (the seqid is not checked
        by the client's reply path, which the reader matched already)."""

        def __init__(self, address, on_reconnect):
            self.address, self.pending, self.generation, self.is_open = address, {}, 1, True
            self.seqid = 0
            self.reply = canned(wire.RPC_QUERY_CFG, table_config(1, [replica] * 8))

        def next_seqid(self):
            self.seqid += 1
            return self.seqid

        def call(self, seqid, frame, deadline):
            return self.reply

        def connect(self, deadline):
            pass

        def retire(self):
            pass

        def close(self):
            pass

    t = Table([meta], "temp", connection_factory=Stub)
    t.open()
    stub = t.pool.get(replica)
    mg = set(MG_KEYS)
    calls = {"get": lambda: t.get(HK, SK), "set": lambda: t.set(HK, SK, VALUE),
             "multi_get": lambda: t.multi_get(HK, mg)}
    out = {}
    for op, fn in calls.items():
        stub.reply = replies[op]
        best = float("inf")
        for _ in range(rounds):
            c0 = time.process_time()
            for _ in range(n):
                fn()
            best = min(best, (time.process_time() - c0) / n * 1e9)
        out[op] = best
    return out


ABLATIONS = {"generic-codec": ablate_codec, "bytewise-crc-no-cache": ablate_hash,
             "send-per-call": ablate_coalescing, "reader-greenlet": ablate_reader}


def child_main(args) -> int:
    for name in filter(None, (args.ablate or "").split(",")):
        ABLATIONS[name]()
    cpu_s, wall_s = DRIVERS[args.child](args.meta, args.op, args.mode, args.n)
    print(json.dumps({"cpu_us": cpu_s / args.n * 1e6, "wall_us": wall_s / args.n * 1e6, "n": args.n}))
    return 0


# ------------------------------------------------------------------------------ parent
def serve_canned() -> int:
    """The canned-reply server of pegload.client.testing, as this script's own child."""
    import gevent

    from pegload.client.testing import CannedServer

    server = CannedServer(value=VALUE).start()
    print(server.address, flush=True)
    gevent.wait()
    return 0


# With two or more CPUs the server runs on CPU 1 and the measured clients on CPU 0: on a small
# machine, migrations between cores otherwise dominate the variance of the sequential figures.
PINNED = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
SERVER_CPUS, CLIENT_CPUS = {1}, {0}


def pin(pid: int, cpus: set) -> None:
    if PINNED:
        os.sched_setaffinity(pid, cpus)


def start_canned() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-canned"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    pin(proc.pid, SERVER_CPUS)
    line = proc.stdout.readline().strip()
    if not line:
        raise RuntimeError("canned server did not start")
    return proc, line


def prefill(meta: str) -> None:
    from pegload.client.table import Table

    t = Table([meta], "temp", timeout_ms=10000)
    t.open()
    t.set(HK, SK, VALUE)
    t.multi_set(HK, {k: VALUE for k in MG_KEYS})
    for i in range(0, SCAN_N, 100):
        t.multi_set(SCAN_HK, {b"sk%06d" % j: VALUE for j in range(i, i + 100)})
    t.close()


def run_child(client: str, meta: str, op: str, mode: str, n: int, ablate: str = "") -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", client, "--meta", meta,
           "--op", op, "--mode", mode, "--n", str(n), "--ablate", ablate]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900,
                       preexec_fn=(lambda: pin(0, CLIENT_CPUS)) if PINNED else None)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_server(name: str, meta: str, clients: list[str], ops: list[str], scale: float) -> list:
    rows = []
    for op in ops:
        for mode in ("seq", "pipe"):
            for client in clients:
                if client == "raw" and op != "get":
                    continue
                n = COUNTS[op][mode == "pipe"] * scale * SLOW.get(client, 1.0)
                n = max(int(n) // PIPE * PIPE, PIPE)
                r = run_child(client, meta, op, mode, n)
                rows.append((name, op, mode, client, r))
                if "error" in r:
                    print(f"{name:7} {op:9} {mode:4} {client:11} ERROR {r['error']}", flush=True)
                else:
                    print(f"{name:7} {op:9} {mode:4} {client:11} {r['cpu_us']:9.1f} us CPU/op "
                          f"{r['wall_us']:9.1f} us wall/op  (n={r['n']})", flush=True)
    return rows


def bench_ablations(meta: str, scale: float, repeat: int = 3) -> None:
    """get, seq and pipe: pegload as shipped vs with each optimisation undone (median of runs)."""
    print(f"\nablations (canned server, get; median of {repeat} runs, client CPU us/op):")
    for mode in ("seq", "pipe"):
        n = max(int(COUNTS["get"][mode == "pipe"] * scale) // PIPE * PIPE, PIPE)
        for name in ["", *ABLATIONS]:
            runs = [run_child("pegload", meta, "get", mode, n, name) for _ in range(repeat)]
            if any("error" in r for r in runs):
                print(f"  get {mode:4} {name or 'as shipped':22} ERROR {runs[0].get('error')}", flush=True)
                continue
            cpu_us = sorted(r["cpu_us"] for r in runs)
            print(f"  get {mode:4} {name or 'as shipped':22} {cpu_us[len(cpu_us) // 2]:7.1f}", flush=True)


def summary(rows: list) -> None:
    by = {(s, o, m, c): r for s, o, m, c, r in rows if "error" not in r}
    print("\nratios (client CPU per op):")
    for s, o, m in sorted({k[:3] for k in by}):
        base = by.get((s, o, m, "pegload"))
        if not base:
            continue
        parts = []
        for other in ("raw", "pypegasus3"):
            r = by.get((s, o, m, other))
            if r:
                parts.append(f"pegload/{other} = {base['cpu_us'] / r['cpu_us']:.2f}")
        if parts:
            print(f"  {s:7} {o:9} {m:4} " + ", ".join(parts))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=("canned", "onebox", "both"), default="both")
    p.add_argument("--clients", default="pegload,pypegasus3,raw")
    p.add_argument("--ops", default="get,set,multi_get,scan")
    p.add_argument("--quick", action="store_true", help="a tenth of the operations")
    p.add_argument("--ablations", action="store_true",
                   help="only measure get with each client optimisation undone (canned server)")
    p.add_argument("--no-io", action="store_true",
                   help="only the client's own path over a connection stub (CPU ns per call)")
    p.add_argument("--ablate", help=argparse.SUPPRESS)
    p.add_argument("--serve-canned", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", choices=sorted(DRIVERS), help=argparse.SUPPRESS)
    p.add_argument("--meta", help=argparse.SUPPRESS)
    p.add_argument("--op", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_canned:
        return serve_canned()
    if args.child:
        return child_main(args)
    sys.path.insert(0, ROOT)
    clients = args.clients.split(",")
    ops = args.ops.split(",")
    scale = 0.1 if args.quick else 1.0
    print(f"pegload client bench: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"{'server on CPU 1, clients on CPU 0' if PINNED else 'not pinned'}; "
          f"columns: client-process user+sys CPU per op, wall time per op", flush=True)
    rows = []
    if args.no_io:
        for op, ns in bench_no_io(n=2000 if args.quick else 20000).items():
            print(f"no-io   {op:9} {ns:7.0f} ns CPU/call (best round)", flush=True)
        return 0
    if args.ablations:
        proc, addr = start_canned()
        try:
            bench_ablations(addr, scale)
        finally:
            proc.kill()
            proc.wait()
        return 0
    if args.server in ("canned", "both"):
        proc, addr = start_canned()
        try:
            rows += bench_server("canned", addr, clients, ops, scale)
        finally:
            proc.kill()
            proc.wait()
    if args.server in ("onebox", "both"):
        from pegload.onebox import Onebox

        with Onebox(tables={"temp": 8}, log_level="ERROR") as ob:
            pin(ob.pid, SERVER_CPUS)
            prefill(ob.meta_addrs[0])
            rows += bench_server("onebox", ob.meta_addrs[0], clients, ops, scale)
    summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
