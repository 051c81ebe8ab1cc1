#!/usr/bin/env python
"""The harness's own cost: one worker under `pegload run` vs a bare client loop, and the
coordinator's CPU for merging intervals.

    .venv/bin/python bench/harness.py                    # both parts, 3 rounds of 5 s
    .venv/bin/python bench/harness.py --part worker --seconds 10 --rounds 5
    .venv/bin/python bench/harness.py --part coordinator
    .venv/bin/python bench/harness.py --part generator   # the op stream alone, in process
    .venv/bin/python bench/harness.py --part ab --against /path/to/other/checkout --rounds 8

worker: the server is pegload.client.testing's canned-reply server in its own process (it
answers from precomputed bytes, so the client side is the bottleneck and its cost shows). The
same closed-loop `get` load (1 process, 16 greenlets, uniform keys over 10,000 records) runs
  - under the harness: `pegload run` with 1 worker (key generation, op dispatch, three
    histograms per op, interval snapshots, self-check probe, coordinator link);
  - as bare loops: over the client's facade (``Pegasus.get``) cycling through pre-built keys (the
    floor: no key generation at all), the same with a random key made per call (what a user's
    script does: "bare random"), over its typed core (``Pegasus.table.get``, what the
    harness calls) with pre-built keys ("bare core"), and over the typed core with the
    harness's own op generator (``pegload.workload``) but nothing else of the harness ("bare
    generator": the difference to the harness is the runner, recording and coordination).
Each reports ops/s and the CPU its process used per op (user+sys); every round runs all five
back to back so machine noise hits them alike. The overhead of the harness over a loop is the
median over rounds of (harness CPU/op / loop CPU/op - 1), each ratio taken within one round.
Goal: harness overhead <= 15% over "bare random" (the loop a user would write).

ab: a change's cost to the hot path. The harness run above under this checkout and under another
one (``--against``: e.g. main before the change, from ``git worktree add`` or ``git archive``),
back to back in alternating order in every round; the figure is the median over rounds of
(this CPU/op / other CPU/op - 1), so machine drift cancels as far as it can.

coordinator: 8 synthetic workers x 6 ops, each op with ~2,000 latency samples per interval in
each of the three histograms, encoded exactly as workers send them. The coordinator's path per
interval (frame decode, snapshot decode, histogram merge, interval close with percentiles and
hlog encoding, progress line) is timed in this process over ``--intervals`` intervals; the CPU
per 1 s interval is the fraction of a core the live merge costs. Goal: < 5% of a core.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GREENLETS = 16
HASH_KEYS, SORT_KEYS = 1000, 10
BASELINE = "bare random"  # the loop a user would write: the goal's reference
GOAL = 0.15  # harness CPU per op at most 15% over it

BARE_LOOP = r"""
from gevent import monkey; monkey.patch_all()
import json, random, resource, sys, time
import gevent
from pegload.client import Pegasus
meta, seconds, greenlets, api, hash_keys, sort_keys, scenario = json.loads(sys.argv[1])
client = Pegasus([meta], "temp")
assert client.init()
rng = random.Random(1)
keys = [(b"hk%08d" % rng.randrange(hash_keys), b"sk%05d" % rng.randrange(sort_keys)) for _ in range(65536)]
call = client.table.get if api.startswith("core") else client.get
done = [0]

def loop(g, until):
    i = g * 4096
    while time.perf_counter() < until:
        hk, sk = keys[i & 65535]
        call(hk, sk)
        i += 1
        done[0] += 1

phase_workload = None

def generator_loop(g, until):  # the harness's own op stream, without the harness around it
    global phase_workload
    if phase_workload is None:  # one per worker, shared by its greenlets (as the runner does)
        from pegload.scenario import load_scenario_text
        from pegload.workload import WorkerWorkload
        phase_workload = WorkerWorkload(load_scenario_text(scenario, "bench.yaml"), 0).phase(0)
    next_op = phase_workload.generator(g).next_op
    while time.perf_counter() < until:
        op = next_op()
        call(op.hash_key, op.sort_key)
        done[0] += 1

def random_loop(g, until):  # what a user's script does: a random key per call
    r = random.Random(g).randrange
    while time.perf_counter() < until:
        call(b"hk%08d" % r(hash_keys), b"sk%05d" % r(sort_keys))
        done[0] += 1

for hk, sk in keys[:200]:  # warm-up: connections, caches
    call(hk, sk)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
body = {"facade-random": random_loop, "core-generator": generator_loop}.get(api, loop)
gevent.joinall([gevent.spawn(body, g, t0 + seconds) for g in range(greenlets)])
c1, t1 = cpu(), time.perf_counter()
print(json.dumps({"ops": done[0], "wall_s": t1 - t0, "cpu_s": c1 - c0}))
"""



def scenario_text(seconds: float) -> str:
    return textwrap.dedent(f"""\
        workers: 1
        concurrency: {GREENLETS}
        load: false
        data: {{hash_keys: {HASH_KEYS}, sort_keys: {SORT_KEYS}}}
        phases:
          - name: run
            warmup: 0.5s
            duration: {seconds}s
            keys: uniform
            mix: {{get: 1}}
        """)


def start_canned() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "pegload.client.testing", "--canned"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline().strip()
    if not line:
        raise RuntimeError("the canned server did not start")
    return proc, line


def bare(meta: str, seconds: float, api: str) -> dict:
    out = subprocess.run([sys.executable, "-c", BARE_LOOP,
                          json.dumps([meta, seconds, GREENLETS, api, HASH_KEYS, SORT_KEYS, scenario_text(seconds)])],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    r = json.loads(out.stdout)
    return {"ops_s": r["ops"] / r["wall_s"], "cpu_us_op": r["cpu_s"] / r["ops"] * 1e6, "cpu": r["cpu_s"] / r["wall_s"]}


def harness(meta: str, seconds: float, tmp: str, tree: str | None = None) -> dict:
    """`pegload run` of the bench scenario; ``tree``: run that checkout's pegload instead."""
    path = os.path.join(tmp, "bench.yaml")
    with open(path, "w") as f:
        f.write(scenario_text(seconds))
    out_dir = os.path.join(tmp, f"run-{time.monotonic_ns()}")
    env = None if tree is None else {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    subprocess.run([sys.executable, "-m", "pegload.cli", "run", path, "--meta", meta, "--table", "temp",
                    "--report-dir", out_dir, "--quiet"], capture_output=True, text=True, cwd=tmp, env=env)
    with open(os.path.join(out_dir, "summary.json")) as f:
        s = json.load(f)
    phase = {p["name"]: p for p in s["phases"]}["run"]
    worker = s["self_check"]["phases"]["run"]["workers"]["0"]
    ops_s = phase["all"]["throughput"]
    # the worker's own CPU fraction (process_time over the measured intervals) per op
    return {"ops_s": ops_s, "cpu_us_op": worker["cpu_mean"] / ops_s * 1e6, "cpu": worker["cpu_mean"],
            "errors": phase["all"]["error_count"]}


def worker_part(seconds: float, rounds: int) -> dict:
    proc, meta = start_canned()
    results: dict[str, list[dict]] = {"harness": [], "bare facade": [], "bare random": [], "bare core": [],
                                      "bare generator": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                results["bare facade"].append(bare(meta, seconds, "facade"))
                results["harness"].append(harness(meta, seconds, tmp))
                results["bare random"].append(bare(meta, seconds, "facade-random"))
                results["bare core"].append(bare(meta, seconds, "core"))
                results["bare generator"].append(bare(meta, seconds, "core-generator"))
    finally:
        proc.kill()
        proc.wait()
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("ops_s", "cpu_us_op", "cpu")}
           for k, v in results.items()}
    # Paired per round: each round runs every loop back to back, so the ratio of the harness to a
    # loop of the same round cancels most of the machine's drift; its median is the headline.
    paired = {k: [h["cpu_us_op"] / b["cpu_us_op"] - 1 for h, b in zip(results["harness"], v)]
              for k, v in results.items() if k != "harness"}
    print(f"\none worker, closed loop get, {GREENLETS} greenlets, canned server, {rounds} rounds x {seconds:g} s "
          f"(medians)")
    print(f"{'':14} {'ops/s':>9} {'CPU':>6} {'CPU us/op':>10}   harness CPU/op over this loop: "
          f"median of rounds [each round]")
    for name, m in med.items():
        extra = "" if name == "harness" else (
            f"   {statistics.median(paired[name]):+7.1%} [{', '.join(f'{r:+.0%}' for r in paired[name])}]")
        print(f"{name:14} {m['ops_s']:9,.0f} {m['cpu']:6.0%} {m['cpu_us_op']:10.1f}{extra}")
    headline = statistics.median(paired[BASELINE])
    print(f"harness overhead vs the bare client loop ({BASELINE}: a random key per call, same rounds): "
          f"{headline:+.1%} CPU per op (goal <= +{GOAL:.0%}: {'met' if headline <= GOAL else 'NOT met'})")
    return {"rounds": results, "median": med, "paired_overhead": paired, "overhead": headline,
            "goal_met": headline <= GOAL,
            "overhead_vs_facade": med["harness"]["cpu_us_op"] / med["bare facade"]["cpu_us_op"] - 1,
            "overhead_vs_core": med["harness"]["cpu_us_op"] / med["bare core"]["cpu_us_op"] - 1,
            "overhead_vs_random_keys": med["harness"]["cpu_us_op"] / med["bare random"]["cpu_us_op"] - 1,
            "overhead_vs_generator": med["harness"]["cpu_us_op"] / med["bare generator"]["cpu_us_op"] - 1,
            "throughput_ratio_vs_facade": med["harness"]["ops_s"] / med["bare facade"]["ops_s"]}


def ab_part(against: str, seconds: float, rounds: int) -> dict:
    if not os.path.isfile(os.path.join(against, "pegload", "__init__.py")):
        raise SystemExit(f"--against {against}: not a pegload checkout (no pegload/__init__.py)")
    trees = {"this": ROOT, "other": os.path.abspath(against)}
    proc, meta = start_canned()
    results: dict[str, list[dict]] = {"this": [], "other": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                for name in (("this", "other") if r % 2 == 0 else ("other", "this")):
                    results[name].append(harness(meta, seconds, tmp, trees[name]))
    finally:
        proc.kill()
        proc.wait()
    ratios = [t["cpu_us_op"] / o["cpu_us_op"] - 1 for t, o in zip(results["this"], results["other"])]
    print(f"\nharness, closed loop get, {GREENLETS} greenlets, canned server, "
          f"{rounds} rounds x {seconds:g} s (medians)")
    for name, runs in results.items():
        print(f"{name:6} {trees[name]:50} {statistics.median(x['ops_s'] for x in runs):9,.0f} ops/s "
              f"{statistics.median(x['cpu_us_op'] for x in runs):6.2f} CPU us/op, "
              f"errors {sum(x['errors'] for x in runs)}")
    print(f"this over other, CPU per op: median {statistics.median(ratios):+.1%} "
          f"[{', '.join(f'{x:+.0%}' for x in ratios)}]")
    return {"trees": trees, "rounds": results, "paired": ratios, "median": statistics.median(ratios)}


def synthetic_blobs(workers: int, ops: int, samples: int, intervals: int) -> list[list[bytes]]:
    """Per interval, one encoded Interval frame per worker, as workers send them."""
    from pegload.metrics import IntervalRecorder
    from pegload.runner.protocol import Interval, encode

    rng = random.Random(7)
    names = ["get", "set", "multi_get", "multi_set", "scan", "remove"][:ops]
    out = []
    t0 = 1_700_000_000.0
    for i in range(intervals):
        frames = []
        for w in range(workers):
            rec = IntervalRecorder(w)
            for op in names:
                r = rec.op("run", op)
                for _ in range(samples):
                    s = int(rng.lognormvariate(6.5, 0.6))  # ~700 us median, long tail
                    r.record(s + int(rng.expovariate(1 / 200)), s, int(rng.expovariate(1 / 300)))
            snap = rec.snapshot_and_reset(t0 + i, t0 + i + 1)
            frames.append(encode(Interval(w, 0, {"cpu": 0.5, "wall_s": 1.0}, snap.to_bytes())))
        out.append(frames)
    return out


def coordinator_part(intervals: int, workers: int = 8, ops: int = 6, samples: int = 2000) -> dict:
    from pegload.metrics import IntervalSnapshot, RunAccumulator
    from pegload.report import progress_line
    from pegload.runner.protocol import FrameReader

    frames = synthetic_blobs(workers, ops, samples, intervals)
    size = sum(len(f) for f in frames[0]) / workers
    acc = RunAccumulator(interval_s=1.0, workers=range(workers))
    acc.begin_phase("run", 1_700_000_000.0)
    readers = [FrameReader() for _ in range(workers)]
    per_interval = []
    for i in range(intervals):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        for w, frame in enumerate(frames[i]):
            for msg in readers[w].feed(frame):  # what WorkerPool.poll + RunSession._handle do
                acc.add(IntervalSnapshot.from_bytes(msg.blob))
        progress_line(acc, i + 1.0, float(intervals), "run")
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        per_interval.append((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
    acc.finish()
    assert acc.totals("run", "get").count == intervals * workers * samples  # nothing lost in the merge
    cpu = statistics.median(per_interval)
    print(f"\ncoordinator: {workers} workers x {ops} ops per 1 s interval, {samples:,} samples per op and "
          f"kind, {size / 1024:.1f} KiB per worker interval")
    print(f"  CPU per interval: median {cpu * 1000:.1f} ms, max {max(per_interval) * 1000:.1f} ms "
          f"= {cpu:.1%} of a core (goal < 5%)")
    return {"workers": workers, "ops": ops, "samples": samples, "bytes_per_worker_interval": size,
            "cpu_s_per_interval_median": cpu, "cpu_s_per_interval_max": max(per_interval)}


GENERATOR_CASES = [  # (label, workers, verify, data, keys, mix): the op streams docs/scenarios.md quotes
    ("readheavy: zipfian 95% get / 5% set", False, "{hash_keys: 1000, sort_keys: 10, value_size: 100}",
     "{distribution: zipfian, theta: 0.99}", "{get: 95, set: 5}"),
    ("get, uniform keys", False, "{hash_keys: 1000, sort_keys: 10}", "uniform", "{get: 1}"),
    ("set of 100 B, uniform keys", False, "{hash_keys: 1000, sort_keys: 10, value_size: 100}", "uniform",
     "{set: 1}"),
    ("set of 100 B, verified", True, "{hash_keys: 1000, sort_keys: 10, value_size: 100}", "uniform", "{set: 1}"),
    ("multi_get of 10 sort keys", False, "{hash_keys: 1000, sort_keys: 10}", "uniform",
     "{multi_get: {weight: 1, sort_keys: 10}}"),
    ("multi_set of 10 x 100 B", False, "{hash_keys: 1000, sort_keys: 10, value_size: 100}", "uniform",
     "{multi_set: {weight: 1, sort_keys: 10}}"),
    ("multi_set of 10 x 100 B, verified", True, "{hash_keys: 1000, sort_keys: 10, value_size: 100}", "uniform",
     "{multi_set: {weight: 1, sort_keys: 10}}"),
]


def _best_ns_per_call(fn, n: int, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        c0 = time.process_time()
        fn(n)
        best = min(best, (time.process_time() - c0) / n * 1e9)
    return best


def generator_part(ops: int) -> dict:
    """The op stream alone, in this process: next_op() (+ complete() for writes, as the runner
    calls it) per op, one greenlet's generator, best of 3 runs; then some of its parts."""
    from pegload.scenario import load_scenario_text
    from pegload.workload import OpenLoopSchedule, WorkerWorkload, make_value
    from pegload.workload.choosers import UniformChooser, ZipfianChooser
    from pegload.workload.values import check_value

    out = {}
    print(f"\nop generator (pegload.workload), CPU per op, best of 3 runs of {ops:,} ops")
    for label, verify, data, keys, mix in GENERATOR_CASES:
        sc = load_scenario_text(textwrap.dedent(f"""\
            workers: 1
            verify: {str(verify).lower()}
            data: {data}
            phases: [{{duration: 10s, keys: {keys}, mix: {mix}}}]
            """), "generator.yaml")
        ww = WorkerWorkload(sc, 0)
        if verify:  # the reads and writes of a verified run know what the load phase wrote
            load = ww.load_generator()
            while (op := load.next_op()) is not None:
                ww.complete(op, True)
        next_op, complete = ww.phase(0).generator(0).next_op, ww.complete
        completes = {spec.name: ww.needs_complete(spec.name) for spec in sc.phases[0].mix}

        # this case's generator bound as defaults (like `fn` below), not read from the loop's
        # variables when run() is called
        def run(n: int, next_op=next_op, complete=complete, completes=completes) -> None:
            for _ in range(n):
                op = next_op()
                if completes[op.name]:
                    complete(op, True)

        out[label] = _best_ns_per_call(run, ops) / 1000
        print(f"  {label:36} {out[label]:6.2f} us")
    r = random.Random(1).random
    value = make_value(b"hk00000001", b"sk00001", 2, 100)
    sched = OpenLoopSchedule(1e6)
    parts = {
        "zipfian choice (theta 0.99, 10,000)": ZipfianChooser(10_000, 0.99, r, seed=1).next,
        "uniform choice (10,000)": UniformChooser(10_000, r).next,
        "OpenLoopSchedule.next()": sched.next,
        "make_value (100 B)": lambda: make_value(b"hk00000001", b"sk00001", 2, 100),
        "check_value (100 B)": lambda: check_value(b"hk00000001", b"sk00001", value),
    }
    for label, fn in parts.items():
        def run(n: int, fn=fn) -> None:
            for _ in range(n):
                fn()

        out[label] = _best_ns_per_call(run, ops) / 1000
        print(f"  {label:36} {out[label]:6.2f} us")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("worker", "coordinator", "generator", "ab", "both"), default="both",
                   help="both = worker and coordinator")
    p.add_argument("--against", metavar="DIR", help="ab: the other checkout (its root folder)")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per worker run")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of the worker comparison")
    p.add_argument("--intervals", type=int, default=30, help="intervals merged in the coordinator part")
    p.add_argument("--ops", type=int, default=200_000, help="ops per run in the generator part")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args()
    out = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
    if args.part in ("worker", "both"):
        out["worker"] = worker_part(args.seconds, args.rounds)
    if args.part in ("coordinator", "both"):
        out["coordinator"] = coordinator_part(args.intervals)
    if args.part == "generator":
        out["generator"] = generator_part(args.ops)
    if args.part == "ab":
        if not args.against:
            p.error("--part ab needs --against DIR")
        out["ab"] = ab_part(args.against, args.seconds, args.rounds)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
