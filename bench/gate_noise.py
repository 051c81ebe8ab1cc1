"""Run-to-run noise of the figures `pegload check` judges, on this machine, against the onebox.

    .venv/bin/python bench/gate_noise.py [--runs 6] [--seconds 5] [--greenlets 16] [--rate 0]

Starts one onebox, then runs the same small get/set workload ``--runs`` times, each in a fresh
worker process (a gevent client recording with pegload.metrics, as the harness does), and prints
per run throughput and response p50/p99/p99.9, then the worst pairwise ratio of each figure: the
change two *identical* runs show. The CI gate's default limits (docs/ci.md) must stay above these
ratios, or identical runs would fail the gate. ``--rate`` > 0 runs open loop at that total rate;
``--delay-ms 3`` shows what a 3 ms slower server does to the same figures.
"""
from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time

WORKER = r"""
from gevent import monkey; monkey.patch_all()
import json, sys, time, random, gevent
from pegload.client import Pegasus
from pegload.metrics import IntervalRecorder, RunAccumulator
meta, seconds, greenlets, rate = json.loads(sys.argv[1])
client = Pegasus(meta, "temp")
assert client.init(), "onebox not reachable"
rec = IntervalRecorder(0)
gets, sets = rec.op("run", "get"), rec.op("run", "set")
keys = [b"k%04d" % i for i in range(1000)]
for k in keys[:200]:
    client.set(k, b"s", b"v" * 100)
start = time.perf_counter_ns()
end = start + int(seconds * 1e9)
per_greenlet_gap = int(greenlets / rate * 1e9) if rate else 0  # ints: record() takes int µs

def loop(i):
    rng = random.Random(i)
    intended = start + i * per_greenlet_gap // greenlets
    while True:
        if rate:
            now = time.perf_counter_ns()
            if intended > now:
                gevent.sleep((intended - now) / 1e9)
        t0 = time.perf_counter_ns()
        if t0 >= end:
            return
        origin = intended if rate else t0
        key = keys[rng.randrange(200)]
        if rng.random() < 0.9:
            code, _ = client.get(key, b"s")
            op = gets
        else:
            code, _ = client.set(key, b"s", b"v" * 100)
            op = sets
        t1 = time.perf_counter_ns()
        op.record((t1 - origin) // 1000, (t1 - t0) // 1000, max(t0 - origin, 0) // 1000,
                  "ok" if code == 0 else ("miss" if code == 1 else str(code)))
        intended += per_greenlet_gap

gevent.joinall([gevent.spawn(loop, i) for i in range(greenlets)])
elapsed = (time.perf_counter_ns() - start) / 1e9
acc = RunAccumulator(workers=[0])
acc.add(rec.snapshot_and_reset(0.0, elapsed))
acc.finish()
out = {}
for op in ("get", "set"):
    t = acc.totals("run", op)
    p = t.hist("response").percentiles([50, 99, 99.9])
    out[op] = {"throughput": t.count / seconds, "p50": p[50], "p99": p[99], "p999": p[99.9]}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--greenlets", type=int, default=16)
    ap.add_argument("--rate", type=float, default=0.0, help="total ops/s (open loop); 0 = closed loop")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="onebox injected latency (what the gate must catch)")
    args = ap.parse_args()
    from pegload.onebox import Onebox

    results = []
    with Onebox(tables={"temp": 8}, log_level="WARNING", delay_ms=args.delay_ms) as ob:
        for i in range(args.runs):
            t = time.time()
            done = subprocess.run([sys.executable, "-c", WORKER, json.dumps(
                [ob.meta_addrs, args.seconds, args.greenlets, args.rate])], capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"run {i} failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            get = results[-1]["get"]
            print(f"run {i}: get {get['throughput']:,.0f} ops/s p50 {get['p50']} µs p99 {get['p99']} µs "
                  f"p99.9 {get['p999']} µs ({time.time() - t:.1f} s)")
    for op in ("get", "set"):
        for figure in ("throughput", "p50", "p99", "p999"):
            values = [r[op][figure] for r in results]
            worst = max(max(a, b) / min(a, b) for a, b in itertools.combinations(values, 2) if min(a, b) > 0)
            print(f"{op}.{figure}: min {min(values):,.0f} max {max(values):,.0f} "
                  f"worst pair differs by {(worst - 1) * 100:.0f}%")


if __name__ == "__main__":
    main()
