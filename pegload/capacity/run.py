"""``pegload capacity``: open the target once, run the search's steps on it, write the capacity
report (``summary.json`` of kind ``pegload-capacity``, ``report.html``, ``summary.txt``) with
each step's own run report under ``steps/``.

Exit status: 0 the search judged the target (``limited_by`` slo, errors or max_rate); 1 the
client was the limit (the figure is a floor: more load is needed); 2 bad input, unusable target
or report folder; 3 a step could not run or could not be judged (worker or target lost);
130 interrupted. The report is written in every case where at least one step ran. A scenario with several
``targets:`` gets one search per target (``<report dir>/<target>/``) and a comparison beside them
(``comparison.txt``/``.html``: the capacity ratio and the overlaid curves).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pegload.capacity import search as capsearch
from pegload.capacity.progress import CapacityProgress, bracket_text
from pegload.capacity.slo import slo_text
from pegload.capacity.steps import StepFailed, StepRunner, measured_phase
from pegload.coordinator.interrupts import Interrupts
from pegload.coordinator.logdirs import keep_logs, new_log_dir, remove_stale_log_dirs
from pegload.coordinator.run import default_report_dir
from pegload.coordinator.target import TargetError, open_target
from pegload.report.atomic import atomic_write_text
from pegload.report.figures import format_rate
from pegload.report.summary import dumps, iso
from pegload.report.writer import ReportDirError, prepare_report_dir
from pegload.scenario import Scenario, scenario_hash
from pegload.scenario.thresholds import Threshold

SUMMARY_KIND = "pegload-capacity"
SCHEMA_VERSION = 1
EXIT_OK, EXIT_CLIENT, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

CLIENT_ADVICE = ("the client, not the target, was the limit: give it more load capacity with more "
                 "--workers (processes), more --concurrency (greenlets per worker) or more machines "
                 "(--dask SCHEDULER with more --agents, docs/distributed.md), then search again")


@dataclass(frozen=True)
class SearchOptions:
    start_rate: float
    max_rate: float
    step_duration_s: float
    warmup_s: float
    precision: float
    repeat: int


@dataclass(frozen=True)
class SweepOptions:
    """``--closed``: concurrency 1, 2, 4, ... up to ``max_concurrency`` (total greenlets)."""

    max_concurrency: int
    step_duration_s: float
    warmup_s: float
    plateau: float = 0.05  # stop after two doublings that each gained less than this


class CapacityRun:
    def __init__(self, scenario: Scenario, terms: Sequence[Threshold], *, step_duration_s: float,
                 warmup_s: float, report_dir: Path | None = None,
                 quiet: bool = False, overwrite: bool = False, out: TextIO | None = None, err: TextIO | None = None,
                 worker_env: dict[str, str] | None = None, dask: Any = None) -> None:
        self.scenario = scenario
        self.terms = list(terms)
        self.step_duration_s = step_duration_s
        self.warmup_s = warmup_s
        self.base = Path(report_dir) if report_dir else default_report_dir(
            dataclasses.replace(scenario, name=f"{scenario.name}-capacity"))
        self.overwrite = overwrite
        self.out = out if out is not None else sys.stdout
        self.progress = CapacityProgress(err if err is not None else sys.stderr, quiet=quiet, terms=self.terms)
        self.worker_env = worker_env
        self.dask = dask  # pegload.distributed.DaskOptions or None
        self.steps: list[dict[str, Any]] = []
        self.target: dict[str, Any] = {}
        self.error: str | None = None

    # -- the two modes -----------------------------------------------------------------------
    def search(self, opts: SearchOptions) -> int:
        params = capsearch.SearchParams(opts.start_rate, opts.max_rate, opts.precision, opts.repeat)
        settings = {"mode": "open", "start_rate": opts.start_rate, "rate_ceiling": opts.max_rate,
                    "precision": opts.precision, "repeat": opts.repeat, "step_duration_s": opts.step_duration_s,
                    "warmup_s": opts.warmup_s}

        def body(runner: StepRunner) -> tuple[dict[str, Any], int]:
            def step(rate: float, planned: capsearch.SearchStep) -> capsearch.StepVerdict:
                lo, hi = planned.bracket
                rep = f" repeat {planned.repeat}/{opts.repeat}" if opts.repeat > 1 else ""
                self.progress.context = (f"step {planned.index + 1} {planned.stage} {bracket_text(lo, hi)} "
                                         f"{format_rate(rate)}/s{rep}")
                self.progress.say(f"== step {planned.index + 1} ({planned.stage}, bracket {bracket_text(lo, hi)} "
                                  f"ops/s): {format_rate(rate)} ops/s for {opts.step_duration_s:g} s{rep}")
                record = runner.run(rate=rate, label=f"{rate:.0f}")
                record.update(index=planned.index, stage=planned.stage, repeat=planned.repeat,
                              bracket=[lo, hi])
                self._note_step(record)
                return capsearch.StepVerdict(record["verdict"], record)

            res = capsearch.search(params, step)
            return self._search_section(res, settings), self._exit_code(res.limited_by)

        return self._execute(body)

    def sweep(self, opts: SweepOptions) -> int:
        settings = {"mode": "closed", "max_concurrency": opts.max_concurrency,
                    "step_duration_s": opts.step_duration_s, "warmup_s": opts.warmup_s, "plateau": opts.plateau}

        def body(runner: StepRunner) -> tuple[dict[str, Any], int]:
            c, flat, best, ended = 1, 0, 0.0, "max_concurrency"
            while c <= opts.max_concurrency:
                workers = min(self.scenario.workers, c)
                per_worker = -(-c // workers)
                self.progress.context = f"closed c={c}"
                self.progress.say(f"== closed loop, {c} greenlet(s) in all, {opts.step_duration_s:g} s")
                runner.scenario = _with_workers(self.scenario, workers)
                record = runner.run(rate=None, concurrency=per_worker, label=f"c{c}")
                record.update(index=len(self.steps), stage="closed")
                _little(record)
                self._note_step(record)
                if record["verdict"] in (capsearch.INVALID, capsearch.INTERRUPTED):
                    ended = record["verdict"]
                    break
                got = record["achieved_rate"] or 0.0
                flat = flat + 1 if best and got < best * (1 + opts.plateau) else 0
                best = max(best, got)
                if flat >= 2:
                    ended = "plateau"
                    break
                c *= 2
            met = [s for s in self.steps if s["verdict"] == capsearch.PASS]
            section = {**settings, "slo": [t.text for t in self.terms], "slo_text": slo_text(self.terms),
                       "max_rate": max((s["achieved_rate"] or 0.0 for s in met), default=None),
                       "limited_by": ended, "judged": False, "steps": self.steps}
            return section, EXIT_INTERRUPTED if ended == capsearch.INTERRUPTED else (
                EXIT_FAILED if ended == capsearch.INVALID else EXIT_OK)

        return self._execute(body)

    # -- shared machinery --------------------------------------------------------------------
    def _execute(self, body) -> int:
        if len(self.scenario.targets) > 1:  # run_search/run_sweep split them: one search per target
            raise ValueError("a capacity run measures one target")
        created = not self.base.exists()
        try:
            prepare_report_dir(self.base, self.overwrite)
        except ReportDirError as exc:
            self.progress.warn(f"pegload capacity: {exc}")
            return EXIT_BAD_INPUT
        remove_stale_log_dirs()
        log_dir = new_log_dir()
        started = time.time()
        code, section = EXIT_FAILED, None
        try:
            try:
                opened = open_target(self.scenario.target, log_dir)
            except TargetError as exc:
                self.progress.warn(f"pegload capacity: {exc}")
                return EXIT_BAD_INPUT
            try:
                with Interrupts() as interrupts:
                    runner = StepRunner(self.scenario, opened, self.base, self.terms,
                                        duration_s=self.step_duration_s, warmup_s=self.warmup_s,
                                        progress=self.progress, interrupts=interrupts, worker_env=self.worker_env,
                                        dask=self.dask)
                    try:
                        section, code = body(runner)
                    except StepFailed as exc:
                        self.error = str(exc)
                        self.progress.warn(f"pegload capacity: a step could not run: {exc}")
                        code = EXIT_INTERRUPTED if interrupts.requested else EXIT_FAILED
            finally:
                self.progress.done()
                opened.close()
        finally:
            keep_logs(log_dir, self.base if code not in (EXIT_OK, EXIT_CLIENT) else None)
            if created and not self.steps:
                try:
                    self.base.rmdir()
                except OSError:
                    pass
        if not self.steps:
            return code
        if section is None:
            section = {"mode": "open", "slo": [t.text for t in self.terms], "slo_text": slo_text(self.terms),
                       "max_rate": None, "limited_by": capsearch.INVALID, "judged": False, "steps": self.steps}
        summary = self._summary(section, started, code)
        self._write(summary)
        return code

    def _note_step(self, record: dict[str, Any]) -> None:
        self.steps.append(record)
        if not self.target:
            try:
                data = (self.base / record["report"] / "summary.json").read_text(encoding="utf-8")
                self.target = json.loads(data).get("target") or {}
            except (OSError, ValueError):
                pass
        from pegload.report.capacity import step_line

        self.progress.say(step_line(record, self.terms))

    def _search_section(self, res: capsearch.SearchResult, settings: dict[str, Any]) -> dict[str, Any]:
        advice = CLIENT_ADVICE if res.limited_by == capsearch.CLIENT else None
        return {**settings, "slo": [t.text for t in self.terms], "slo_text": slo_text(self.terms),
                "max_rate": res.max_rate, "limited_by": res.limited_by, "judged": res.judged,
                "lowest_fail": res.lowest_fail, "advice": advice, "steps": self.steps}

    @staticmethod
    def _exit_code(limited_by: str) -> int:
        return {capsearch.CLIENT: EXIT_CLIENT, capsearch.INVALID: EXIT_FAILED,
                capsearch.INTERRUPTED: EXIT_INTERRUPTED}.get(limited_by, EXIT_OK)

    def _summary(self, section: dict[str, Any], started: float, code: int) -> dict[str, Any]:
        s = self.scenario
        section = {"phase": measured_phase(s).name, **section}
        return {
            "schema_version": SCHEMA_VERSION, "kind": SUMMARY_KIND,
            "run": {"id": self.base.name, "scenario_name": s.name, "started_at": iso(started),
                    "ended_at": iso(time.time()), "duration_s": round(time.time() - started, 3),
                    "exit_code": code, "error": self.error, "workers": s.workers, "concurrency": s.concurrency},
            "scenario_hash": scenario_hash(s), "target": self.target, "capacity": section,
            "scenario": s.to_dict(),
        }

    def _write(self, summary: dict[str, Any]) -> None:
        from pegload.report.capacity import capacity_text, render_capacity_html

        text = capacity_text(summary)
        atomic_write_text(self.base / "summary.txt", text + "\n")
        atomic_write_text(self.base / "report.html", render_capacity_html(summary))
        atomic_write_text(self.base / "summary.json", dumps(summary))
        self.out.write("\n" + text + "\n")
        self.out.write(f"report: {self.base / 'report.html'}\n")
        self.out.flush()


def _with_workers(scenario: Scenario, workers: int) -> Scenario:
    return dataclasses.replace(scenario, workers=workers)


def _little(record: dict[str, Any]) -> None:
    """Little's law for a closed-loop step: ops in flight = throughput x mean latency; with no
    think time it should equal the greenlets (less the time each spends in the client)."""
    mean_us = record["ops"]["all"].get("mean_us")
    rate = record["achieved_rate"]
    record["little"] = {"concurrency": record["concurrency"], "throughput": rate, "mean_latency_us": mean_us,
                        "in_flight": round(rate * mean_us / 1e6, 3) if rate and mean_us else None}


_SEVERITY = {EXIT_OK: 0, EXIT_CLIENT: 1, EXIT_BAD_INPUT: 2, EXIT_FAILED: 3, EXIT_INTERRUPTED: 4}


def _each_target(scenario: Scenario, terms: Sequence[Threshold], opts: SearchOptions | SweepOptions,
                 report_dir: str | Path | None = None, **kw: Any) -> int:
    """One search (or sweep) per target of the scenario; several targets get a folder each under
    the report folder and a comparison (capacity ratio, overlaid curves) beside them."""
    def one(sc: Scenario, where: str | Path | None) -> int:
        run = CapacityRun(sc, terms, step_duration_s=opts.step_duration_s, warmup_s=opts.warmup_s,
                          report_dir=Path(where) if where else None, **kw)
        return run.sweep(opts) if isinstance(opts, SweepOptions) else run.search(opts)

    if len(scenario.targets) == 1:
        return one(scenario, report_dir)
    base = Path(report_dir) if report_dir else default_report_dir(
        dataclasses.replace(scenario, name=f"{scenario.name}-capacity"))
    codes, done = [], []
    for target in scenario.targets:
        err = kw.get("err") or sys.stderr
        if not kw.get("quiet"):
            print(f"== target {target.name}", file=err, flush=True)
        code = one(dataclasses.replace(scenario, targets=(target,)), base / target.name)
        codes.append(code)
        if (base / target.name / "summary.json").is_file():
            done.append(base / target.name)
        if code in (EXIT_BAD_INPUT, EXIT_INTERRUPTED):
            break
    if len(done) > 1:
        from pegload.report.capacity import compare_capacity

        text, page = compare_capacity(done)
        atomic_write_text(base / "comparison.txt", text + "\n")
        atomic_write_text(base / "comparison.html", page)
        out = kw.get("out") or sys.stdout
        out.write("\n" + text + f"\ncomparison: {base / 'comparison.html'}\n")
    return max(codes, key=lambda c: _SEVERITY.get(c, 5))


def run_search(scenario: Scenario, terms: Sequence[Threshold], opts: SearchOptions, **kw: Any) -> int:
    """``pegload capacity``: see the module docstring. ``kw``: CapacityRun's keyword options."""
    return _each_target(scenario, terms, opts, **kw)


def run_sweep(scenario: Scenario, terms: Sequence[Threshold], opts: SweepOptions, **kw: Any) -> int:
    """``pegload capacity --closed``."""
    return _each_target(scenario, terms, opts, **kw)
