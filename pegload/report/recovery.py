"""The events of a run (``summary.json`` ``events``) with their recovery figures.

For each event that ran, within its window (from the event until the next event of its phase,
or the phase's end), per client interval (1 s):

- p99: the response-time p99 of every op of the interval together (the interval histograms
  merged). Its limit is the scenario's ``p99`` response SLO for all ops (``p99 < ...`` /
  ``all.p99 < ...``, top-level or the phase's own; the tightest) if there is one, else the
  higher of twice the median interval p99 before the event and the worst one plus 25% (the
  baseline: the phase's intervals that ended before the event, after the previous event
  recovered).
- errors: the interval's error rate; its limit the scenario's error-rate SLO (``errors < x%``)
  if there is one, else the baseline's rate plus 0.1 percentage point.

``recovery.<p99|errors>.s`` is the time from the event until the start of the first STEADY (3)
intervals in a row under the limit after the first one over it (0: none was over); a lone
spike later in the window does not undo a recovery. Without such a run the event did not
recover in its window (``recovered: false``; ``s`` is then the window's length, a lower bound).
Errors (by code) and timeouts are attributed to the event from the event until it
recovered (both figures), or the window's end. The resolution is the client's interval.
"""
from __future__ import annotations

import statistics
from typing import Any

from pegload.metrics import LatencyHistogram
from pegload.scenario.thresholds import ThresholdError, parse_threshold

ERROR_TOLERANCE = 0.001  # above the baseline's error rate, without an SLO
# Without an SLO, the p99 limit is the higher of these: twice the baseline's median interval p99,
# and its worst interval p99 plus a quarter (per-interval p99s of a quiet run vary by several
# times on a shared machine: an interval no worse than the quiet ones is not a disturbance)
P99_TOLERANCE = 2.0
WORST_MARGIN = 1.25
STEADY = 3  # intervals in a row under the limit that count as recovered


def _slo_limits(scenario: dict[str, Any], phase: str) -> tuple[float | None, float | None]:
    """(p99 limit µs, error-rate limit) from the thresholds that apply to ``phase``."""
    texts = list(scenario.get("thresholds") or [])
    for p in scenario.get("phases") or []:
        if p.get("name") == phase:
            texts += list(p.get("thresholds") or [])
    p99 = err = None
    for text in texts:
        try:
            t = parse_threshold(text)
        except ThresholdError:
            continue
        if t.op != "all" or t.comparator not in ("<", "<="):
            continue
        if t.metric == "p99" and t.kind == "response":
            p99 = t.value if p99 is None else min(p99, t.value)
        elif t.metric == "error_rate":
            err = t.value if err is None else min(err, t.value)
    return p99, err


def _interval_rows(acc, phase: str) -> list[dict[str, Any]]:
    rows = []
    for iv in acc.series():
        if iv.phase != phase or iv.count == 0:
            continue
        h = LatencyHistogram()
        for o in iv.ops.values():
            k = o.kinds.get("response")
            if k is not None:
                h.add(LatencyHistogram.decode(k.encoded))
        errors: dict[str, int] = {}
        for o in iv.ops.values():
            for code, n in o.errors.items():
                errors[code] = errors.get(code, 0) + n
        rows.append({"t0": iv.t_start, "t1": iv.t_end, "count": iv.count,
                     "p99": h.percentiles([99.0])[99.0] if h.total else None,
                     "error_rate": iv.error_count / iv.count, "errors": errors})
    return rows


def _recovery(rows, start: float, end: float, value: str, limit: float | None) -> dict[str, Any]:
    window = [r for r in rows if r["t1"] > start and r["t0"] < end]
    out: dict[str, Any] = {"limit": limit, "s": None, "recovered": None, "peak": None}
    vals = [r[value] for r in window if r[value] is not None]
    if vals:
        out["peak"] = max(vals)
    if limit is None or not window:
        return out
    over = [i for i, r in enumerate(window) if r[value] is not None and r[value] > limit]
    if not over:
        out.update(s=0.0, recovered=True)
        return out
    # back under the limit: the first STEADY intervals in a row under it after the first one over
    # (or every interval left in the window, if fewer); a lone spike later does not undo it
    first = over[0]
    for i in range(first + 1, len(window)):
        run = window[i:i + STEADY]
        steady = len(run) == STEADY or i + len(run) == len(window)
        if steady and all(r[value] is None or r[value] <= limit for r in run):
            out.update(s=round(max(window[i]["t0"] - start, 0.0), 3), recovered=True)
            return out
    out.update(s=round(max(window[-1]["t1"], start) - start, 3), recovered=False)
    return out


def event_summaries(records: list[dict[str, Any]], acc, phases, scenario: dict[str, Any],
                    t0: float) -> list[dict[str, Any]]:
    """``records``: what the coordinator's EventRunner recorded; ``phases``: PhaseInfo list;
    ``t0``: the time series' origin. Returns summary.json's ``events``."""
    by_phase = {p.name: p for p in phases}
    rows_cache: dict[str, list] = {}
    baseline_from: dict[str, float] = {}
    last_base: dict[str, tuple[float, float, float]] = {}
    ran = sorted((r for r in records if r.get("started_at") is not None), key=lambda r: r["started_at"])
    out_by_index: dict[int, dict[str, Any]] = {}
    for rec in records:
        out_by_index[rec["index"]] = _base(rec, by_phase.get(rec["phase"]), t0)
    for rec in ran:
        p = by_phase.get(rec["phase"])
        if p is None or p.start is None:
            continue
        rows = rows_cache.setdefault(p.name, _interval_rows(acc, p.name))
        start = rec["started_at"]
        later = [r["started_at"] for r in ran if r["phase"] == p.name and r["started_at"] > start]
        end = min(later) if later else (p.end if p.end is not None else (rows[-1]["t1"] if rows else start))
        base = [r for r in rows if r["t1"] <= start + 1e-6 and r["t0"] >= baseline_from.get(p.name, p.start) - 1e-6]
        p99s = [r["p99"] for r in base if r["p99"] is not None]
        if p99s:
            last_base[p.name] = (statistics.median(p99s), max(p99s),
                                 sum(r["error_rate"] * r["count"] for r in base) / sum(r["count"] for r in base))
        # right after an earlier event recovered there is no new baseline: the earlier one holds
        base_p99, base_worst, base_err = last_base.get(p.name, (None, None, None))
        slo_p99, slo_err = _slo_limits(scenario, p.name)
        p99_limit = slo_p99 if slo_p99 is not None else (
            max(P99_TOLERANCE * base_p99, WORST_MARGIN * base_worst) if base_p99 is not None else None)
        err_limit = slo_err if slo_err is not None else (base_err + ERROR_TOLERANCE if base_err is not None else None)
        r99 = _recovery(rows, start, end, "p99", p99_limit)
        rerr = _recovery(rows, start, end, "error_rate", err_limit)
        judged = [x for x in (r99, rerr) if x["limit"] is not None]
        recovered = bool(judged) and all(x["recovered"] for x in judged)
        blame_end = start + max(x["s"] for x in judged) if recovered else end
        errors: dict[str, int] = {}
        ops = 0
        for r in rows:
            if r["t1"] > start and r["t0"] < blame_end:
                ops += r["count"]
                for code, n in r["errors"].items():
                    errors[code] = errors.get(code, 0) + n
        if recovered:
            baseline_from[p.name] = blame_end
        e = out_by_index[rec["index"]]
        e["window_s"] = round(end - start, 3)
        e["recovery"] = {
            "p99": {"s": r99["s"], "recovered": r99["recovered"], "limit_us": r99["limit"],
                    "limit_from": "slo" if slo_p99 is not None else "baseline" if base_p99 is not None else None,
                    "baseline_us": base_p99, "baseline_worst_us": base_worst, "peak_us": r99["peak"]},
            "errors": {"s": rerr["s"], "recovered": rerr["recovered"], "limit": rerr["limit"],
                       "limit_from": "slo" if slo_err is not None else "baseline" if base_err is not None else None,
                       "baseline": base_err, "peak": rerr["peak"]},
        }
        e["attributed"] = {"until_s": round(blame_end - start, 3), "ops": ops, "errors": errors,
                           "error_count": sum(errors.values()),
                           "timeouts": sum(n for code, n in errors.items() if "TIMEOUT" in code)}
    return [out_by_index[r["index"]] for r in records]


def _base(rec: dict[str, Any], phase, t0: float) -> dict[str, Any]:
    """The event as recorded: times relative to the run (``t``: the time series' axis) and to
    its phase's measured start."""
    e = {k: v for k, v in rec.items() if k not in ("planned_at", "started_at", "ended_at")}
    planned, started, ended = rec.get("planned_at"), rec.get("started_at"), rec.get("ended_at")
    e["planned_t"] = round(planned - t0, 3) if planned is not None else None
    e["t"] = round(started - t0, 3) if started is not None else None
    e["at_actual_s"] = (round(started - phase.start, 3) if started is not None and phase is not None
                        and phase.start is not None else None)
    e["late_s"] = round(started - planned, 3) if started is not None and planned is not None else None
    e["took_s"] = round(ended - started, 3) if started is not None and ended is not None else None
    return e
