"""Evaluating thresholds (SLOs) against a run's summary: the end of ``pegload run`` and
``pegload check --slo`` share this. Parsing is :mod:`pegload.scenario.thresholds`.

A threshold whose op did not run (or ran zero times) is a breach with the reason "no data": an
SLO that cannot be checked must not pass silently in CI.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pegload.report.figures import LATENCY_STATS, figure, format_figure
from pegload.report.summary import ALL_OPS
from pegload.scenario.thresholds import Threshold


@dataclass(frozen=True)
class SloResult:
    threshold: Threshold
    phase: str | None  # None: the measured phases together
    actual: float | None  # in the threshold's canonical unit; None: no data
    unmet: str | None = None  # why it is a breach whatever the figure (an event that never recovered)

    @property
    def passed(self) -> bool:
        return self.actual is not None and self.unmet is None and self.threshold.holds(self.actual)

    @property
    def verdict(self) -> str:
        if self.actual is None:
            return "no data"
        return "pass" if self.passed else "breach"

    @property
    def name(self) -> str:
        return self.threshold.text if self.phase is None else f"{self.phase}: {self.threshold.text}"

    def describe(self) -> str:
        shown = format_figure(self.threshold.metric, self.actual)
        if self.actual is None and self.threshold.is_recovery:
            return f"{self.name}: no data (no event ran in its scope)"
        if self.actual is None:
            return f"{self.name}: no data (no {self.threshold.op} ops measured)"
        return f"{self.name}: {shown}{f' ({self.unmet})' if self.unmet else ''} -> {self.verdict}"

    def to_dict(self) -> dict[str, Any]:
        t = self.threshold
        return {"threshold": t.text, "phase": self.phase, "op": t.op, "kind": t.kind or None,
                "metric": t.metric, "comparator": t.comparator, "limit": t.value,
                "actual": self.actual, "verdict": self.verdict, "passed": self.passed,
                **({"unmet": self.unmet} if self.unmet else {})}


def value_for(scope: dict[str, Any], t: Threshold) -> float | None:
    """The measured value a threshold is compared with, from a summary scope (``measured`` or
    one phase): latencies in µs, throughput in ops/s, rates as fractions, counts as counts."""
    entry = scope.get(ALL_OPS) if t.op == ALL_OPS else scope.get("ops", {}).get(t.op)
    if not entry or not entry.get("count"):
        return None
    if t.metric in LATENCY_STATS:
        return figure(entry, t.metric, t.kind or "response")
    return figure(entry, t.metric)


def evaluate(scope: dict[str, Any], thresholds: Iterable[Threshold], phase: str | None = None,
             untrusted: dict[str, str] | None = None) -> list[SloResult]:
    """``untrusted``: latency stats the run's cautions say the client's own delays fill
    (:func:`untrusted_stats`); a threshold on one of them is not judged, which fails it: an SLO
    that cannot be checked must not pass."""
    out = []
    for t in thresholds:
        r = SloResult(t, phase, value_for(scope, t))
        why = (untrusted or {}).get(t.metric)
        if why is not None and r.actual is not None and (t.kind or "response") != "service":
            r = SloResult(t, phase, r.actual, f"not judged: {why}")
        out.append(r)
    return out


def untrusted_stats(summary: dict[str, Any], phase: str | None = None) -> dict[str, str]:
    """Latency stats (``p999``, ``max``) that the run's validity cautions say the client's own
    delays fill, in ``phase`` (None: any measured phase), each with the caution's text."""
    out: dict[str, str] = {}
    for c in (summary.get("validity") or {}).get("cautions") or []:
        if phase is None or c.get("phase") in (None, phase):
            for stat in c.get("stats") or []:
                out.setdefault(stat, c.get("text", ""))
    return out


def evaluate_summary(summary: dict[str, Any],
                     thresholds: Iterable[Threshold | tuple[str | None, Threshold]]) -> list[SloResult]:
    """Thresholds are either plain (judged on the measured phases together) or
    ``(phase_name, threshold)`` pairs from a phase's own ``thresholds:``. Raises ``ValueError``
    naming an unknown phase."""
    phases = {p["name"]: p for p in summary["phases"]}
    out = []
    for item in thresholds:
        phase, t = item if isinstance(item, tuple) else (None, item)
        if phase is None:
            scope = summary["measured"]
        elif phase in phases:
            scope = phases[phase]
        else:
            raise ValueError(f"threshold {t.text!r} names phase {phase!r}, which is not in this run "
                             f"(phases: {', '.join(phases) or 'none'})")
        if t.is_recovery:
            out.append(recovery_result(summary.get("events") or [], t, phase))
        else:
            out.extend(evaluate(scope, [t], phase, untrusted_stats(summary, phase)))
    return out


def recovery_result(events: list[dict[str, Any]], t: Threshold, phase: str | None) -> SloResult:
    """The slowest recovery (seconds) of the events in scope (a phase's own threshold: that
    phase's events; else all; None when none ran). An event that never recovered counts with its
    whole window (a lower bound) and makes the threshold a breach whatever that figure."""
    which = t.metric.split("_", 1)[1]  # recovery_p99 -> p99
    values, never = [], []
    for e in events:
        if phase is not None and e.get("phase") != phase:
            continue
        r = (e.get("recovery") or {}).get(which)
        if r and r.get("s") is not None:
            values.append(r["s"])
            if r.get("recovered") is False:
                never.append(str(e.get("label") or e.get("action")))
    unmet = f"not recovered after {', '.join(never)}" if never else None
    return SloResult(t, phase, max(values) if values else None, unmet)


def all_passed(results: Sequence[SloResult]) -> bool:
    return all(r.passed for r in results)
