#!/usr/bin/env python
"""Open-loop pacing precision by timer strategy: lateness p50/p99/p99.9 and the worker's CPU.

    .venv/bin/python bench/pacing.py                                # 3 rounds, 6 s per run
    .venv/bin/python bench/pacing.py --rates 500,2000,8000 --rounds 5 --seconds 10
    .venv/bin/python bench/pacing.py --strategies epoll,precise --arrivals poisson
    .venv/bin/python bench/pacing.py --main-job --rounds 3          # the README's main job

Each run is a real `pegload run` (one worker process, 16 greenlets, open-loop `get` with uniform
keys at the given total rate) against one embedded onebox started for the whole benchmark, with
``PEGLOAD_TIMER=<strategy>`` in the worker's environment (see ``pegload/runner/timer.py``):

  epoll         gevent's default libev backend: the strategy before issue 8 (the baseline)
  select        libev's select backend (microsecond timeouts)
  precise       libev's linux_iouring backend, select where the kernel refuses io_uring (default)
  precise+spin  precise, then a busy-wait over the last 60 µs before each slot

Lateness is from each op's slot to its send (``docs/harness.md``); CPU is the worker process's
CPU time over the measured wall time, from its self-check (the loop-lag probe included, which
every strategy pays alike). The timer column is what the workers reported (``selfcheck["timer"]``,
kept per worker in summary.json's self_check; "?" where a summary does not keep it). Every
round runs every (strategy, rate) back to back, so machine noise hits them alike; the table shows
medians over rounds, and each strategy's lateness p50 and CPU as a ratio to epoll's in the same
round (median of the per-round ratios).

``--main-job`` runs ``scenarios/readheavy.yaml`` itself (its own onebox, 2 workers) per strategy
and prints lateness, get response and service p50 (the goals: lateness p50 <= 100 µs, p99 <= 1 ms,
get response p50 within 200 µs of service p50).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

STRATEGIES = ("epoll", "select", "precise", "precise+spin")
BASELINE = "epoll"
GREENLETS = 16


def scenario_text(rate: float, seconds: float, arrivals: str) -> str:
    return textwrap.dedent(f"""\
        name: pacing-bench
        workers: 1
        concurrency: {GREENLETS}
        data: {{hash_keys: 1000, sort_keys: 10, value_size: 100}}
        load: false
        phases:
          - name: run
            warmup: 1s
            duration: {seconds}s
            rate: {rate}
            arrivals: {arrivals}
            keys: uniform
            mix: {{get: 1}}
        """)


def figures(summary_path: str) -> dict:
    with open(summary_path) as f:
        s = json.load(f)
    phase = {p["name"]: p for p in s["phases"]}["run"]
    lat = phase["all"]["latency_us"]
    workers = s["self_check"]["phases"]["run"]["workers"]
    get = phase["ops"].get("get", {}).get("latency_us", lat)
    return {"late_p50": lat["lateness"]["p50"], "late_p99": lat["lateness"]["p99"],
            "late_p999": lat["lateness"]["p999"], "resp_p50": get["response"]["p50"],
            "svc_p50": get["service"]["p50"],
            "cpu": statistics.fmean(w["cpu_mean"] for w in workers.values()),
            "lag_max_ms": max(w["loop_lag_max_ms"] for w in workers.values()),
            "timer": sorted({str(w.get("timer", "?")) for w in workers.values()}),
            "throughput": phase["all"]["throughput"], "valid": s["validity"]["valid"]}


def run_pegload(args: list[str], strategy: str, out_dir: str, cwd: str) -> dict:
    env = dict(os.environ, PEGLOAD_TIMER=strategy, PYTHONPATH=ROOT)
    env.pop("GEVENT_BACKEND", None)
    proc = subprocess.run([sys.executable, "-m", "pegload.cli", "run", *args, "--report-dir", out_dir, "--quiet"],
                          capture_output=True, text=True, cwd=cwd, env=env)
    path = os.path.join(out_dir, "summary.json")
    if not os.path.exists(path):
        raise RuntimeError(f"pegload run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return figures(path)


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def ratio(rows: list[dict], base: list[dict], key: str) -> float:
    return statistics.median(r[key] / b[key] for r, b in zip(rows, base) if b[key])


def bench_rates(strategies, rates, rounds, seconds, arrivals) -> None:
    from pegload.onebox import Onebox

    results: dict[tuple[str, float], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="pegload-pacing-") as tmp, Onebox(tables={"temp": 8}) as ob:
        meta = ",".join(ob.meta_addrs)
        for rnd in range(rounds):
            for rate in rates:
                path = os.path.join(tmp, f"s-{rate}.yaml")
                with open(path, "w") as f:
                    f.write(scenario_text(rate, seconds, arrivals))
                for strategy in strategies:
                    out = os.path.join(tmp, f"r{rnd}-{rate}-{strategy}")
                    r = run_pegload([path, "--meta", meta, "--table", "temp"], strategy, out, tmp)
                    results.setdefault((strategy, rate), []).append(r)
                    print(f"round {rnd + 1} rate {rate:g} {strategy:13s} lateness p50 {r['late_p50']} µs "
                          f"p99 {r['late_p99']} µs cpu {r['cpu']:.1%} timer {','.join(r['timer'])}",
                          file=sys.stderr, flush=True)
    print(f"\nopen-loop get, 1 worker x {GREENLETS} greenlets, {arrivals} arrivals, {seconds:g} s per run, "
          f"medians of {rounds} rounds")
    head = (f"{'rate':>6}  {'strategy':13s} {'timer':24s} {'late p50':>9} {'p99':>8} {'p99.9':>8} "
            f"{'resp p50':>9} {'svc p50':>8} {'CPU':>6} {'p50 vs epoll':>12} {'CPU vs epoll':>12}")
    print(head)
    print("-" * len(head))
    for rate in rates:
        base = results.get((BASELINE, rate))
        for strategy in strategies:
            rows = results[(strategy, rate)]
            timers = ",".join(sorted({t for r in rows for t in r["timer"]}))
            rel_p50 = f"{ratio(rows, base, 'late_p50'):.2f}x" if base else "-"
            rel_cpu = f"{ratio(rows, base, 'cpu'):.2f}x" if base else "-"
            print(f"{rate:>6g}  {strategy:13s} {timers:24s} {median(rows, 'late_p50'):>6.0f} µs "
                  f"{median(rows, 'late_p99') / 1000:>5.2f} ms {median(rows, 'late_p999') / 1000:>5.2f} ms "
                  f"{median(rows, 'resp_p50'):>6.0f} µs {median(rows, 'svc_p50'):>5.0f} µs "
                  f"{median(rows, 'cpu'):>6.1%} {rel_p50:>12} {rel_cpu:>12}")


def bench_main_job(strategies, rounds) -> None:
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="pegload-pacing-") as tmp:
        for rnd in range(rounds):
            for strategy in strategies:
                out = os.path.join(tmp, f"main-{rnd}-{strategy}")
                r = run_pegload([os.path.join(ROOT, "scenarios", "readheavy.yaml")], strategy, out, tmp)
                results.setdefault(strategy, []).append(r)
                print(f"round {rnd + 1} {strategy:13s} lateness p50 {r['late_p50']} p99 {r['late_p99']} µs, "
                      f"get response p50 {r['resp_p50']} service p50 {r['svc_p50']} µs, cpu {r['cpu']:.1%}",
                      file=sys.stderr, flush=True)
    print(f"\nmain job (scenarios/readheavy.yaml: 2 workers, 2,000 ops/s, onebox beside it), medians of {rounds} runs")
    head = (f"{'strategy':13s} {'timer':24s} {'late p50':>9} {'p99':>8} {'p99.9':>8} {'get resp p50':>12} "
            f"{'svc p50':>8} {'resp-svc':>9} {'worker CPU':>10}")
    print(head)
    print("-" * len(head))
    for strategy in strategies:
        rows = results[strategy]
        timers = ",".join(sorted({t for r in rows for t in r["timer"]}))
        gap = statistics.median(r["resp_p50"] - r["svc_p50"] for r in rows)
        print(f"{strategy:13s} {timers:24s} {median(rows, 'late_p50'):>6.0f} µs "
              f"{median(rows, 'late_p99') / 1000:>5.2f} ms "
              f"{median(rows, 'late_p999') / 1000:>5.2f} ms {median(rows, 'resp_p50'):>9.0f} µs "
              f"{median(rows, 'svc_p50'):>5.0f} µs {gap:>6.0f} µs {median(rows, 'cpu'):>10.1%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--rates", default="500,2000,8000", help="total ops/s, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform")
    ap.add_argument("--main-job", action="store_true", help="run scenarios/readheavy.yaml per strategy instead")
    a = ap.parse_args()
    strategies = [s for s in a.strategies.split(",") if s]
    if a.main_job:
        bench_main_job(strategies, a.rounds)
    else:
        bench_rates(strategies, [float(r) for r in a.rates.split(",")], a.rounds, a.seconds, a.arrivals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
