"""The agents' part of a run's result: ``summary.json``'s ``agents`` entries and their reasons.

Each entry: ``id``, ``host``, ``dask_worker``, ``pid`` (the Dask worker process), ``pids`` (its
pegload workers), ``worker_ids``, ``clock_offset_us`` and ``clock`` (offset, bound, round trip,
samples, drift seen later), ``ops`` (measured ops its workers reported sent; the load phase is
not measured), ``recorded`` (measured ops in its interval snapshots), ``dropped``, ``cpu``,
``lateness`` (open loop: p50/p99/max µs over its measured phases), ``throughput`` (``[[seconds
since the run start, ops/s], ...]``), ``status`` (``ok`` or ``lost``) and ``validity`` (its own
reasons; every one of them is also a reason of the run).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pegload.distributed.clock import uncertainty_limit_s, uncertainty_reason
from pegload.distributed.launcher import RUN_ENDED

if TYPE_CHECKING:
    from pegload.distributed.launcher import DaskLauncher, _AgentLink


def _cpu(link: _AgentLink, ended: float) -> dict[str, Any]:
    seconds = sum(link.cpu.values())
    span = (ended - link.first_beat) if link.first_beat is not None else 0.0
    per_worker = seconds / (len(link.worker_ids) * span) if span > 0 and link.worker_ids else None
    return {"seconds": round(seconds, 2),
            "worker_mean_pct": round(100.0 * per_worker, 1) if per_worker is not None else None}


def agent_entry(link: _AgentLink, interval_s: float, t0: float, crashed: dict[int, str],
                ended: float) -> dict[str, Any]:
    reasons = []
    where = f"agent {link.index} on {link.where}"
    clock = link.clock
    if clock is not None:
        reason = uncertainty_reason(where, clock, interval_s)
        if reason:
            reasons.append(reason)
        limit = uncertainty_limit_s(interval_s)
        if link.max_drift_s > limit:
            reasons.append(f"{where}: clock drifted by {link.max_drift_s * 1e3:.1f} ms during the run, "
                           f"more than {limit * 1e3:g} ms")
    lost = link.lost if link.lost and link.lost != RUN_ENDED else None
    if lost:
        reasons.append(f"{where} was lost: {lost}")
    reasons += [f"{where}: {crashed[w]}" for w in link.worker_ids if w in crashed and not lost]
    book = link.book
    return {
        "id": link.index, "host": link.host, "dask_worker": link.dask_worker, "pid": link.pid,
        "pids": [link.procs[w].pid for w in link.worker_ids if w in link.procs],
        "worker_ids": list(link.worker_ids),
        "clock_offset_us": round(clock.offset_s * 1e6) if clock else None,
        "clock": {**clock.as_dict(), "drift_us": round(link.max_drift_s * 1e6)} if clock else None,
        "ops": book.measured_sent, "recorded": book.measured_recorded, "dropped": book.dropped,
        "cpu": _cpu(link, ended), "lateness": book.lateness(), "throughput": book.throughput(t0),
        "status": "lost" if lost else "ok",
        "validity": {"valid": not reasons, "reasons": reasons},
    }


def annotate_result(result: Any, launcher: DaskLauncher) -> None:
    """Fill ``result.agents`` / ``result.agent_intervals``; add the agents' reasons (and the
    start-time clock warnings) to ``result.validity``."""
    crashed = {int(c["worker_id"]): str(c["reason"]) for c in result.status.crashed_workers}
    ended = time.monotonic()
    result.agents = [agent_entry(link, launcher.interval_s, result.started_at, crashed, ended)
                     for link in launcher.links]
    result.agent_intervals = {link.index: link.book.hlog_lines() for link in launcher.links}
    extra = [r for a in result.agents for r in a["validity"]["reasons"]]
    if extra:
        reasons = list(result.validity.reasons) + [r for r in extra if r not in result.validity.reasons]
        result.validity = replace(result.validity, valid=False, reasons=tuple(reasons))


def agents_text(agents: list[dict[str, Any]]) -> str:
    """One line per agent for the terminal, after the summary table."""
    lines = []
    for a in agents:
        clock = a.get("clock") or {}
        cpu = (a.get("cpu") or {}).get("worker_mean_pct")
        late = (a.get("lateness") or {}).get("p99_us")
        reasons = a["validity"]["reasons"]
        lines.append(
            f"agent {a['id']} on {a['host']} ({a['dask_worker']}): {a['ops']:,} ops sent by "
            f"{len(a['pids'])} worker(s), clock {clock.get('offset_us', 0):+,} µs ± {clock.get('bound_us', 0):,} µs"
            + (f", worker CPU {cpu:.0f}%" if cpu is not None else "")
            + (f", lateness p99 {late / 1000:.2f} ms" if late is not None else "")
            + (f", {a['status']}" if a["status"] != "ok" else "")
            + ("".join(f"\n  - {r}" for r in reasons)))
    return "\n".join(lines) + "\n" if lines else ""
