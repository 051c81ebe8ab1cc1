"""Command line entry point: thin. Parses, then hands over to the area that does the work.

`pegload SCENARIO [options]` is the same as `pegload run SCENARIO [options]`.
Each area registers its own subcommand (``register(subparsers)`` in its ``cli`` module) so that
options live next to the code that uses them. Only the module of the subcommand being run is
imported: `pegload --help` imports none of them, `pegload validate` only the scenario package, so
no command pays for another's heavy dependencies (gevent, rocksdict, the report writers).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module with register(subparsers), the one-line help of the command list)
SUBCOMMANDS = {
    "run": ("pegload.coordinator.cli", "run a scenario (same as `pegload SCENARIO`)"),
    "validate": ("pegload.scenario.cli", "check scenario files without running them"),
    "onebox": ("pegload.onebox.cli", "run the embedded Pegasus-compatible cluster in the foreground"),
    "compare": ("pegload.report.cli_compare", "compare reports side by side"),
    "check": ("pegload.report.cli_check", "CI gate: regressions and SLOs, exit 0/1/2"),
    "capacity": ("pegload.capacity.cli", "capacity at an SLO: open-loop search or closed-loop sweep"),
}

DESCRIPTION = """\
pegload: load testing and benchmarking for Apache Pegasus.

  pegload SCENARIO.yaml              run a scenario (against the embedded onebox unless the
                                     scenario or --meta/--table name a cluster)
  pegload validate SCENARIO.yaml     check a scenario file without running it
  pegload onebox                     run the embedded Pegasus-compatible cluster in the foreground
  pegload compare RUN RUN...         compare reports side by side
  pegload check RUN --baseline RUN   CI gate: regressions and SLOs, exit 0/1/2
  pegload capacity SCENARIO --slo .. highest rate meeting an SLO (latency-throughput curve)
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to register its full sub-parser."""
    parser = argparse.ArgumentParser(
        prog="pegload", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from pegload import __version__

    parser.add_argument("--version", action="version", version=f"pegload {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in SUBCOMMANDS.items():
        if name == command:
            importlib.import_module(module).register(subparsers)
        else:  # listed for `pegload --help`; never parsed, since it is not the command
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `pegload SCENARIO ...` is shorthand for `pegload run SCENARIO ...`
    if argv and not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS:
        argv.insert(0, "run")
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
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
