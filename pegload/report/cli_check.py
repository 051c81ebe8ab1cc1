"""`pegload check RUN... --baseline RUN...`: the CI gate. Exit 0 pass, 1 regression or SLO
breach (or unstable, unless allowed), 2 bad input (including a run or baseline that was
interrupted, crashed or is NOT VALID, unless --allow-invalid)."""
from __future__ import annotations

import argparse
import sys

from pegload.report.atomic import atomic_write_text
from pegload.report.gate import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_DELTA_US,
    default_rules,
    is_closed_loop,
    parse_rules,
    run_check,
)
from pegload.report.gate_output import to_junit, to_markdown, to_text
from pegload.report.runs import ReportError, load_runs
from pegload.scenario.thresholds import ThresholdError, parse_thresholds
from pegload.scenario.units import parse_duration

EPILOG = """\
examples:
  pegload check reports/now --baseline baseline/
  pegload check reports/now --baseline baseline/ --max-regression get.p99=10%,throughput=5%
  pegload check now1 now2 now3 --baseline base1 base2 base3 --slo 'get.p99<5ms,errors<0.1%'

default rules (without --max-regression, or with the word "defaults" in it), for every op and
"all": open loop: response p50 +50%, response p99 +150%, throughput -10%; closed loop: response
p50 +150%, throughput -65%; and all.error_rate +0.5 points. A latency must also be worse by more
than --min-delta; a percentile is judged only with 10 samples beyond it in every run (p99: 1,000
ops). The figures come from measured run-to-run noise on a shared 2-core machine: docs/ci.md.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="CI gate: regressions and SLOs, exit 0/1/2",
        description="Judge run(s) against a baseline and/or SLOs. Prints a verdict per metric. Exit 0 when "
        "everything passes, 1 on a regression, an SLO breach or an unstable verdict, 2 on bad input "
        "(missing, corrupt or incompatible reports, bad expressions, or a run or baseline that was interrupted, "
        "crashed or is NOT VALID unless --allow-invalid). With several runs on either side "
        "a one-sided Mann-Whitney U test on the per-run figures separates regressions from noise.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="report folder(s) or summary.json of the run(s) to judge")
    parser.add_argument("--baseline", nargs="+", metavar="RUN", required=True,
                        help="baseline report folder(s) or summary.json (repeats allowed)")
    parser.add_argument("--max-regression", metavar="RULES",
                        help="e.g. get.p99=10%%,throughput=5%%,errors=0.5%% (latency/throughput relative, "
                        "error rates in points); 'defaults' keeps the default rules too")
    parser.add_argument("--slo", metavar="THRESHOLDS",
                        help="e.g. 'get.p99<5ms,errors<0.1%%' judged on the run(s) merged")
    parser.add_argument("--phase", metavar="NAME", help="judge this phase (default: the measured phases together)")
    parser.add_argument("--min-delta", metavar="TIME", default=f"{DEFAULT_MIN_DELTA_US:g}us",
                        help="a latency regression must also exceed this absolute change (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="significance level of the repeated-runs test (default %(default)s)")
    parser.add_argument("--allow-unstable", action="store_true",
                        help="exit 0 on 'unstable' verdicts (a change the repeats could not confirm)")
    parser.add_argument("--allow-invalid", action="store_true",
                        help="judge runs that were interrupted, crashed or NOT VALID (refused by default, exit 2)")
    parser.add_argument("--no-regression", action="store_true",
                        help="check only the SLOs (the baseline is still checked for compatibility)")
    parser.add_argument("--min-capacity", metavar="RATIO", type=float,
                        help="capacity reports (pegload capacity): fail when the run's capacity is below RATIO x "
                        "the baseline's (e.g. 0.95); a search that could not judge its target is refused (exit 2)")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML, one test case per checked metric")
    parser.add_argument("--markdown", metavar="FILE", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    parser.set_defaults(func=run_check_command)


def _fail(message: str) -> int:
    print(f"pegload check: {message}", file=sys.stderr)
    return 2


def run_check_command(args: argparse.Namespace) -> int:
    from pegload.report.capacity import is_capacity

    if args.min_capacity is not None or any(is_capacity(r) for r in [*args.runs, *args.baseline]):
        return _check_capacity(args)
    try:
        min_delta_us = parse_duration(args.min_delta) * 1e6
    except ValueError as exc:
        return _fail(f"--min-delta: {exc}")
    if min_delta_us < 0:
        return _fail(f"--min-delta must be >= 0, got {args.min_delta!r}")
    if not 0 < args.alpha < 1:
        return _fail(f"--alpha must be between 0 and 1 (exclusive), got {args.alpha:g}")
    try:
        current = load_runs(args.runs)
        baseline = load_runs(args.baseline)
        ops = sorted({op for run in baseline for op in run.ops(args.phase)})
        closed = is_closed_loop(baseline[0], args.phase)
        if args.no_regression:
            rules = []
        elif args.max_regression:
            rules = parse_rules(args.max_regression, ops, closed)
        else:
            rules = default_rules(ops, closed)
        slos = parse_thresholds(args.slo) if args.slo else []
        result = run_check(current, baseline, rules=rules, slos=slos, phase=args.phase,
                           min_delta_us=min_delta_us, alpha=args.alpha, allow_invalid=args.allow_invalid)
    except (ReportError, ThresholdError, ValueError) as exc:
        return _fail(str(exc))
    print(to_text(result, args.allow_unstable))
    try:
        if args.junit:
            atomic_write_text(args.junit, to_junit(result, args.allow_unstable))
        if args.markdown:
            atomic_write_text(args.markdown, to_markdown(result, args.allow_unstable))
    except OSError as exc:
        return _fail(f"cannot write output: {exc}")
    return result.exit_code(args.allow_unstable)


def _check_capacity(args: argparse.Namespace) -> int:
    """``--min-capacity``: one capacity report against one baseline capacity report."""
    from pegload.report.capacity import check_capacity

    if args.min_capacity is None:
        return _fail("capacity reports are judged with --min-capacity RATIO (e.g. 0.95)")
    if not args.min_capacity > 0:
        return _fail(f"--min-capacity must be > 0, got {args.min_capacity:g}")
    if len(args.runs) != 1 or len(args.baseline) != 1:
        return _fail("--min-capacity compares one capacity report with one baseline capacity report")
    try:
        code, text = check_capacity(args.runs[0], args.baseline[0], args.min_capacity)
    except ReportError as exc:
        return _fail(str(exc))
    print(text if code != 2 else f"pegload check: {text}", file=sys.stdout if code != 2 else sys.stderr)
    return code
