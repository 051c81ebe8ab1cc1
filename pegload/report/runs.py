"""Reading reports back: ``summary.json`` files (or report folders) for compare, check and HTML.

Every problem with an input file raises :class:`ReportError` with the file and what is wrong;
the CLIs turn it into exit code 2.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pegload.metrics import (
    HIGHEST_US,
    KINDS,
    LOWEST_US,
    MISS,
    OK,
    SIGNIFICANT_DIGITS,
    HistogramFormatError,
    LatencyHistogram,
    OpTotals,
)
from pegload.report.slo import untrusted_stats
from pegload.report.summary import ALL_OPS, SCHEMA_VERSION, SUMMARY_KIND, op_summary

SUMMARY_FILE = "summary.json"
_REQUIRED = ("run", "scenario_hash", "load_shape", "target", "histogram", "phases", "measured")


class ReportError(Exception):
    """An input report is missing, corrupt or cannot be used (exit code 2 in the CLIs)."""


@dataclass
class LoadedRun:
    """One run's ``summary.json`` plus where it came from."""

    path: Path
    summary: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.summary["run"].get("id") or self.path.parent.name)

    @property
    def target(self) -> dict[str, Any]:
        return self.summary["target"]

    @property
    def label(self) -> str:
        """Short name for tables: the target's name, else the run id."""
        return str(self.target.get("name") or self.run_id)

    def unusable(self) -> str | None:
        """Why this run must not be judged by a gate (it did not complete, or its own
        self-check says its figures cannot be trusted), or None."""
        run, validity = self.summary["run"], self.summary.get("validity") or {}
        state = run.get("status", "completed")
        if state != "completed":
            detail = run.get("error") or ""
            crashed = [f"worker {w.get('worker_id')}: {w.get('reason')}" for w in run.get("crashed_workers") or []]
            more = "; ".join([d for d in [detail, *crashed] if d])
            return f"{state}" + (f" ({more})" if more else "")
        if not validity.get("valid", True):
            return "NOT VALID (" + "; ".join(validity.get("reasons") or ["no reason recorded"]) + ")"
        return None

    def untrusted(self, phase: str | None = None) -> dict[str, str]:
        """Latency stats the run's cautions say the client's own delays fill (not judged)."""
        return untrusted_stats(self.summary, phase)

    def phase_names(self) -> list[str]:
        return [p["name"] for p in self.summary["phases"]]

    def scope(self, phase: str | None = None) -> dict[str, Any]:
        """``measured`` (every non-load phase merged) or one named phase."""
        if phase is None:
            return self.summary["measured"]
        for p in self.summary["phases"]:
            if p["name"] == phase:
                return p
        raise ReportError(f"{self.path}: no phase named {phase!r} (phases: "
                          f"{', '.join(self.phase_names()) or 'none'})")

    def op(self, op: str, phase: str | None = None) -> dict[str, Any] | None:
        scope = self.scope(phase)
        return scope[ALL_OPS] if op == ALL_OPS else scope["ops"].get(op)

    def ops(self, phase: str | None = None) -> list[str]:
        return list(self.scope(phase)["ops"])


def load_run(path: str | Path) -> LoadedRun:
    """Load a report folder or a ``summary.json``. Raises :class:`ReportError`."""
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY_FILE
    if not p.exists():
        where = f"{p.parent} has no {SUMMARY_FILE}" if p.name == SUMMARY_FILE else f"{p} does not exist"
        raise ReportError(f"{where} (expected a pegload report folder or its summary.json)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"{p}: not a text file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("kind") != SUMMARY_KIND:
        raise ReportError(f"{p}: not a pegload run summary (\"kind\" is not {SUMMARY_KIND!r})")
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ReportError(f"{p}: schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise ReportError(f"{p}: written with summary schema {version}, this pegload reads up to "
                          f"{SCHEMA_VERSION}: upgrade pegload")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ReportError(f"{p}: incomplete summary, missing {', '.join(missing)}")
    layout = data["histogram"]
    ours = {"unit": "us", "lowest": LOWEST_US, "highest": HIGHEST_US,
            "significant_digits": SIGNIFICANT_DIGITS}
    theirs = {k: layout.get(k) for k in ours}
    if theirs != ours:
        raise ReportError(f"{p}: histograms recorded as {theirs}, pegload merges only {ours}")
    _check_histograms(p, data)
    return LoadedRun(p, data)


def _check_histograms(path: Path, data: dict[str, Any]) -> None:
    """Decode every stored histogram now, so a damaged file fails on load with its location
    rather than later in the middle of a merge."""
    scopes = [(f"phases[{i}] ({ph.get('name')})", ph) for i, ph in enumerate(data["phases"])]
    scopes.append(("measured", data["measured"]))
    for where, scope in scopes:
        if not isinstance(scope, dict) or not isinstance(scope.get("ops"), dict) or ALL_OPS not in scope:
            raise ReportError(f"{path}: {where}: expected \"ops\" and \"{ALL_OPS}\" entries")
        for op, entry in [*scope["ops"].items(), (ALL_OPS, scope[ALL_OPS])]:
            entry_totals(entry, f"{path}: {where}.{op}")


def load_runs(paths: Iterable[str | Path]) -> list[LoadedRun]:
    return [load_run(p) for p in paths]


def entry_totals(entry: dict[str, Any], where: str) -> OpTotals:
    """Rebuild counters and histograms from a summary op entry (to merge repeated runs)."""
    t = OpTotals()
    outcomes = dict(entry.get("errors", {}))
    if entry.get("ok"):
        outcomes[OK] = entry["ok"]
    if entry.get("misses"):
        outcomes[MISS] = entry["misses"]
    oor = entry.get("out_of_range", {})
    t.add_counters(entry.get("count", 0), outcomes, entry.get("bytes", 0),
                   entry.get("verification_errors", 0),
                   [oor.get(k, {}).get("below", 0) for k in KINDS],
                   [oor.get(k, {}).get("above", 0) for k in KINDS])
    for kind, encoded in entry.get("histograms", {}).items():
        if kind not in KINDS:
            raise ReportError(f"{where}: unknown histogram kind {kind!r} (expected {', '.join(KINDS)})")
        try:
            t.hist(kind).add_encoded(encoded)
        except HistogramFormatError as exc:
            raise ReportError(f"{where}: {kind} histogram: {exc}") from None
        if t.hist(kind).total != t.count:
            raise ReportError(f"{where}: {kind} histogram holds {t.hist(kind).total} samples "
                              f"but the entry counts {t.count} ops")
    return t


def merged_scope(runs: list[LoadedRun], phase: str | None = None) -> dict[str, Any]:
    """One scope (ops + all) for several runs of the same thing: counts and histograms added,
    throughput = all ops / all measured seconds. A single run is returned as it is."""
    if len(runs) == 1:
        return runs[0].scope(phase)
    duration = 0.0
    by_op: dict[str, OpTotals] = {}
    everything = OpTotals()
    for run in runs:
        scope = run.scope(phase)
        duration += scope.get("duration_s") or 0.0
        for op, entry in scope["ops"].items():
            by_op.setdefault(op, OpTotals()).add(entry_totals(entry, f"{run.path}: {op}"))
        everything.add(entry_totals(scope[ALL_OPS], f"{run.path}: {ALL_OPS}"))
    d = duration or None
    return {"duration_s": round(duration, 3) if d else None,
            "ops": {op: op_summary(t, d) for op, t in sorted(by_op.items())},
            ALL_OPS: op_summary(everything, d)}


def scope_hist(entry: dict[str, Any] | None, kind: str) -> LatencyHistogram | None:
    if not entry or kind not in entry.get("histograms", {}):
        return None
    return LatencyHistogram.decode(entry["histograms"][kind])
