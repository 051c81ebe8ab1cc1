"""Command line entry point: thin. Parses, then hands over to the area that does the work.

`pegload SCENARIO [options]` is the same as `pegload run SCENARIO [options]`.
Each area registers its own subcommand (``register(subparsers)`` in its ``cli`` module) so that
options live next to the code that uses them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module with register(subparsers); imported lazily so `pegload --help` stays fast
# and so that no area imports another's heavy dependencies (gevent, rocksdict) by accident.
SUBCOMMANDS = {
    "run": "pegload.coordinator.cli",
    "validate": "pegload.scenario.cli",
    "onebox": "pegload.onebox.cli",
    "compare": "pegload.report.cli_compare",
    "check": "pegload.report.cli_check",
}

DESCRIPTION = """\
pegload: load testing and benchmarking for Apache Pegasus.

  pegload SCENARIO.yaml              run a scenario (against the embedded onebox unless the
                                     scenario or --meta/--table name a cluster)
  pegload validate SCENARIO.yaml     check a scenario file without running it
  pegload onebox                     run the embedded Pegasus-compatible cluster in the foreground
  pegload compare RUN RUN...         compare reports side by side
  pegload check RUN --baseline RUN   CI gate: regressions and SLOs, exit 0/1/2
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pegload", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from pegload import __version__

    parser.add_argument("--version", action="version", version=f"pegload {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `pegload SCENARIO ...` is shorthand for `pegload run SCENARIO ...`
    if argv and not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS:
        argv.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
