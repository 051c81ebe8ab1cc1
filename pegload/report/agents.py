"""The agents of a distributed run in the report: a table and a throughput-by-agent chart
(static HTML and SVG, added after the page's own content), and the agents' ``.hlog`` lines.

Fed from ``summary.json``'s ``agents`` (see :mod:`pegload.distributed.report`); a run without
agents gets nothing from here.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from pegload.report.hlog import MAX_VALUE_UNIT_RATIO, tag

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def agent_tag(agent: int, phase: str, op: str, kind: str) -> str:
    """``agent<N>/phase/op/kind``: the agent's own lines in ``latency.hlog``."""
    return f"agent{agent}/{tag(phase, op, kind)}"


def write_agent_hlog(out: TextIO, agent_lines: Mapping[int, Iterable[tuple]], base_time: float) -> int:
    """Append each agent's histograms to an open ``.hlog`` (after its header), tagged
    ``agent<N>/phase/op/kind``, one line per phase spanning what the agent measured of it
    (``(phase, op, kind, start, end, LatencyHistogram)`` from
    :meth:`pegload.distributed.book.AgentBook.hlog_lines`); returns the line count. The lines
    tagged ``phase/op/kind`` stay the merged per-interval ones."""
    lines = 0
    for agent in sorted(agent_lines):
        for phase, op, kind, start, end, hist in agent_lines[agent]:
            out.write(f"Tag={agent_tag(agent, phase, op, kind)},{max(start - base_time, 0.0):.3f},"
                      f"{max(end - start, 0.0):.3f},{hist.max() / MAX_VALUE_UNIT_RATIO:.3f},{hist.to_base64()}\n")
            lines += 1
    return lines


def _ms(us: Any) -> str:
    return f"{us / 1000:.2f}" if isinstance(us, (int, float)) else "-"


def _table(agents: list[dict[str, Any]]) -> str:
    head = ("agent", "host", "dask worker", "workers", "ops sent", "clock offset (µs)", "± (µs)",
            "worker CPU", "lateness p99 (ms)", "status", "validity")
    rows = []
    for a in agents:
        clock = a.get("clock") or {}
        cpu = (a.get("cpu") or {}).get("worker_mean_pct")
        late = a.get("lateness") or {}
        reasons = a["validity"]["reasons"]
        cells = (a["id"], a["host"], a["dask_worker"], len(a["pids"]), f"{a['ops']:,}",
                 clock.get("offset_us", "-"), clock.get("bound_us", "-"),
                 f"{cpu:.0f}%" if cpu is not None else "-", _ms(late.get("p99_us")), a["status"],
                 "; ".join(reasons) if reasons else "ok")
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ("<table class=\"agents\"><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _chart(agents: list[dict[str, Any]], width: int = 720, height: int = 220) -> str:
    series = [(a["id"], a.get("throughput") or []) for a in agents]
    points = [p for _, s in series for p in s]
    if not points:
        return "<p>No measured intervals.</p>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(p[1] for p in points) or 1.0
    pad = 40

    def xy(p: list[float]) -> str:
        x = pad + (p[0] - x0) / ((x1 - x0) or 1.0) * (width - 2 * pad)
        y = height - pad - p[1] / y1 * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    parts = [(f"<svg class=\"agents-chart\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" "
              f"height=\"{height}\" role=\"img\" aria-label=\"throughput by agent\">"),
             f"<line x1=\"{pad}\" y1=\"{height - pad}\" x2=\"{width - pad}\" y2=\"{height - pad}\" stroke=\"#888\"/>",
             f"<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{height - pad}\" stroke=\"#888\"/>",
             f"<text x=\"{pad}\" y=\"{pad - 8}\" font-size=\"11\">{y1:,.0f} ops/s</text>",
             (f"<text x=\"{width - pad}\" y=\"{height - pad + 16}\" font-size=\"11\" text-anchor=\"end\">"
              f"{x1:g} s</text>"),
             f"<text x=\"{pad}\" y=\"{height - pad + 16}\" font-size=\"11\">{x0:g} s</text>"]
    for n, (agent, s) in enumerate(series):
        colour = _COLOURS[n % len(_COLOURS)]
        if s:
            parts.append(f"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" "
                         f"points=\"{' '.join(xy(p) for p in s)}\"/>")
        parts.append(f"<text x=\"{width - pad + 4}\" y=\"{pad + 14 * n}\" font-size=\"11\" "
                     f"fill=\"{colour}\">agent {agent}</text>")
    parts.append("</svg>")
    return "".join(parts)


def agents_section(summary: dict[str, Any]) -> str:
    """The HTML section for ``summary['agents']``; empty when the run had no agents."""
    agents = summary.get("agents") or []
    if not agents:
        return ""
    return ("<section id=\"agents\" class=\"agents\"><h2>Load agents</h2>"
            "<p>One row per agent (a Dask worker and the pegload workers it started). The merged "
            "figures above add every agent's histograms; nothing is averaged.</p>"
            + _table(agents) + "<h3>Throughput by agent (measured ops/s per interval)</h3>"
            + _chart(agents) + "</section>\n")
