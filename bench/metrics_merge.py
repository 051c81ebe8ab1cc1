"""Coordinator cost of merging worker interval snapshots (issue 2 goal: < 5% of one core for
8 workers x 6 ops per 1 s interval), plus the worker-side costs it depends on.

    .venv/bin/python bench/metrics_merge.py [--workers 8] [--ops 6] [--rate 2000] [--intervals 30]

Snapshots are built the way workers build them (IntervalRecorder with lognormal latencies around
400 µs, a 1% tail of 5-50 ms, open-loop lateness), serialized with to_bytes(), then fed to a
RunAccumulator exactly as the coordinator does: from_bytes() + add() per worker per interval,
including closing each interval (percentiles, .hlog encoding, totals). CPU time is process time,
so other load on the (shared, noisy) machine does not count; the baseline line measures a tight
Python loop in the same run so figures can be compared across machines.
"""
from __future__ import annotations

import argparse
import math
import random
import time

from pegload.metrics import IntervalRecorder, IntervalSnapshot, RunAccumulator

OPS = ("get", "set", "multi_get", "multi_set", "remove", "get_scanner")


def build_snapshots(workers: int, ops: int, rate: int, intervals: int, seed: int = 7) -> list[list[bytes]]:
    rng = random.Random(seed)
    out = []
    for k in range(intervals):
        row = []
        for w in range(workers):
            rec = IntervalRecorder(w)
            for op in OPS[:ops]:
                r = rec.op("run", op)
                for _ in range(rate):
                    service = int(math.exp(rng.gauss(math.log(400), 0.5)))
                    if rng.random() < 0.01:
                        service += rng.randrange(5_000, 50_000)
                    late = int(rng.expovariate(1 / 300))
                    r.record(service + late, service, late, "ok" if rng.random() > 0.001 else "ERR_TIMEOUT")
            row.append(rec.snapshot_and_reset(1000.0 + k, 1001.0 + k).to_bytes())
        out.append(row)
    return out


def baseline_loop_us() -> float:
    """CPU µs for 1M iterations of a trivial Python loop: the machine-speed yardstick."""
    t = time.process_time()
    x = 0
    for i in range(1_000_000):
        x += i
    return (time.process_time() - t) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--ops", type=int, default=6)
    ap.add_argument("--rate", type=int, default=2000, help="samples per op per worker per interval")
    ap.add_argument("--intervals", type=int, default=30)
    args = ap.parse_args()

    snaps = build_snapshots(args.workers, args.ops, args.rate, args.intervals)
    size = sum(len(b) for row in snaps for b in row) / (args.intervals * args.workers)

    # worker side: one snapshot_and_reset() with data, then the encode/decode of the bytes
    rec = IntervalRecorder(0)
    rng = random.Random(1)
    vals = [int(math.exp(rng.gauss(math.log(400), 0.5))) for _ in range(args.rate)]
    t = time.process_time()
    for _ in range(20):
        for op in OPS[:args.ops]:
            r = rec.op("run", op)
            for v in vals:
                r.record(v, v, 0)
    record_us = (time.process_time() - t) * 1e6 / (20 * args.ops * len(vals))
    t = time.process_time()
    for _ in range(20):
        for op in OPS[:args.ops]:
            r = rec.op("run", op)
            for v in vals[:50]:
                r.record(v, v, 0)
        blob = rec.snapshot_and_reset(0.0, 1.0).to_bytes()
    snapshot_us = (time.process_time() - t) * 1e6 / 20
    t = time.process_time()
    for _ in range(200):
        IntervalSnapshot.from_bytes(blob)
    from_bytes_us = (time.process_time() - t) * 1e6 / 200

    acc = RunAccumulator(interval_s=1.0, workers=range(args.workers))
    acc.begin_phase("run", 1000.0)
    t = time.process_time()
    for row in snaps:
        for b in row:
            acc.add(IntervalSnapshot.from_bytes(b))
    acc.finish()
    merge_cpu = time.process_time() - t
    per_interval_ms = merge_cpu * 1e3 / args.intervals
    assert acc.totals("run", OPS[0]).count == args.rate * args.workers * args.intervals

    print(f"baseline: 1M-iteration Python loop = {baseline_loop_us():,.0f} µs CPU")
    print(f"worker: record() = {record_us:.2f} µs per op (3 histograms); "
          f"snapshot_and_reset()+to_bytes() with {args.ops} ops = {snapshot_us:,.0f} µs; "
          f"snapshot size ~{size:,.0f} bytes")
    print(f"coordinator: from_bytes() = {from_bytes_us:.0f} µs per snapshot")
    print(f"coordinator merge: {args.workers} workers x {args.ops} ops x 3 kinds, {args.rate} samples "
          f"per op per worker: {per_interval_ms:.1f} ms CPU per 1 s interval = "
          f"{per_interval_ms / 10:.2f}% of one core (goal < 5%)")


if __name__ == "__main__":
    main()
