"""`pegload compare RUN [RUN ...]`: runs side by side, each beside the first, with ratios."""
from __future__ import annotations

import argparse
import sys

from pegload.report.atomic import atomic_write_text
from pegload.report.compare import compare_view, comparison, to_json, to_text
from pegload.report.html import render_compare_html
from pegload.report.runs import ReportError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare reports side by side",
        description="Compare runs side by side: per op and latency kind, throughput, error rate and "
        "p50/p99/p99.9/max, each run beside the first (A) with the ratio to it. Runs are checked for "
        "comparability (scenario hash, load shape); what differs is named in a warning. Exit 0, or 2 "
        "when an input is missing or not a pegload report, or an output file cannot be written.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="report folder or its summary.json")
    parser.add_argument("--phase", metavar="NAME", help="compare this phase (default: the measured phases together)")
    parser.add_argument("--group", action="store_true",
                        help="merge runs of the same target (repeats) into one column")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with overlaid charts")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from pegload.report.capacity import is_capacity

    if any(is_capacity(r) for r in args.runs):  # capacity reports: overlaid curves, capacity ratio
        return _compare_capacity(args)
    try:
        comp = comparison(args.runs, phase=args.phase, group=args.group)
    except ReportError as exc:
        print(f"pegload compare: {exc}", file=sys.stderr)
        return 2
    print(to_text(comp))
    for run in comp["runs"]:
        if not run["validity"]["valid"]:
            print(f"pegload compare: warning: {run['label']} did not complete or is NOT VALID; "
                  "pegload check would refuse it", file=sys.stderr)
    try:
        if args.json:
            atomic_write_text(args.json, to_json(comp))
        if args.html:
            atomic_write_text(args.html, render_compare_html(compare_view(comp)))
    except OSError as exc:
        print(f"pegload compare: cannot write output: {exc}", file=sys.stderr)
        return 2
    return 0


def _compare_capacity(args: argparse.Namespace) -> int:
    from pegload.report.capacity import compare_capacity

    try:
        text, page = compare_capacity(args.runs)
    except ReportError as exc:
        print(f"pegload compare: {exc}", file=sys.stderr)
        return 2
    print(text)
    try:
        if args.html:
            atomic_write_text(args.html, page)
    except OSError as exc:
        print(f"pegload compare: cannot write output: {exc}", file=sys.stderr)
        return 2
    return 0
