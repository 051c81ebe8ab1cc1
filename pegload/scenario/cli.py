"""`pegload validate FILE [FILE...]`: check scenario files without running them.

Exit 0 when every file is valid, 2 when any has problems (all problems of all files are
printed). Also home of the scenario override flags shared with `pegload run`:
``add_override_arguments(parser)`` and ``overrides_from_args(args)``.
"""
from __future__ import annotations

import argparse
import sys

from .errors import ScenarioError
from .load import load_scenario, scenario_hash
from .overrides import OVERRIDE_FLAGS


def positive_int(text: str) -> int:
    """argparse type for counts given on the command line (``--repeat``, ``--agents``, ...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that override scenario fields (values are validated with the scenario)."""
    group = parser.add_argument_group("scenario overrides (checked like the file's own fields)")
    group.add_argument("--duration", metavar="TIME",
                       help="run every phase for TIME (e.g. 30s, 2m) instead of its duration/ops")
    group.add_argument("--rate", metavar="OPS", help="run every phase open loop at OPS total ops/s")
    group.add_argument("--workers", metavar="N", help="worker processes (default: the scenario's, else one per core)")
    group.add_argument("--concurrency", metavar="N", help="greenlets per worker")
    group.add_argument("--meta", metavar="HOST:PORT,...",
                       help="target this cluster's meta servers instead of the scenario's target(s)")
    group.add_argument("--table", metavar="NAME", help="table to use (with --meta, or for every target)")
    group.add_argument("--seed", metavar="N", help="random seed (same seed, same key sequence)")


def overrides_from_args(args: argparse.Namespace) -> dict:
    """The override mapping for load_scenario from parsed arguments (absent flags left out)."""
    return {k: getattr(args, k) for k in OVERRIDE_FLAGS if getattr(args, k, None) is not None}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check scenario files (and optional overrides) without running anything. "
        "Exit 0 if all are valid, 2 otherwise; every problem is printed as FILE:LINE PATH: MESSAGE.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML file(s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    add_override_arguments(parser)
    parser.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    failed = False
    for file in args.files:
        try:
            scenario = load_scenario(file, overrides)
        except ScenarioError as exc:
            failed = True
            for line in exc.errors:
                print(line, file=sys.stderr)
            continue
        if not args.quiet:
            phases = ", ".join(p.name for p in scenario.phases)
            print(f"{file}: ok ({scenario.name}: {len(scenario.phases)} phase(s): {phases}; "
                  f"{scenario.workers} worker(s) x {scenario.concurrency}; hash {scenario_hash(scenario)})")
    return 2 if failed else 0
