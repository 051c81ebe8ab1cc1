"""Coordinator cost of a distributed run, and the traffic between the coordinator and an agent.

    PYTHONPATH=$PWD .venv/bin/python bench/coordinator_merge.py [--agents 64] [--workers 8] [--ops 6]

1. Merge cost (issue 10 goal: 64 agents x 8 workers x 6 ops at 1 s intervals under 50% of one
   core). Worker snapshots are built as in bench/metrics_merge.py (lognormal latencies, a 1% tail,
   open-loop lateness), framed as the workers send them, and fed through what the coordinator does
   per frame: FrameReader decode, IntervalSnapshot.from_bytes, RunAccumulator.add (interval closing
   included). Measured in the same run: the local path (no launcher), the same with the general
   histogram decode (one HdrHistogram allocated per snapshot histogram, as before the scratch
   decode in LatencyHistogram.add_encoded), and the Dask path, which also passes every frame
   through DaskLauncher.inbound (clock correction + the agent's book: op counts and lateness).
   CPU is process time; the 1M-iteration loop is the machine yardstick.
2. Traffic per agent: bytes of one worker's Interval frame with 10 ops x 3 kinds, for several
   sample counts per op per interval, plus the control channel (heartbeats, clock pings).
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_merge import OPS, baseline_loop_us

from pegload.distributed.clock import ClockOffset
from pegload.distributed.control import BEAT_S
from pegload.distributed.control import encode as control_encode
from pegload.distributed.launcher import PING_EVERY_S, DaskLauncher, _AgentLink
from pegload.metrics import IntervalRecorder, IntervalSnapshot, RunAccumulator
from pegload.runner.protocol import FrameReader, Interval, encode

TEN_OPS = (*OPS, "multi_remove", "incr", "check_and_set", "sortkey_count")


def snapshot(worker: int, ops: tuple[str, ...], samples: int, rng: random.Random, t: float) -> IntervalSnapshot:
    rec = IntervalRecorder(worker)
    for op in ops:
        r = rec.op("run", op)
        for _ in range(samples):
            service = int(math.exp(rng.gauss(math.log(400), 0.5)))
            if rng.random() < 0.01:
                service += rng.randrange(5_000, 50_000)
            late = int(rng.expovariate(1 / 300))
            r.record(service + late, service, late, "ok" if rng.random() > 0.001 else "ERR_TIMEOUT")
    return rec.snapshot_and_reset(t, t + 1.0)


def frames(agents: int, workers: int, ops: int, samples: int, intervals: int) -> list[bytes]:
    """One byte string per interval: every worker's Interval frame, as the pool would read them."""
    rng = random.Random(7)
    templates = [snapshot(0, OPS[:ops], samples, rng, 0.0) for _ in range(16)]
    out = []
    for k in range(intervals):
        chunk = []
        for w in range(agents * workers):
            snap = replace(templates[(w + k) % len(templates)], worker_id=w, t_start=1000.0 + k, t_end=1001.0 + k)
            chunk.append(encode(Interval(w, 0, {}, snap.to_bytes())))
        out.append(b"".join(chunk))
    return out


def merge(data: list[bytes], total_workers: int, launcher: DaskLauncher | None) -> tuple[float, RunAccumulator]:
    acc = RunAccumulator(interval_s=1.0, workers=range(total_workers))
    acc.begin_phase("run", 1000.0)
    reader = FrameReader()
    t = time.process_time()
    for chunk in data:
        for msg in reader.feed(chunk):
            if launcher is not None:
                msg = launcher.inbound(msg.worker_id, msg)
            acc.add(IntervalSnapshot.from_bytes(msg.blob))
    acc.finish()
    return time.process_time() - t, acc


def dask_launcher(agents: int, workers: int) -> DaskLauncher:
    """A launcher with its agent links as after start (no cluster: only inbound() is used)."""
    launcher = DaskLauncher("tcp://127.0.0.1:1")
    for i in range(agents):
        link = _AgentLink(i, f"tcp://10.0.0.{i}:8786", tuple(range(i * workers, (i + 1) * workers)), launcher.grid)
        link.clock = ClockOffset(0.000250, 0.000050, 0.000100, 8)
        launcher.links.append(link)
        for w in link.worker_ids:
            launcher.by_worker[w] = link
    return launcher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8, help="workers per agent")
    ap.add_argument("--ops", type=int, default=6)
    ap.add_argument("--samples", type=int, default=1000, help="samples per op per worker per interval")
    ap.add_argument("--intervals", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each path; medians are printed")
    args = ap.parse_args()
    total = args.agents * args.workers

    data = frames(args.agents, args.workers, args.ops, args.samples, args.intervals)
    local, dask = [], []
    for _ in range(args.repeat):
        cpu, acc = merge(data, total, None)
        local.append(cpu)
        assert acc.totals("run", OPS[0]).count == args.samples * total * args.intervals
        launcher = dask_launcher(args.agents, args.workers)
        cpu, acc = merge(data, total, launcher)
        dask.append(cpu)
        assert acc.totals("run", OPS[0]).count == sum(
            link.book.recorded("run", OPS[0]) for link in launcher.links)
    from pegload.metrics import histogram

    fast = histogram._fast_add
    histogram._fast_add = lambda h, data: False  # the general path: decode() + add()
    try:
        general = merge(data, total, None)[0] / args.intervals
    finally:
        histogram._fast_add = fast
    med_local = sorted(local)[len(local) // 2] / args.intervals
    med_dask = sorted(dask)[len(dask) // 2] / args.intervals
    print(f"baseline: 1M-iteration Python loop = {baseline_loop_us():,.0f} µs CPU")
    print(f"merge, {args.agents} agents x {args.workers} workers x {args.ops} ops x 3 kinds, {args.samples} "
          f"samples per op per worker, 1 s intervals (median of {args.repeat}):")
    print(f"  local path (decode + merge):            {med_local * 1e3:7.1f} ms CPU per interval = "
          f"{med_local * 100:5.1f}% of one core")
    print(f"  local path, general decode (1 run):     {general * 1e3:7.1f} ms CPU per interval = "
          f"{general * 100:5.1f}% of one core; {general / med_local:.2f}x the scratch decode")
    print(f"  dask path (+ clock fix + agent's book): {med_dask * 1e3:7.1f} ms CPU per interval = "
          f"{med_dask * 100:5.1f}% of one core (goal < 50%); {med_dask / med_local:.2f}x the local path")
    print(f"  per agent of {args.workers} workers: {med_dask / args.agents * 1e3:.2f} ms CPU per interval")

    print("traffic, one worker, 10 ops x 3 kinds, 1 s intervals (Interval frame bytes):")
    rng = random.Random(3)
    beat = len(control_encode({"t": "beat", "cpu": {str(w): 1234.56 for w in range(args.workers)}}))
    ping = len(control_encode({"t": "ping", "seq": 12345, "t0": time.time()}))
    pong = len(control_encode({"t": "pong", "seq": 12345, "t0": time.time(), "t1": time.time(), "t2": time.time()}))
    control_bps = beat / BEAT_S + (ping + pong) / PING_EVERY_S
    for samples in (10, 100, 1_000, 10_000, 50_000):
        size = len(encode(Interval(0, 0, {}, snapshot(0, TEN_OPS, samples, rng, 0.0).to_bytes())))
        print(f"  {samples:>6,} samples per op: {size:7,} B per worker per s; agent of {args.workers} "
              f"workers: {(size * args.workers + control_bps) / 1024:6.1f} KiB/s")
    print(f"  control channel per agent: {control_bps:.0f} B/s (beat {beat} B every {BEAT_S:g} s, "
          f"ping {ping} B + pong {pong} B every {PING_EVERY_S:g} s); selfcheck dicts not included")


if __name__ == "__main__":
    main()
