"""Plain-text output: the end-of-run summary table and the live progress line."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pegload.metrics import RunAccumulator
from pegload.report.figures import format_figure, format_rate, format_us
from pegload.report.percent import format_percent
from pegload.report.summary import ALL_OPS


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """Columns padded to their widest cell; the first ``left`` columns left-aligned, the rest
    right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def retries_text(causes: dict[str, int] | None) -> str:
    """``12 (busy 9, reset 3)``, or ``0``."""
    causes = {c: n for c, n in (causes or {}).items() if n}
    if not causes:
        return "0"
    return f"{sum(causes.values()):,} (" + ", ".join(f"{c} {n:,}" for c, n in sorted(causes.items())) + ")"


def _op_row(op: str, e: dict[str, Any]) -> list[str]:
    r = e["latency_us"]["response"]
    errors = _count(e["error_count"])
    if e["error_count"]:
        errors += f" ({format_percent(e['error_rate'])})"
    return [op, _count(e["count"]), format_rate(e["throughput"]), format_us(r["p50"]), format_us(r["p99"]),
            format_us(r["p999"]), format_us(r["max"]), errors, retries_text(e.get("retries")), _count(e["misses"])]


_LIMITED_BY = {"client": "the client, not the server, limited this run",
               "target": "the target failed during the run",
               "run": "the run did not complete as planned"}


def verdict_lines(validity: dict[str, Any]) -> list[str]:
    """The validity verdict: VALID, or NOT VALID with who limited the run and each reason; then
    the cautions (stats such as p99.9 that the client's own delays fill, so they are not judged)."""
    cautions = [f"  caution: {c['text']}" for c in validity.get("cautions") or []]
    if validity.get("valid", True):
        return ["VALID: the load generator kept up" + (", below its cautions' tails:" if cautions else "")] + cautions
    who = _LIMITED_BY.get(validity.get("limited_by") or "client", "")
    return [f"NOT VALID: {who}:"] + [f"  - {r}" for r in validity.get("reasons", [])] + cautions


def _recovered(r: dict[str, Any] | None) -> str:
    if not r or r.get("s") is None:
        return "-"
    return f"{r['s']:g} s" if r.get("recovered") else f"not within {r['s']:g} s"


def events_lines(events: list[dict[str, Any]]) -> list[str]:
    """One line per scenario event: when it ran, its outcome, how long p99 and errors took to
    recover, the errors in its window."""
    if not events:
        return []
    out = ["events:"]
    for e in events:
        when = f"at {e['at_actual_s']:.1f} s" if e.get("at_actual_s") is not None else "never ran"
        outcome = e["outcome"] + (f" (exit {e['exit_code']})" if e.get("exit_code") is not None else "")
        rec = e.get("recovery") or {}
        line = f"  {e['phase']}: {e['label']} {when}: {outcome}"
        if rec:
            a = e.get("attributed") or {}
            line += (f"; p99 peak {format_us((rec.get('p99') or {}).get('peak_us'))}, recovered "
                     f"{_recovered(rec.get('p99'))}; errors recovered {_recovered(rec.get('errors'))}, "
                     f"{a.get('error_count', 0):,} in its window")
        out.append(line)
    return out + [""]


def server_lines(server: dict[str, Any] | None) -> list[str]:
    """The servers' counts beside the client's, and the warnings."""
    if not server:
        return []
    if not server.get("captured"):
        return [f"server metrics: not captured ({server.get('why')})", ""]
    rows = [[r["phase"], r["op"], r["server_op"], r["counted"], _count(r["client_count"]), _count(r["server_count"]),
             format_us(r["client_service_p99_us"]), format_us(r["server_p99_us"])]
            for r in server.get("comparison") or []]
    out = ["server view (reads count once; writes once per copy):"]
    if rows:
        out.append(render_table(["phase", "op", "server op", "counted", "client", "server", "service p99",
                                 "server p99"], rows, left=4))
    out.extend(f"  WARNING: {w}" for w in server.get("warnings") or [])
    unread = server.get("errors") or []
    if unread:
        out.append(f"  {len(unread)} server(s) or discovery step(s) could not always be read (see report.html)")
    return out + [""]


def summary_table(summary: dict[str, Any]) -> str:
    """Per phase, per op: count, ops/s, response p50/p99/p99.9/max, errors, misses; then the
    validity verdict and where the run stopped if it did not complete."""
    out = []
    headers = ["op", "count", "ops/s", "p50", "p99", "p99.9", "max", "errors", "retries", "misses"]
    for p in summary["phases"]:
        shape = f"open loop at {p['target_rate']:,.0f} ops/s" if p["mode"] == "open" and p["target_rate"] \
            else "closed loop"
        duration = f"{p['duration_s']:.1f} s" if p["duration_s"] else "? s"
        out.append(f"phase {p['name']} ({p['kind']}, {shape}, {duration}); response time from "
                   f"{'intended start' if p['mode'] == 'open' else 'send'}")
        rows = [_op_row(op, e) for op, e in p["ops"].items()]
        if len(p["ops"]) > 1:
            rows.append(_op_row(ALL_OPS, p[ALL_OPS]))
        out.append(render_table(headers, rows))
        notes = []
        if p.get("all", {}).get("reconnects"):
            notes.append(f"reconnections {p['all']['reconnects']:,}")
        drain = p.get("drain") or {}
        if drain.get("ops"):
            notes.append(f"drain: {drain['ops']:,} ops sent after the planned end"
                         + (f" ({drain['s']:.2f} s)" if drain.get("s") is not None else "")
                         + ", counted in the throughput over the planned length")
        if p.get("unsent"):
            notes.append(f"unsent: {p['unsent']:,} ops assigned to lost worker(s) were never sent")
        out.extend(f"  {n}" for n in notes)
        out.append("")
    out.extend(events_lines(summary.get("events") or []))
    out.extend(server_lines(summary.get("server")))
    slo = summary.get("thresholds") or []
    if slo:
        out.append("thresholds:")
        for r in slo:
            where = f"{r['phase']}: " if r.get("phase") else ""
            shown = format_figure(r["metric"], r["actual"])
            unmet = f"; {r['unmet']}" if r.get("unmet") else ""
            out.append(f"  {r['verdict'].upper():8} {where}{r['threshold']} (measured {shown}{unmet})")
        out.append("")
    run, validity = summary["run"], summary["validity"]
    if run["status"] != "completed":
        detail = f": {run['error']}" if run.get("error") else ""
        out.append(f"run {run['status']}{detail}")
        for w in run.get("crashed_workers", []):
            out.append(f"  worker {w.get('worker_id')} crashed: {w.get('reason')}")
    out.extend(verdict_lines(validity))
    return "\n".join(out)


def compact_us(us: float | None) -> str:
    """``412µs``, ``1.9ms``: :func:`format_us` without the space, for the progress line."""
    return format_us(us, sep="")


def format_clock(seconds: float) -> str:
    """Elapsed time on the progress line: ``12s``, then ``1:05`` from a minute up."""
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds}s"


# An interval older than this many interval lengths is not shown as the current figures: some
# worker has not reported (frozen, or about to be named lost by its missing heartbeat).
STALE_INTERVALS = 2.5


def progress_line(acc: RunAccumulator, elapsed_s: float, total_s: float | None = None,
                  phase: str | None = None, max_ops: int = 4, now: float | None = None) -> str:
    """One line for the live display, from the latest closed interval, e.g.
    ``run 12s/1:00 48,210 ops/s | get 45,801/s p50 412µs p99 1.9ms | set ... | errors 3``.
    The busiest ``max_ops`` ops are shown; errors are cumulative over the run so far. When the
    latest interval is stale (``now``, wall clock, beyond :data:`STALE_INTERVALS`) the line says
    so instead of repeating old figures."""
    head = f"{phase + ' ' if phase else ''}{format_clock(elapsed_s)}"
    if total_s:
        head += f"/{format_clock(total_s)}"
    latest = acc.latest()
    errors = sum(acc.totals(p, op).error_count for p in acc.phases() for op in acc.ops(p))
    if latest is None:
        return f"{head} waiting for the first interval"
    age = (time.time() if now is None else now) - latest.t_end
    if age > STALE_INTERVALS * acc.interval_s:
        return f"{head} no complete interval for {age:.1f} s (waiting for a worker) | errors {errors:,}"
    parts = [f"{head} {latest.count / latest.duration:,.0f} ops/s"]
    busiest = sorted(latest.ops.items(), key=lambda kv: -kv[1].count)[:max_ops]
    for op, o in busiest:
        r = o.kinds.get("response")
        pct = f" p50 {compact_us(r.p50)} p99 {compact_us(r.p99)}" if r else ""
        parts.append(f"{op} {o.count / latest.duration:,.0f}/s{pct}")
    if len(latest.ops) > max_ops:
        parts.append(f"+{len(latest.ops) - max_ops} ops")
    parts.append(f"errors {errors:,}")
    return " | ".join(parts)
