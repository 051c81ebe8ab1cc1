"""``pegload run SCENARIO`` (also plain ``pegload SCENARIO``): parse, validate, run.

The whole scenario (with the command-line overrides applied) is validated before any process
starts; a problem prints ``file:line path: message`` lines and exits 2.
"""
from __future__ import annotations

import argparse
import sys

from pegload.scenario import ScenarioError, load_scenario
from pegload.scenario.cli import add_override_arguments, overrides_from_args, positive_int

DESCRIPTION = """\
Run a scenario: start an embedded onebox unless the scenario or --meta/--table name a cluster,
write the data set (load phase), run the phases from several worker processes with live
progress, and write a report folder (summary.json, report.html, latency.hlog, hgrm/).

exit status: 0 ok, 1 an SLO threshold was breached, 2 bad scenario, unusable target or report
folder (checked before anything runs; if the report cannot be written after the run, the message
names where it was saved instead), 3 a worker crashed (the report holds what was measured), 130
interrupted (same)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run a scenario (same as `pegload SCENARIO`)", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file (see docs/scenarios.md)")
    add_override_arguments(parser)
    group = parser.add_argument_group("run options")
    group.add_argument("--report-dir", metavar="DIR",
                       help="write the report here (default: reports/<scenario>-<timestamp>/); "
                       "created and checked before the run; a folder that already holds a run is refused")
    group.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --report-dir (its report files only)")
    group.add_argument("--repeat", metavar="N", type=positive_int, default=1,
                       help="run against each target N times (a comparison report merges the repeats)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no live progress; only problems, the summary table and the report path")
    dask = parser.add_argument_group("distributed run (docs/distributed.md; needs pip install 'pegload[dask]')")
    dask.add_argument("--dask", metavar="tcp://SCHEDULER:PORT",
                      help="run the workers on this Dask cluster: one agent per Dask worker, each "
                           "starting the scenario's `workers` processes on its host")
    dask.add_argument("--agents", metavar="N", type=positive_int,
                      help="use N Dask workers (default: all of them)")
    dask.add_argument("--listen", metavar="HOST",
                      help="address the agents reach this machine on (default: the local address "
                           "that routes to the scheduler; loopback for a loopback scheduler)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    if (args.agents or args.listen) and not args.dask:
        print("pegload run: --agents and --listen need --dask", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario, overrides_from_args(args))
        # imported here: `pegload --help` and `pegload validate` need none of the run machinery
        from pegload.coordinator.run import ScenarioRun

        dask = None
        if args.dask:
            from pegload.distributed import DaskOptions

            dask = DaskOptions(args.dask, agents=args.agents, listen=args.listen)
        run = ScenarioRun(scenario, report_dir=args.report_dir, repeat=args.repeat, quiet=args.quiet,
                          overwrite=args.overwrite, dask=dask)
        return run.execute()
    except ScenarioError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the run's own handler is installed (or after it)
        print("pegload: interrupted", file=sys.stderr)
        return 130
