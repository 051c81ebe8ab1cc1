"""The report of ``pegload capacity`` (the search is :mod:`pegload.capacity`): terminal text, the
HTML page (latency-throughput curve with the SLO line and the knee, the steps table; for
``--closed`` sweeps Little's law too), ``pegload compare`` of capacity reports (overlaid curves,
the capacity ratio) and ``pegload check --min-capacity``.

The page is static HTML with inline SVG (no script): it reads the same in a browser, a
headless screenshot or a CI artifact viewer.
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pegload.report.figures import format_rate, format_us
from pegload.report.percent import format_percent
from pegload.report.runs import ReportError
from pegload.scenario.thresholds import Threshold, parse_thresholds

SUMMARY_KIND = "pegload-capacity"
CURVE_LEVELS = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"))
COMPARE_LEVELS = (("p50", "p50"), ("p99", "p99"))  # two runs' p99.9 too would crowd the overlay
COLORS = ("#1f6feb", "#d9480f", "#2f9e44", "#7048e8", "#c2255c", "#0c8599")
VERDICT_TEXT = {"pass": "met the SLO", "slo": "SLO breached", "errors": "errors over the limit",
                "client": "client was the limit", "invalid": "not valid", "interrupted": "interrupted"}
LIMITED_TEXT = {"slo": "the SLO", "errors": "errors", "max_rate": "--max-rate (the target took every rate offered)",
                "client": "the client (the figure is a floor)", "invalid": "a step that could not be judged",
                "interrupted": "an interruption", "plateau": "a throughput plateau",
                "max_concurrency": "--max-concurrency"}


# -- reading ----------------------------------------------------------------------------------
def summary_path(path: str | Path) -> Path:
    p = Path(path)
    return p / "summary.json" if p.is_dir() else p


def peek_kind(path: str | Path) -> str | None:
    """The ``kind`` of a report's summary.json, or None when it cannot be read (the ordinary
    loaders then say what is wrong with it)."""
    try:
        return json.loads(summary_path(path).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def is_capacity(path: str | Path) -> bool:
    return peek_kind(path) == SUMMARY_KIND


def load_capacity(path: str | Path) -> dict[str, Any]:
    p = summary_path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{p}: not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != SUMMARY_KIND or "capacity" not in data:
        kind = data.get("kind") if isinstance(data, dict) else None
        raise ReportError(f"{p}: not a pegload capacity report (kind {kind!r})")
    data["_path"] = str(p)
    return data


# -- figures of one step -------------------------------------------------------------------------
def curve_op(cap: dict[str, Any]) -> tuple[str, str]:
    """(op, kind) the curve shows: the first latency term of the SLO, else all/response."""
    for text in cap.get("slo") or []:
        t = parse_thresholds(text)[0]
        if t.is_latency:
            return t.op, t.kind
    return "all", "response"


def step_latency(step: dict[str, Any], op: str, kind: str, level: str) -> float | None:
    return (((step.get("ops") or {}).get(op) or {}).get("latency_us") or {}).get(kind, {}).get(level)


def step_line(step: dict[str, Any], terms: Sequence[Threshold]) -> str:
    """One line per finished step, for the terminal."""
    parts = []
    for r in step.get("slo") or []:
        t = r["threshold"].split(" ")[0]
        actual = r.get("actual")
        shown = format_percent(actual) if r["metric"].endswith("_rate") else (
            format_us(actual) if r.get("kind") else f"{actual}")
        parts.append(f"{t} {shown}")
    target = step.get("target_rate")
    head = (f"   -> target {format_rate(target)}/s, achieved {format_rate(step.get('achieved_rate'))}/s"
            if target else f"   -> {step.get('concurrency')} greenlets: {format_rate(step.get('achieved_rate'))} ops/s")
    verdict = VERDICT_TEXT.get(step["verdict"], step["verdict"])
    note = f" ({step['note']})" if step.get("note") else ""
    reasons = "" if step["validity"]["valid"] else f"; NOT VALID: {'; '.join(step['validity']['reasons'][:2])}"
    return f"{head}; {', '.join(parts)}: {verdict}{note}{reasons}"


def headline(data: dict[str, Any]) -> str:
    cap = data["capacity"]
    if cap.get("mode") == "closed":
        best = cap.get("max_rate")
        return (f"closed-loop sweep: best {format_rate(best)} ops/s meeting {cap['slo_text']}" if best
                else f"closed-loop sweep: no step met {cap['slo_text']}")
    rate, lim = cap.get("max_rate"), cap.get("limited_by")
    what = LIMITED_TEXT.get(lim, lim)
    if rate is None:
        return f"capacity: no rate met {cap['slo_text']} (limited by {what})"
    prefix = "at least " if lim in ("max_rate", "client") else ""
    return f"capacity: {prefix}{format_rate(rate)} ops/s at {cap['slo_text']} (limited by {what})"


def capacity_text(data: dict[str, Any]) -> str:
    cap = data["capacity"]
    op, kind = curve_op(cap)
    closed = cap.get("mode") == "closed"
    lines = [headline(data)]
    if cap.get("advice"):
        lines.append(f"  {cap['advice']}")
    if not closed and cap.get("lowest_fail") and cap.get("max_rate"):
        lines.append(f"  bracket: met at {format_rate(cap['max_rate'])}, failed at "
                     f"{format_rate(cap['lowest_fail'])} ops/s (precision {format_percent(cap.get('precision'))}, "
                     f"each rate passed {cap.get('repeat', 1)} time(s))")
    head = ("  #  greenlets  achieved/s" if closed else "  #  stage    target/s  achieved/s")
    head += f"  {op} p50      p99     p99.9   errors   verdict"
    if closed:
        head += "   in flight (X x mean)"
    lines.append(head)
    for s in cap["steps"]:
        lat = [format_us(step_latency(s, op, kind, lv)) for lv, _ in CURVE_LEVELS]
        first = (f"{s['index'] + 1:>3}  {s.get('concurrency', '-'):>9}  {format_rate(s.get('achieved_rate')):>10}"
                 if closed else
                 f"{s['index'] + 1:>3}  {s.get('stage', ''):<7} {format_rate(s.get('target_rate')):>9}  "
                 f"{format_rate(s.get('achieved_rate')):>10}")
        row = (f"{first}  {lat[0]:>8} {lat[1]:>8} {lat[2]:>8}  {format_percent(s['errors']['rate']):>7}  "
               f"{VERDICT_TEXT.get(s['verdict'], s['verdict'])}")
        if closed and s.get("little"):
            row += f"   {s['little'].get('in_flight') or 0:.2f}"
        lines.append(row)
    return "\n".join(lines)


# -- SVG -----------------------------------------------------------------------------------------
class _Axes:
    def __init__(self, x_max: float, y_min: float, y_max: float, w: int = 900, h: int = 400) -> None:
        self.w, self.h, self.left, self.right, self.top, self.bottom = w, h, 70, 20, 16, 44
        self.x_max = x_max * 1.08 or 1.0
        self.ly0 = math.floor(math.log10(max(y_min, 1.0)))
        self.ly1 = math.ceil(math.log10(max(y_max, y_min * 10, 10.0)))

    def x(self, v: float) -> float:
        return self.left + v / self.x_max * (self.w - self.left - self.right)

    def y(self, us: float) -> float:
        f = (math.log10(max(us, 10 ** self.ly0)) - self.ly0) / (self.ly1 - self.ly0)
        return self.h - self.bottom - f * (self.h - self.top - self.bottom)

    def frame(self, x_label: str) -> list[str]:
        out = ['<g class="axes">']
        for e in range(self.ly0, self.ly1 + 1):
            y = self.y(10 ** e)
            out.append(f'<line x1="{self.left}" x2="{self.w - self.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                       f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                       f'{html.escape(format_us(10 ** e))}</text>')
        step = _nice_step(self.x_max / 6)
        v = 0.0
        while v <= self.x_max:
            x = self.x(v)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.top}" y2="{self.h - self.bottom}"/>'
                       f'<text x="{x:.1f}" y="{self.h - self.bottom + 16}" text-anchor="middle">{v:,.0f}</text>')
            v += step
        out.append("</g>")
        out.append(f'<rect class="frame" x="{self.left}" y="{self.top}" width="{self.w - self.left - self.right}" '
                   f'height="{self.h - self.top - self.bottom}"/>')
        out.append(f'<text class="axis-label" x="{(self.left + self.w - self.right) / 2}" y="{self.h - 6}" '
                   f'text-anchor="middle">{html.escape(x_label)}</text>')
        out.append(f'<text class="axis-label" transform="rotate(-90)" x="{-(self.top + self.h - self.bottom) / 2}" '
                   f'y="14" text-anchor="middle">latency (log scale)</text>')
        return out


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * e:
            return m * e
    return 10 * e


def _limit_of(cap: dict[str, Any], op: str, kind: str) -> float | None:
    for text in cap.get("slo") or []:
        t = parse_thresholds(text)[0]
        if t.is_latency and t.op == op and t.kind == kind:
            return t.value
    return None


def curve_svg(runs: Sequence[tuple[str, dict[str, Any]]], levels: Sequence[tuple[str, str]] = CURVE_LEVELS) -> str:
    """Achieved ops/s (x) against latency (y, log) for each run's steps: one line per
    percentile level, sorted by target rate; filled dots met the SLO, hollow ones did not, a
    cross marks a client-limited step. The SLO limit is a red horizontal line and each run's
    capacity (the knee) a dashed vertical line."""
    first_cap = runs[0][1]["capacity"]
    op, kind = curve_op(first_cap)
    pts = [(s, step_latency(s, op, kind, lv)) for _, d in runs for s in d["capacity"]["steps"] for lv, _ in levels]
    lat = [v for _, v in pts if v]
    xs = [s.get("achieved_rate") or 0.0 for s, _ in pts]
    limit = _limit_of(first_cap, op, kind)
    if not lat:
        return '<p class="empty">no latency was measured</p>'
    ax = _Axes(max(xs + [r[1]["capacity"].get("max_rate") or 0 for r in runs]),
               min(lat + ([limit] if limit else [])), max(lat + ([limit] if limit else [])))
    out = [f'<svg viewBox="0 0 {ax.w} {ax.h}" width="{ax.w}" height="{ax.h}" role="img">', *ax.frame("achieved ops/s")]
    legend = []
    dashes = {"p50": "2 3", "p99": "", "p999": "7 3"}
    for ri, (label, data) in enumerate(runs):
        cap = data["capacity"]
        steps = sorted(cap["steps"], key=lambda s: (s.get("target_rate") or s.get("concurrency") or 0, s["index"]))
        for li, (lv, shown) in enumerate(levels):
            color = COLORS[(ri * len(levels) + li) % len(COLORS)] if len(runs) > 1 else COLORS[li]
            coords = [(ax.x(s.get("achieved_rate") or 0.0), ax.y(v), s) for s in steps
                      if (v := step_latency(s, op, kind, lv))]
            if not coords:
                continue
            d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
            dash = f' stroke-dasharray="{dashes[lv]}"' if len(runs) > 1 and dashes[lv] else ""
            out.append(f'<path class="series" d="{d}" stroke="{color}"{dash}/>')
            for x, y, s in coords:
                if s["verdict"] == "client":
                    out.append(f'<path d="M{x - 4:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 4:.1f} M{x - 4:.1f},{y + 4:.1f} '
                               f'L{x + 4:.1f},{y - 4:.1f}" stroke="{color}" stroke-width="2"/>')
                else:
                    fill = color if s["verdict"] == "pass" else "#fff"
                    out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}" stroke="{color}" '
                               f'stroke-width="1.5"><title>{html.escape(_tip(s, lv, shown, op, kind))}</title>'
                               '</circle>')
            legend.append((color, f"{label + ' ' if len(runs) > 1 else ''}{op} {shown}", dash))
        knee = cap.get("max_rate")
        if knee:
            x = ax.x(knee)
            word = "best" if cap.get("mode") == "closed" else "capacity"
            right = x > (ax.left + ax.w) / 2  # label on the side with room
            out.append(f'<line class="vline" x1="{x:.1f}" x2="{x:.1f}" y1="{ax.top}" y2="{ax.h - ax.bottom}"/>'
                       f'<text class="vlabel" x="{x - 4 if right else x + 4:.1f}" y="{ax.top + 12 + 12 * ri}" '
                       f'text-anchor="{"end" if right else "start"}">'
                       f'{html.escape((label + ": " if len(runs) > 1 else "") + word + " " + format_rate(knee))}'
                       ' ops/s</text>')
    if limit:
        y = ax.y(limit)
        out.append(f'<line x1="{ax.left}" x2="{ax.w - ax.right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c92a2a" '
                   f'stroke-width="1.5" stroke-dasharray="6 3"/><text x="{ax.w - ax.right - 4}" y="{y - 5:.1f}" '
                   f'text-anchor="end" fill="#c92a2a">SLO {html.escape(format_us(limit))}</text>')
    out.append("</svg>")
    keys = "".join(f'<span class="key"><svg width="26" height="10"><line x1="0" x2="26" y1="5" y2="5" stroke="{c}" '
                   f'stroke-width="2"{d}/></svg> {html.escape(t)}</span>' for c, t, d in legend)
    keys += ('<span class="key">● met the SLO</span><span class="key">○ did not</span>'
             '<span class="key">× client was the limit</span>')
    return "\n".join(out) + f'\n<div class="legend">{keys}</div>'


def _tip(s: dict[str, Any], lv: str, shown: str, op: str, kind: str) -> str:
    rate = s.get("target_rate")
    where = f"target {format_rate(rate)}/s" if rate else f"{s.get('concurrency')} greenlets"
    return (f"step {s['index'] + 1}: {where}, achieved {format_rate(s.get('achieved_rate'))}/s, {op} {kind} {shown} "
            f"{format_us(step_latency(s, op, kind, lv))}: {VERDICT_TEXT.get(s['verdict'], s['verdict'])}")


def little_svg(cap: dict[str, Any]) -> str:
    """Closed loop: ops in flight by Little's law (throughput x mean latency) against the
    greenlets running; the diagonal is where they agree."""
    steps = [s for s in cap["steps"] if (s.get("little") or {}).get("in_flight")]
    if not steps:
        return ""
    w, h, pad = 420, 300, 50
    top = max(max(s["concurrency"] for s in steps), max(s["little"]["in_flight"] for s in steps)) * 1.1

    def sx(v: float) -> float:
        return pad + v / top * (w - pad - 16)

    def sy(v: float) -> float:
        return h - pad + 10 - v / top * (h - pad - 10)
    out = [f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}">',
           f'<rect class="frame" x="{pad}" y="0" width="{w - pad - 16}" height="{h - pad + 10}"/>',
           f'<line class="vline" x1="{sx(0)}" y1="{sy(0)}" x2="{sx(top)}" y2="{sy(top)}"/>']
    pts = " L".join(f"{sx(s['concurrency']):.1f},{sy(s['little']['in_flight']):.1f}" for s in steps)
    out.append(f'<path class="series" d="M{pts}" stroke="{COLORS[0]}"/>')
    for s in steps:
        out.append(f'<circle cx="{sx(s["concurrency"]):.1f}" cy="{sy(s["little"]["in_flight"]):.1f}" r="3.5" '
                   f'fill="{COLORS[0]}"><title>{s["concurrency"]} greenlets: {s["little"]["in_flight"]} in flight'
                   '</title></circle>')
    for v in (0, top / 2, top):
        out.append(f'<text class="axis-label" x="{sx(v):.1f}" y="{h - pad + 26}" text-anchor="middle">{v:.0f}</text>'
                   f'<text class="axis-label" x="{pad - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    out.append(f'<text class="axis-label" x="{(pad + w) / 2}" y="{h - 4}" text-anchor="middle">'
               'greenlets (concurrency)</text>')
    out.append(f'<text class="axis-label" transform="rotate(-90)" x="{-(h - pad) / 2}" y="12" '
               'text-anchor="middle">throughput x mean latency</text></svg>')
    return "\n".join(out)


# -- the page ----------------------------------------------------------------------------------
_CSS = """
.capacity-head { font-size: 20px; font-weight: 600; margin: 10px 0; }
.pass { color: #2b8a3e; } .fail { color: #b3261e; }
"""


def _steps_table(data: dict[str, Any]) -> str:
    cap = data["capacity"]
    closed = cap.get("mode") == "closed"
    op, kind = curve_op(cap)
    head = ["#", "greenlets" if closed else "stage", "target ops/s", "achieved ops/s",
            *(f"{op} {shown}" for _, shown in CURVE_LEVELS), "errors", "valid", "verdict", "run report"]
    if closed:
        head.insert(-1, "in flight (X x mean)")
    rows = []
    for s in cap["steps"]:
        ok = s["verdict"] == "pass"
        cells = [str(s["index"] + 1), str(s.get("concurrency")) if closed else html.escape(str(s.get("stage", ""))),
                 format_rate(s.get("target_rate")), format_rate(s.get("achieved_rate")),
                 *(format_us(step_latency(s, op, kind, lv)) for lv, _ in CURVE_LEVELS),
                 format_percent(s["errors"]["rate"]),
                 _validity_cell(s),
                 f'<span class="{"pass" if ok else "fail"}" title="{html.escape(s.get("note") or "")}">'
                 f'{html.escape(VERDICT_TEXT.get(s["verdict"], s["verdict"]))}{" *" if s.get("note") else ""}</span>',
                 f'<a href="{html.escape(s["report"])}/report.html">{html.escape(s["report"])}</a>']
        if closed:
            cells.insert(-1, str((s.get("little") or {}).get("in_flight")))
        cls = ["num"] * 8 + [""] * (len(cells) - 8)
        rows.append("<tr>" + "".join(f'<td class="{c}">{v}</td>' for c, v in zip(cls, cells)) + "</tr>")
    return ('<table class="wrap"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join(rows) + "</table>")


def _validity_cell(s: dict[str, Any]) -> str:
    v = s["validity"]
    if v["valid"]:
        return "yes"
    codes = ", ".join(sorted(set(v.get("codes") or []))) or (v.get("limited_by") or "")
    return (f'<span title="{html.escape("; ".join(v["reasons"]))}">no: {html.escape(codes)}'
            f'{" (" + html.escape(str(v.get("limited_by"))) + ")" if v.get("limited_by") else ""}</span>')


def _shell(title: str, body: str) -> str:
    css = (Path(__file__).resolve().parent.parent / "report" / "assets" / "report.css").read_text(encoding="utf-8")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<style>\n{css}{_CSS}</style>\n'
            f'</head>\n<body>\n<div id="app">\n{body}\n</div>\n</body>\n</html>\n')


def render_capacity_html(data: dict[str, Any]) -> str:
    cap = data["capacity"]
    run, target = data["run"], data.get("target") or {}
    closed = cap.get("mode") == "closed"
    op, kind = curve_op(cap)
    where = target.get("kind", "target") + " " + ",".join(target.get("meta") or []) + f" table {target.get('table')!r}"
    judged = cap.get("judged") or closed
    banner = "valid" if judged else "invalid"
    settings = (f"closed loop, concurrency 1..{cap.get('max_concurrency')}, {cap.get('step_duration_s'):g} s steps"
                if closed else
                f"open loop from {format_rate(cap.get('start_rate'))} ops/s "
                f"(ceiling {format_rate(cap.get('rate_ceiling'))}), "
                f"{cap.get('step_duration_s'):g} s steps after {cap.get('warmup_s'):g} s warm-up, precision "
                f"{format_percent(cap.get('precision'))}, each rate must pass {cap.get('repeat', 1)} time(s)")
    parts = [f'<header><h1>pegload capacity: {html.escape(run.get("scenario_name", ""))}</h1>'
             f'<p class="sub">{html.escape(where)}, phase {html.escape(str(cap.get("phase")))}, '
             f'{run.get("workers")} worker(s) x {run.get("concurrency")} greenlets, '
             f'{html.escape(str(run.get("started_at")))}'
             '</p></header>',
             f'<div class="banner {banner}"><div class="capacity-head">{html.escape(headline(data))}</div>'
             f'<div>SLO: {html.escape(cap["slo_text"])}; {html.escape(settings)}</div>'
             + (f'<div>{html.escape(cap["advice"])}</div>' if cap.get("advice") else "")
             + (f'<div>{html.escape(run["error"])}</div>' if run.get("error") else "") + "</div>",
             f'<h2>Latency against throughput ({html.escape(op)}, {html.escape(kind)} latency)</h2>',
             f'<figure class="chart">{curve_svg([("", data)])}</figure>']
    if closed:
        parts += ["<h2>Little's law: throughput x mean latency against concurrency</h2>",
                  f'<figure class="chart">{little_svg(cap)}<figcaption>on the dashed diagonal every greenlet always '
                  'has an op in flight; below it, time is spent in the client between ops</figcaption></figure>']
    parts += ["<h2>Steps</h2>", _steps_table(data),
              '<p class="sub">Every step is an ordinary run report (histograms, time series, self-check) in its '
              'folder (hover a "no" for the validity reasons, a verdict with * for why it was judged so). '
              'The capacity is the highest target rate that met '
              'every SLO term in every repeat, with the planned load offered on time; a step whose only validity '
              'problems are the client\'s own added delays (lateness, greenlets, CPU, loop lag) counts when it met '
              'the SLO anyway, since those delays only make latencies worse.</p>']
    return _shell(f"pegload capacity {run.get('id')}", "\n".join(parts))


# -- compare and gate -------------------------------------------------------------------------
def ratio_sentence(a: dict[str, Any], b: dict[str, Any], la: str = "A", lb: str = "B") -> str:
    ca, cb = a["capacity"], b["capacity"]
    if not ca.get("max_rate") or not cb.get("max_rate"):
        return f"no ratio: {la if not ca.get('max_rate') else lb} has no capacity figure"
    r = cb["max_rate"] / ca["max_rate"]
    note = "" if ca.get("judged") and cb.get("judged") else " (a search that did not judge its target: see limited_by)"
    # a search that reached --max-rate (or the client's limit) only gives a floor of its capacity
    floor_a = ca.get("limited_by") in ("max_rate", "client")
    floor_b = cb.get("limited_by") in ("max_rate", "client")
    if floor_a and floor_b:
        return f"no ratio {lb}/{la}: both capacities are floors (limited by --max-rate or the client)"
    bound = "at most " if floor_a else "at least " if floor_b else ""
    return f"{lb} sustains {bound}{r:.2f}x {la} at {cb['slo_text']}{note}"


def compare_capacity(paths: Sequence[str | Path]) -> tuple[str, str]:
    """(text, html) for ``pegload compare`` of capacity reports: each against the first."""
    datas = [load_capacity(p) for p in paths]
    labels = [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(datas))]
    lines = []
    for lab, d in zip(labels, datas):
        lines.append(f"{lab}: {d['_path']}: {headline(d)}")
    slos = {d["capacity"]["slo_text"] for d in datas}
    if len(slos) > 1:
        lines.append("warning: the reports were searched at different SLOs: " + " / ".join(sorted(slos)))
    if len({d.get("scenario_hash") for d in datas}) > 1:
        lines.append("warning: the reports ran different load shapes (scenario hash differs)")
    for lab, d in zip(labels[1:], datas[1:]):
        if d["capacity"]["slo_text"] != datas[0]["capacity"]["slo_text"]:
            lines.append(f"no capacity ratio {lab}/{labels[0]}: they were searched at different SLOs")
        else:
            lines.append(ratio_sentence(datas[0], d, labels[0], lab))
    text = "\n".join(lines)
    body = ("<header><h1>pegload capacity comparison</h1></header>"
            + "".join(f"<p>{html.escape(line)}</p>" for line in lines)
            + f'<figure class="chart">{curve_svg(list(zip(labels, datas)), levels=COMPARE_LEVELS)}</figure>')
    return text, _shell("pegload capacity comparison", body)


def check_capacity(current: str | Path, baseline: str | Path, min_ratio: float) -> tuple[int, str]:
    """(exit code, text) of ``pegload check --min-capacity``: 0 the current capacity is at least
    ``min_ratio`` x the baseline's, 1 it is not, 2 either search could not judge its target
    (client-limited, invalid, interrupted, closed sweep) or the SLOs differ."""
    cur, base = load_capacity(current), load_capacity(baseline)
    for lab, d in (("run", cur), ("baseline", base)):
        cap = d["capacity"]
        if not cap.get("judged"):
            why = LIMITED_TEXT.get(cap.get("limited_by"), cap.get("limited_by"))
            return 2, f"refused: the {lab} {d['_path']} did not judge its target (limited by {why})"
    if cur["capacity"]["slo_text"] != base["capacity"]["slo_text"]:
        return 2, (f"refused: different SLOs: run {cur['capacity']['slo_text']!r}, "
                   f"baseline {base['capacity']['slo_text']!r}")
    cr, br = cur["capacity"]["max_rate"], base["capacity"]["max_rate"]
    if not br:
        return 2, "refused: the baseline has no capacity (no rate met its SLO)"
    ratio = (cr or 0.0) / br
    ok = ratio >= min_ratio
    capped = (" (the baseline only reached --max-rate: its capacity is a floor)"
              if base["capacity"]["limited_by"] == "max_rate" else "")
    text = (f"capacity: run {format_rate(cr)} ops/s vs baseline {format_rate(br)} ops/s at "
            f"{cur['capacity']['slo_text']}: "
            f"{ratio:.2f}x (minimum {min_ratio:g}x) -> {'pass' if ok else 'REGRESSION'}{capped}")
    return (0 if ok else 1), text
