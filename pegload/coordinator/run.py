"""``pegload run``: one scenario against each of its targets, ``repeat`` times, with reports.

Layout of what a run leaves behind (``base`` is ``--report-dir`` or
``reports/<scenario>-<UTC timestamp>/``)::

    one target, one repetition:   base/summary.json, report.html, latency.hlog, hgrm/...
    several targets or repeats:   base/<target>[-<k>]/...  (one report per run)
                                  base/comparison.{json,html,txt}

Every target gets the same scenario, hence the same seed and key sequence. SLO thresholds are
evaluated on each run; the exit code is the worst outcome: 3 (a worker crashed) > 130
(interrupted) > 2 (a target or the report folder could not be used) > 1 (SLO breach) > 0.

The report folder is created and proven writable before anything starts; one that already holds
a run is refused unless ``overwrite`` (see ``report.writer.prepare_report_dir``). The temporary
log folder of each run is removed on every way out of it (worker/onebox logs worth keeping are
copied next to the report first).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pegload.coordinator.interrupts import Interrupts
from pegload.coordinator.logdirs import keep_logs, new_log_dir, remove_stale_log_dirs
from pegload.coordinator.progress import Progress
from pegload.coordinator.session import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_SLO_BREACH,
    RunFailed,
    RunSession,
)
from pegload.report import ReportPaths, RunResult, write_report
from pegload.report.summary import record_exit_code
from pegload.report.writer import ReportDirError, ReportWriteError, clear_run, prepare_report_dir
from pegload.scenario import Scenario, Target

if TYPE_CHECKING:
    from pegload.distributed import DaskOptions

_SEVERITY = {EXIT_OK: 0, EXIT_SLO_BREACH: 1, EXIT_BAD_INPUT: 2, EXIT_INTERRUPTED: 3, EXIT_RUN_FAILED: 4}


def default_report_dir(scenario: Scenario, root: Path = Path("reports")) -> Path:
    """``reports/<scenario>-<UTC timestamp>``, with a suffix if that folder exists already."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = root / f"{scenario.name}-{stamp}"
    out, n = base, 2
    while out.exists():
        out, n = Path(f"{base}-{n}"), n + 1
    return out


def worst(codes: Sequence[int]) -> int:
    return max(codes, key=lambda c: _SEVERITY.get(c, 5), default=EXIT_OK)


def slo_thresholds(scenario: Scenario) -> list:
    """The scenario's thresholds as the report judges them: top-level ones over the measured
    phases together, a phase's own as ``(phase name, threshold)``."""
    return list(scenario.thresholds) + [(p.name, t) for p in scenario.phases for t in p.thresholds]


class ScenarioRun:
    """Runs a scenario's targets x repeats; see the module docstring."""

    def __init__(self, scenario: Scenario, *, report_dir: Path | None = None, repeat: int = 1,
                 quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None,
                 worker_env: dict[str, str] | None = None, overwrite: bool = False,
                 dask: DaskOptions | None = None) -> None:
        self.scenario = scenario
        self.dask = dask  # run the workers on a Dask cluster (pegload.distributed)
        self.base = Path(report_dir) if report_dir else default_report_dir(scenario)
        self.overwrite = overwrite
        self._cleared = False  # the previous run in base (with overwrite) is removed at the first write
        self.repeat = max(1, repeat)
        self.out = out if out is not None else sys.stdout
        self.progress = Progress(err if err is not None else sys.stderr, quiet=quiet)
        self.worker_env = worker_env
        self.reports: list[ReportPaths] = []

    @property
    def several(self) -> bool:
        return len(self.scenario.targets) > 1 or self.repeat > 1

    def _run_dir(self, target: Target, k: int) -> Path:
        if not self.several:
            return self.base
        return self.base / (f"{target.name}-{k + 1}" if self.repeat > 1 else target.name)

    def execute(self) -> int:
        created = not self.base.exists()
        try:
            prepare_report_dir(self.base, self.overwrite)
        except ReportDirError as exc:
            self.progress.warn(f"pegload: {exc}")
            return EXIT_BAD_INPUT
        try:
            return self._execute()
        finally:
            if created:  # a run that wrote nothing (bad target, Ctrl-C early) leaves no empty folder
                try:
                    self.base.rmdir()
                except OSError:
                    pass  # not empty: it holds the report

    def _execute(self) -> int:
        codes: list[int] = []
        with Interrupts() as interrupts:
            for target in self.scenario.targets:
                for k in range(self.repeat):
                    if interrupts.requested:
                        break
                    if self.several:
                        self.progress.say(f"== target {target.name}"
                                          + (f", run {k + 1} of {self.repeat}" if self.repeat > 1 else ""))
                    code = self._one(target, self._run_dir(target, k), interrupts)
                    codes.append(code)
                    if code == EXIT_BAD_INPUT:  # fix the target first; later ones would not help
                        break
                if interrupts.requested or (codes and codes[-1] == EXIT_BAD_INPUT):
                    break
        if self.several and len(self.reports) > 1:
            from pegload.report import write_comparison

            try:
                paths = write_comparison(self.reports, self.base)
            except OSError as exc:  # each run's report is written; say so rather than trace back
                self.progress.warn(f"pegload: cannot write the comparison to {self.base}: {exc}; "
                                   "the runs' own reports are complete")
                codes.append(EXIT_BAD_INPUT)
            else:
                self.out.write("\n" + paths.text.read_text(encoding="utf-8"))
                self.out.write(f"comparison: {paths.html}\n")
        return worst(codes)

    def _one(self, target: Target, out_dir: Path, interrupts: Interrupts) -> int:
        remove_stale_log_dirs()
        scenario, launcher = self.scenario, None
        if self.dask is not None:
            from pegload.distributed import DaskLaunchError, prepare_dask_run

            try:
                scenario, launcher = prepare_dask_run(self.dask, scenario, target, self.progress, interrupts)
            except DaskLaunchError as exc:
                self.progress.warn(f"pegload: {exc}")
                return EXIT_BAD_INPUT
        log_dir = new_log_dir()
        keep_in: Path | None = None
        try:
            session = RunSession(scenario, target, progress=self.progress, interrupts=interrupts,
                                 log_dir=log_dir, worker_env=self.worker_env, launcher=launcher)
            try:
                result = session.execute()
            except RunFailed as exc:
                self.progress.warn(f"pegload: {exc}")
                keep_in = out_dir if exc.exit_code != EXIT_BAD_INPUT else None
                return exc.exit_code
            if launcher is not None:
                launcher.annotate(result)
            code = result.status.exit_code
            try:
                paths = self._write(result, out_dir)
            except ReportWriteError as exc:
                self.progress.warn(f"pegload: {exc}")
                keep_in = exc.saved
                return worst([code, EXIT_BAD_INPUT])
            keep_in = out_dir if code != EXIT_OK else None
        finally:
            keep_logs(log_dir, keep_in)
        self.reports.append(paths)
        self.out.write(paths.text.read_text(encoding="utf-8"))
        if result.agents:
            from pegload.distributed.report import agents_text

            self.out.write(agents_text(result.agents))
        self._show_verification(result)
        if code == EXIT_OK and not paths.slo_passed:  # an SLO judged on a cut-short run says little
            code = EXIT_SLO_BREACH
            record_exit_code(paths.summary, code)  # summary.json says what the process exits with
        self.out.write(f"report: {paths.html}\n")
        self.out.flush()
        return code

    def _write(self, result: RunResult, out_dir: Path) -> ReportPaths:
        if self.overwrite and not self._cleared:
            self._cleared = True
            try:
                clear_run(self.base)
            except OSError:
                pass  # writing will fail (and say so) or succeed over what is left
        return write_report(result, out_dir, thresholds=slo_thresholds(self.scenario))

    def _show_verification(self, result: RunResult) -> None:
        if not self.scenario.verify:
            return
        for name, section in result.self_check.get("phases", {}).items():
            examples = section.get("verification_examples", [])
            total = sum(result.accumulator.totals(name, op).verify_errors for op in result.accumulator.ops(name))
            self.out.write(f"verification, phase {name}: {total:,} failure(s)\n" if total
                           else f"verification, phase {name}: every read checked out\n")
            for e in examples:
                self.out.write(f"  {e}\n")
