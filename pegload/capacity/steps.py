"""One capacity step: the scenario's measured phase at one rate (open loop) or one concurrency
(closed loop), run by an ordinary :class:`RunSession` on a target opened once for the whole
search, with its own report folder (summary.json, histograms) under ``steps/``.

The first step also runs the scenario's load phase (the data set is written once: the target
stays up between steps). Steps drop the scenario's own thresholds: the capacity SLO judges them.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pegload.capacity import search
from pegload.capacity.slo import StepJudgement, judge_step
from pegload.coordinator.interrupts import Interrupts
from pegload.coordinator.logdirs import keep_logs
from pegload.coordinator.progress import Progress
from pegload.coordinator.session import RunFailed, RunSession
from pegload.coordinator.target import OpenTarget
from pegload.metrics.levels import PERCENTILES
from pegload.report import write_report
from pegload.report.summary import ALL_OPS
from pegload.report.writer import ReportWriteError
from pegload.scenario import Scenario
from pegload.scenario.schema import Phase
from pegload.scenario.thresholds import Threshold

STEPS_DIR = "steps"
KINDS_KEPT = ("response", "service", "lateness")


class StepFailed(Exception):
    """A step could not run at all (workers did not start, the target went away)."""


def measured_phase(scenario: Scenario) -> Phase:
    """The phase a capacity search drives: the scenario's last one."""
    if not scenario.phases:
        raise ValueError(f"scenario {scenario.name!r} has no measured phase to search with")
    return scenario.phases[-1]


def step_scenario(scenario: Scenario, *, rate: float | None, duration_s: float, warmup_s: float,
                  with_load: bool, concurrency: int | None = None) -> Scenario:
    """The scenario of one step: only the measured phase, open loop at ``rate`` (closed loop when
    ``rate`` is None), for ``duration_s`` after ``warmup_s``; the load phase only if ``with_load``."""
    phase = measured_phase(scenario)
    step = dataclasses.replace(phase, mode="open" if rate else "closed", rate=rate, duration_s=duration_s,
                               ops=None, warmup_s=warmup_s, ramp=None, thresholds=())
    changes: dict[str, Any] = {"phases": (step,), "thresholds": (),
                               "load": dataclasses.replace(scenario.load, enabled=with_load and scenario.load.enabled)}
    if concurrency is not None:
        changes["concurrency"] = concurrency
    return dataclasses.replace(scenario, **changes)


def latency_table(scope: dict[str, Any]) -> dict[str, Any]:
    """p50/p90/p99/p99.9 (µs) per op (and ``all``) and latency kind, with counts and errors."""
    out = {}
    for op, entry in [*scope["ops"].items(), (ALL_OPS, scope[ALL_OPS])]:
        lat = entry.get("latency_us") or {}
        out[op] = {"count": entry.get("count", 0), "error_count": entry.get("error_count", 0),
                   "error_rate": entry.get("error_rate", 0.0), "mean_us": lat.get("response", {}).get("mean"),
                   "latency_us": {k: {p: lat[k].get(p) for p in PERCENTILES} for k in KINDS_KEPT if k in lat}}
    return out


class StepRunner:
    """Runs steps of one scenario on ``opened``; each step's report goes to ``base/steps/NN-...``."""

    def __init__(self, scenario: Scenario, opened: OpenTarget, base: Path, terms: Sequence[Threshold], *,
                 duration_s: float, warmup_s: float, progress: Progress, interrupts: Interrupts,
                 worker_env: dict[str, str] | None = None, on_result: Callable[[Any], None] | None = None,
                 dask: Any = None) -> None:
        self.scenario = scenario
        self.opened = opened
        self.base = base
        self.terms = list(terms)
        self.duration_s = duration_s
        self.warmup_s = warmup_s
        self.progress = progress
        self.interrupts = interrupts
        self.worker_env = worker_env
        self.loaded = False
        self.count = 0
        self.on_result = on_result
        self.dask = dask  # pegload.distributed.DaskOptions: each step's workers run on the Dask agents

    def run(self, *, rate: float | None, concurrency: int | None = None, label: str) -> dict[str, Any]:
        """Run one step; its record (see docs/capacity.md, ``steps``) with ``verdict``."""
        scenario = step_scenario(self.scenario, rate=rate, duration_s=self.duration_s, warmup_s=self.warmup_s,
                                 with_load=not self.loaded, concurrency=concurrency)
        self.count += 1
        folder = Path(STEPS_DIR) / f"{self.count:02d}-{label}"
        log_dir = Path(tempfile.mkdtemp(prefix=f"pegload-logs-{os.getpid()}-"))
        keep = None
        try:
            launcher: Any = None
            if self.dask is not None:  # as `pegload run --dask`: workers = agents x the scenario's workers
                from pegload.distributed import DaskLaunchError, prepare_dask_run

                try:
                    scenario, launcher = prepare_dask_run(self.dask, scenario, scenario.target, self.progress,
                                                          self.interrupts)
                except DaskLaunchError as exc:
                    raise StepFailed(str(exc)) from None
            session = RunSession(scenario, scenario.target, progress=self.progress, interrupts=self.interrupts,
                                 log_dir=log_dir, worker_env=self.worker_env, opened=self.opened,
                                 launcher=launcher)
            try:
                result = session.execute()
            except RunFailed as exc:
                keep = self.base / folder
                raise StepFailed(str(exc)) from None
            if launcher is not None:
                launcher.annotate(result)
            if self.on_result is not None:
                self.on_result(result)
            self.loaded = True
            try:
                paths = write_report(result, self.base / folder)
            except ReportWriteError as exc:  # the message says where the step's data was saved
                raise StepFailed(str(exc)) from None
            if result.status.exit_code:
                keep = self.base / folder
        finally:
            keep_logs(log_dir, keep)
        summary = paths.data
        name = measured_phase(self.scenario).name
        scope = next(p for p in summary["phases"] if p["name"] == name)
        validity = summary["validity"]
        judged: StepJudgement = judge_step(scope, self.terms, valid=validity["valid"],
                                           limited_by=validity.get("limited_by"),
                                           reasons=[d.get("reason") for d in validity.get("details") or []],
                                           interrupted=bool(summary["run"].get("interrupted")))
        figures = ((summary.get("self_check") or {}).get("phases", {}).get(name) or {}).get("figures") or {}
        achieved = (figures.get("rate") or {}).get("achieved_ops_s")
        if achieved is None:
            achieved = scope[ALL_OPS].get("throughput")
        return {
            "target_rate": rate, "concurrency": scenario.concurrency * scenario.workers,
            "achieved_rate": achieved, "verdict": judged.verdict, "note": judged.note,
            "validity": {"valid": validity["valid"], "limited_by": validity.get("limited_by"),
                         "reasons": list(validity.get("reasons") or []),
                         "codes": [d.get("reason") for d in validity.get("details") or []]},
            "slo": [r.to_dict() for r in judged.results],
            "ops": latency_table(scope),
            "errors": {"count": scope[ALL_OPS].get("error_count", 0), "rate": scope[ALL_OPS].get("error_rate", 0.0),
                       "by_name": scope[ALL_OPS].get("errors", {})},
            "duration_s": scope.get("duration_s"),
            "report": str(folder),
        }


def verdict_of(record: dict[str, Any]) -> search.StepVerdict:
    return search.StepVerdict(record["verdict"], record)
