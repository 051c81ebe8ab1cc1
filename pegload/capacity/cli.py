"""``pegload capacity SCENARIO --slo 'get.p99<5ms'``: the highest open-loop rate the target
sustains at an SLO (``--closed``: a closed-loop concurrency sweep). See docs/capacity.md."""
from __future__ import annotations

import argparse
import sys

from pegload.scenario import ScenarioError, load_scenario
from pegload.scenario.cli import add_override_arguments, overrides_from_args, positive_int
from pegload.scenario.thresholds import ThresholdError
from pegload.scenario.units import parse_duration

DESCRIPTION = """\
Find the highest rate the target sustains while every SLO term holds and every step is VALID.
The scenario's last phase runs as open-loop steps on one target (one embedded onebox for the
whole search): the rate grows geometrically (x2) from --start-rate until the SLO breaks, then is
bisected until the bracket is within --precision. Each step is an ordinary run with its own
report under steps/; the capacity report (summary.json, report.html) shows the
latency-throughput curve, the SLO line and the knee.

exit status: 0 the search judged the target (limited by the SLO, errors or --max-rate), 1 the
client was the limit (the figure is a floor; the message says how to get more load), 2 bad
input or unusable target/report folder, 3 a step could not run or be judged, 130 interrupted."""

EPILOG = """\
examples:
  pegload capacity scenarios/ycsb-c.yaml --slo 'get.p99<5ms,errors<0.1%'
  pegload capacity s.yaml --slo 'get.p99<10ms' --start-rate 2000 --max-rate 50000 --precision 5% --repeat 2
  pegload capacity s.yaml --slo 'get.p99<10ms' --closed --max-concurrency 128
  pegload compare reports/a-capacity reports/b-capacity      # "B sustains 1.41x A at get.p99 < 5ms"
  pegload check reports/now --baseline reports/base --min-capacity 0.95
"""


def _rate(text: str) -> float:
    try:
        v = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ops/s as a number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def _seconds(text: str) -> float:
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(text: str) -> float:
    t = text.strip()
    try:
        v = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 5%% or 0.05, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100%%, got {text!r}")
    return v


def register(subparsers) -> None:
    p = subparsers.add_parser("capacity", help="capacity at an SLO: latency-throughput search",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file; its last phase is searched")
    p.add_argument("--slo", required=True, metavar="TERMS",
                   help="e.g. 'get.p99<5ms,errors<0.1%%' (threshold grammar; without an errors term, "
                   "errors<1%% is added)")
    g = p.add_argument_group("search")
    g.add_argument("--start-rate", type=_rate, default=1000.0, metavar="OPS", help="first step's rate (default 1000)")
    g.add_argument("--max-rate", type=_rate, default=1_000_000.0, metavar="OPS",
                   help="never offer more than this; passing it ends the search (default 1,000,000)")
    g.add_argument("--step-duration", type=_seconds, default=10.0, metavar="TIME",
                   help="measured length of each step (default 10s)")
    g.add_argument("--warmup", type=_seconds, default=2.0, metavar="TIME",
                   help="unmeasured warm-up before each step (default 2s)")
    g.add_argument("--precision", type=_fraction, default=0.05, metavar="SHARE",
                   help="stop bisecting when the passing rate is within this share of a failing one (default 5%%)")
    g.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="a rate passes only if N steps at it pass (default 1)")
    g.add_argument("--closed", action="store_true",
                   help="closed-loop sweep instead: concurrency 1, 2, 4, ... with Little's law")
    g.add_argument("--max-concurrency", type=positive_int, default=256, metavar="N",
                   help="--closed: the largest total concurrency tried (default 256)")
    add_override_arguments(p)
    d = p.add_argument_group("distributed steps (docs/distributed.md; needs pip install 'pegload[dask]')")
    d.add_argument("--dask", metavar="tcp://SCHEDULER:PORT",
                   help="run each step's workers on this Dask cluster: one agent per Dask worker, each "
                        "starting the scenario's `workers` processes on its host")
    d.add_argument("--agents", metavar="N", type=positive_int, help="use N Dask workers (default: all of them)")
    d.add_argument("--listen", metavar="HOST", help="address the agents reach this machine on")
    r = p.add_argument_group("report")
    r.add_argument("--report-dir", metavar="DIR", help="default: reports/<scenario>-capacity-<timestamp>/")
    r.add_argument("--overwrite", action="store_true", help="replace a capacity report already in --report-dir")
    r.add_argument("-q", "--quiet", action="store_true", help="no live progress; problems and the result only")
    p.set_defaults(func=capacity_command)


def capacity_command(args: argparse.Namespace) -> int:
    for flag in ("rate", "duration"):
        if getattr(args, flag, None) is not None:
            print(f"pegload capacity: --{flag} is what the search sets; use --start-rate/--max-rate and "
                  "--step-duration", file=sys.stderr)
            return 2
    if (args.agents or args.listen) and not args.dask:
        print("pegload capacity: --agents and --listen need --dask", file=sys.stderr)
        return 2
    if args.max_rate < args.start_rate:
        print(f"pegload capacity: --max-rate {args.max_rate:g} is below --start-rate {args.start_rate:g}",
              file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario, overrides_from_args(args))
    except ScenarioError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 2
    from pegload.capacity.run import SearchOptions, SweepOptions, run_search, run_sweep
    from pegload.capacity.slo import parse_slo
    from pegload.capacity.steps import measured_phase

    try:
        phase = measured_phase(scenario)
        terms = parse_slo(args.slo, phase.op_names)
    except (ThresholdError, ValueError) as exc:
        print(f"pegload capacity: --slo: {exc}" if isinstance(exc, ThresholdError) else f"pegload capacity: {exc}",
              file=sys.stderr)
        return 2
    dask = None
    if args.dask:
        from pegload.distributed import DaskOptions

        dask = DaskOptions(args.dask, agents=args.agents, listen=args.listen)
    kw = dict(report_dir=args.report_dir, quiet=args.quiet, overwrite=args.overwrite, dask=dask)
    try:
        if args.closed:
            return run_sweep(scenario, terms, SweepOptions(args.max_concurrency, args.step_duration, args.warmup), **kw)
        return run_search(scenario, terms, SearchOptions(args.start_rate, args.max_rate, args.step_duration,
                                                         args.warmup, args.precision, args.repeat), **kw)
    except KeyboardInterrupt:
        print("pegload: interrupted", file=sys.stderr)
        return 130
