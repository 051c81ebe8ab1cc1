"""``summary.json``: the source of truth of a report, built from a :class:`RunResult`.

Every figure in the HTML page, the terminal table, compare and check comes from this dict; the
encoded total histograms it carries let later tools merge repeated runs exactly.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from pegload.metrics import HIGHEST_US, KINDS, LOWEST_US, SIGNIFICANT_DIGITS, OpTotals, RunAccumulator
from pegload.metrics.levels import LEVELS, MEAN
from pegload.report.atomic import atomic_write_text
from pegload.report.model import PhaseInfo, RunResult
from pegload.report.recovery import event_summaries
from pegload.report.server_view import compare

SCHEMA_VERSION = 2  # 2: validity details, retries, drain/unsent, per-worker histograms
SUMMARY_KIND = "pegload-run"
ALL_OPS = "all"  # the per-phase aggregate over every op

TIMESERIES_COLUMNS = (
    "phase", "start", "duration", "op", "count", "ok", "misses", "errors", "verify_errors",
    *(f"{kind}.{stat}" for kind in KINDS for stat in LEVELS),
)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def latency_stats(totals: OpTotals) -> dict[str, dict[str, float]]:
    out = {}
    for kind, h in zip(KINDS, totals.hists):
        p = h.percentiles(tuple(LEVELS.values()))
        stats: dict[str, float] = {name: p[level] for name, level in LEVELS.items()}
        stats[MEAN] = round(h.mean(), 1)
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
    """The throughput's denominator: an open-loop phase's planned length (its ops were slots in
    it; the drain after it is reported apart), else the measured span."""
    if phase.mode == "open" and phase.planned_s and not phase.stopped_early:
        return phase.planned_s
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
                row.extend((getattr(k, name) for name in LEVELS) if k else (None,) * len(LEVELS))
            rows.append(row)
    return {"interval_s": acc.interval_s, "t0": t0, "columns": list(TIMESERIES_COLUMNS), "rows": rows}


def _retries(run: RunResult, names: list[str]) -> dict[str, Any]:
    """Client retries per op and cause, and reconnections, over the given phases (from the
    workers' self-check: contract of pegload.runner.selfcheck)."""
    retries: dict[str, dict[str, int]] = {}
    reconnects = 0
    for name in names:
        section = (run.self_check.get("phases") or {}).get(name) or {}
        for op, causes in (section.get("retries") or {}).items():
            mine = retries.setdefault(op, {})
            for cause, n in causes.items():
                mine[cause] = mine.get(cause, 0) + n
        reconnects += section.get("reconnects", 0)
    return {"retries": {op: dict(sorted(c.items())) for op, c in sorted(retries.items())},
            "retry_count": sum(sum(c.values()) for c in retries.values()), "reconnects": reconnects}


def _with_retries(scope: dict[str, Any], retries: dict[str, Any]) -> dict[str, Any]:
    """Each op entry gets its own retries by cause, ``all`` the totals, beside the errors."""
    for op, entry in scope["ops"].items():
        causes = retries["retries"].get(op, {})
        entry["retries"], entry["retry_count"] = causes, sum(causes.values())
    scope[ALL_OPS]["retries"] = {}
    for causes in retries["retries"].values():
        for cause, n in causes.items():
            scope[ALL_OPS]["retries"][cause] = scope[ALL_OPS]["retries"].get(cause, 0) + n
    scope[ALL_OPS]["retry_count"] = retries["retry_count"]
    scope[ALL_OPS]["reconnects"] = retries["reconnects"]
    return scope


def _workers(acc: RunAccumulator, phase: str) -> dict[str, Any]:
    """Each worker's own counts and histograms of a phase, so that the merge can be audited:
    adding them gives the phase's ``ops`` entries."""
    out = {}
    for w in acc.workers(phase):
        ops = {}
        for op in acc.ops(phase):
            t = acc.worker_totals(phase, op, w)
            if t.count or any(h.total for h in t.hists):
                ops[op] = {"count": t.count, "error_count": t.error_count,
                           "histograms": {kind: h.to_base64() for kind, h in zip(KINDS, t.hists) if h.total}}
        out[str(w)] = {"ops": ops}
    return out


def build_summary(run: RunResult) -> dict[str, Any]:
    acc = run.accumulator
    phases_out = []
    measured_names, measured_duration = [], 0.0
    for phase in _phase_list(run):
        duration = _duration(run, phase)
        scope = _with_retries(_scope(acc, [phase.name], duration), _retries(run, [phase.name]))
        measured_span = (phase.end - phase.start) if phase.start is not None and phase.end is not None else None
        drain_s = (round(max(measured_span - phase.planned_s, 0.0), 3)
                   if phase.mode == "open" and phase.planned_s and measured_span is not None else None)
        phases_out.append({
            "name": phase.name, "kind": phase.kind, "mode": phase.mode,
            "target_rate": phase.target_rate, "arrivals": phase.arrivals,
            "start": iso(phase.start), "end": iso(phase.end),
            "planned_s": phase.planned_s, "measured_span_s": round(measured_span, 3) if measured_span else None,
            "dropped": phase.dropped, "stopped_early": phase.stopped_early,
            "drain": {"ops": phase.late_sent, "s": drain_s}, "unsent": phase.unsent, **scope,
            "workers": _workers(acc, phase.name),
        })
        if phase.kind != "load":
            measured_names.append(phase.name)
            measured_duration += duration or 0.0
    if not measured_names:  # a load-only run: its load phase is what was measured
        measured_names = [p["name"] for p in phases_out]
        measured_duration = sum(p["duration_s"] or 0.0 for p in phases_out)
    status = run.status
    measured = _with_retries(_scope(acc, measured_names, measured_duration or None), _retries(run, measured_names))
    validity = run.validity
    server = run.server
    if server is not None and server.get("captured"):
        rows, warnings = compare(server, phases_out)
        server = {**server, "comparison": rows, "warnings": warnings}
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
        "validity": {"valid": validity.valid, "limited_by": validity.limited_by,
                     "reasons": list(validity.reasons), "details": [dict(d) for d in validity.details],
                     "cautions": [dict(c) for c in validity.cautions]},
        "histogram": {"unit": "us", "lowest": LOWEST_US, "highest": HIGHEST_US,
                      "significant_digits": SIGNIFICANT_DIGITS,
                      "encoding": "HdrHistogram V2 compressed, base64"},
        "phases": phases_out,
        "measured": {"phases": measured_names, **measured},
        "timeseries": timeseries(acc, run.started_at),
        "self_check": run.self_check,
        "environment": run.environment,
        "scenario": run.scenario,
        **({"agents": run.agents} if run.agents else {}),  # a distributed run (docs/distributed.md)
        **({"server": server} if server is not None else {}),  # docs/server-metrics.md
        **({"events": event_summaries(run.events, acc, _phase_list(run), run.scenario, run.started_at)}
           if run.events else {}),
    }


def record_exit_code(summary_path: str | Path, exit_code: int) -> None:
    """Rewrite ``run.exit_code`` of a written summary.json with the process's final exit code
    (decided after the report is written: an SLO breach turns 0 into 1). Replaced atomically."""
    path = Path(summary_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["run"].get("exit_code") == exit_code:
        return
    data["run"]["exit_code"] = exit_code
    atomic_write_text(path, dumps(data))


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
