"""``summary.json``: the source of truth of a report, built from a :class:`RunResult`.

Every figure in the HTML page, the terminal table, compare and check comes from this dict; the
encoded total histograms it carries let later tools merge repeated runs exactly.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any

from pegload.metrics import (HIGHEST_US, KINDS, LOWEST_US, SIGNIFICANT_DIGITS, OpTotals,
                             RunAccumulator)
from pegload.report.model import PhaseInfo, RunResult

SCHEMA_VERSION = 1
SUMMARY_KIND = "pegload-run"
LATENCY_STATS = ("p50", "p90", "p99", "p999", "max", "mean")
_PCTS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9, "max": 100.0}
ALL_OPS = "all"  # the per-phase aggregate over every op

TIMESERIES_COLUMNS = (
    "phase", "start", "duration", "op", "count", "ok", "misses", "errors", "verify_errors",
    *(f"{kind}.{stat}" for kind in KINDS for stat in ("p50", "p90", "p99", "p999", "max")),
)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def latency_stats(totals: OpTotals) -> dict[str, dict[str, float]]:
    out = {}
    for kind, h in zip(KINDS, totals.hists):
        p = h.percentiles(tuple(_PCTS.values()))
        stats: dict[str, float] = {name: p[pct] for name, pct in _PCTS.items()}
        stats["mean"] = round(h.mean(), 1)
        out[kind] = stats
    return out


def op_summary(totals: OpTotals, duration_s: float | None) -> dict[str, Any]:
    """The summary.json entry of one op (or of ``all``) over ``duration_s`` seconds."""
    count = totals.count
    return {
        "count": count,
        "throughput": round(count / duration_s, 3) if duration_s else None,
        "ok": totals.ok,
        "misses": totals.misses,
        "errors": totals.errors,
        "error_count": totals.error_count,
        "error_rate": totals.error_count / count if count else 0.0,
        "bytes": totals.nbytes,
        "verification_errors": totals.verify_errors,
        "latency_us": latency_stats(totals),
        "out_of_range": {kind: {"below": totals.below[i], "above": totals.above[i]}
                         for i, kind in enumerate(KINDS)},
        "histograms": {kind: h.to_base64() for kind, h in zip(KINDS, totals.hists) if h.total},
    }


def _merge(parts: list[OpTotals]) -> OpTotals:
    out = OpTotals()
    for p in parts:
        out.add(p)
    return out


def _scope(acc: RunAccumulator, phases: list[str], duration_s: float | None) -> dict[str, Any]:
    """ops + all for the given phases merged (histograms added, never averaged)."""
    by_op: dict[str, list[OpTotals]] = {}
    for phase in phases:
        for op in acc.ops(phase):
            by_op.setdefault(op, []).append(acc.totals(phase, op))
    merged = {op: _merge(parts) for op, parts in sorted(by_op.items())}
    everything = _merge(list(merged.values()))
    return {
        "duration_s": round(duration_s, 3) if duration_s else duration_s,
        "ops": {op: op_summary(t, duration_s) for op, t in merged.items()},
        ALL_OPS: op_summary(everything, duration_s),
    }


def _phase_list(run: RunResult) -> list[PhaseInfo]:
    """The coordinator's phases, plus any phase that only shows up in the data."""
    known = {p.name for p in run.phases}
    extra = [PhaseInfo(name) for name in run.accumulator.phases() if name not in known]
    return list(run.phases) + extra


def _duration(run: RunResult, phase: PhaseInfo) -> float | None:
    if phase.start is not None and phase.end is not None and phase.end > phase.start:
        return phase.end - phase.start
    span = run.accumulator.phase_spans.get(phase.name)
    return span[1] - span[0] if span else None


def timeseries(acc: RunAccumulator, t0: float) -> dict[str, Any]:
    rows = []
    for s in acc.series():
        for op, o in s.ops.items():
            row: list[Any] = [s.phase, round(s.t_start - t0, 3), round(s.duration, 3), op, o.count,
                              o.ok, o.misses, o.error_count, o.verify_errors]
            for kind in KINDS:
                k = o.kinds.get(kind)
                row.extend((k.p50, k.p90, k.p99, k.p999, k.max) if k else (None,) * 5)
            rows.append(row)
    return {"interval_s": acc.interval_s, "t0": t0, "columns": list(TIMESERIES_COLUMNS), "rows": rows}


def build_summary(run: RunResult) -> dict[str, Any]:
    acc = run.accumulator
    phases_out = []
    measured_names, measured_duration = [], 0.0
    for phase in _phase_list(run):
        duration = _duration(run, phase)
        scope = _scope(acc, [phase.name], duration)
        phases_out.append({
            "name": phase.name, "kind": phase.kind, "mode": phase.mode,
            "target_rate": phase.target_rate, "start": iso(phase.start), "end": iso(phase.end),
            "dropped": phase.dropped, "stopped_early": phase.stopped_early, **scope,
        })
        if phase.kind != "load":
            measured_names.append(phase.name)
            measured_duration += duration or 0.0
    if not measured_names:  # a load-only run: its load phase is what was measured
        measured_names = [p["name"] for p in phases_out]
        measured_duration = sum(p["duration_s"] or 0.0 for p in phases_out)
    status = run.status
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": SUMMARY_KIND,
        "run": {
            "id": run.run_id, "scenario_name": run.scenario_name,
            "started_at": iso(run.started_at), "ended_at": iso(run.ended_at),
            "started_at_epoch": run.started_at,
            "duration_s": round(run.ended_at - run.started_at, 3),
            "status": status.state, "exit_code": status.exit_code,
            "interrupted": status.interrupted, "crashed_workers": list(status.crashed_workers),
            "error": status.error, "seed": run.seed, "workers": run.workers,
            "concurrency": run.concurrency,
        },
        "scenario_hash": run.scenario_hash,
        "load_shape": run.load_shape(),
        "target": run.target.to_dict(),
        "validity": {"valid": run.validity.valid, "reasons": list(run.validity.reasons)},
        "histogram": {"unit": "us", "lowest": LOWEST_US, "highest": HIGHEST_US,
                      "significant_digits": SIGNIFICANT_DIGITS,
                      "encoding": "HdrHistogram V2 compressed, base64"},
        "phases": phases_out,
        "measured": {"phases": measured_names,
                     **_scope(acc, measured_names, measured_duration or None)},
        "timeseries": timeseries(acc, run.started_at),
        "self_check": run.self_check,
        "environment": run.environment,
        "scenario": run.scenario,
        **({"agents": run.agents} if run.agents else {}),  # a distributed run (docs/distributed.md)
    }


def dumps(summary: dict[str, Any]) -> str:
    """JSON with 2-space indentation, but lists of scalars on one line (time-series rows)."""
    return _dump(summary, 0) + "\n"


def _dump(obj: Any, level: int) -> str:
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(x, (dict, list, tuple)) for x in obj):
            return "[" + ", ".join(_scalar(x) for x in obj) + "]"
        return "[\n" + ",\n".join(inner + _dump(x, level + 1) for x in obj) + "\n" + pad + "]"
    return _scalar(obj)


def _scalar(x: Any) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return "null"  # JSON has no inf/nan
    return json.dumps(x, default=str)
