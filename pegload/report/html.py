"""Self-contained HTML pages (run report, comparison): one file, CSS and JS inline, the data as
JSON in the page, charts drawn as SVG by the page's script. Nothing is fetched when viewing.
"""
from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from pegload.metrics import KINDS, LatencyHistogram
from pegload.report.model import target_display_name
from pegload.report.spectrum import spectrum

_ASSETS = resources.files("pegload.report") / "assets"

# Caught before the page script runs, so even a syntax error in it ends up in the DOM (the
# browser tests read #js-errors from the dumped DOM).
_ERROR_TRAP = """window.addEventListener("error", function (e) {
  var box = document.getElementById("js-errors");
  box.textContent += (e.message || String(e)) + "\\n";
});"""


def spectrum_points(encoded: str) -> list[list[float]]:
    """[[1/(1-q), value µs], ...] for the percentile charts (x drawn on a log scale). The 100%
    point has no finite 1/(1-q): it is drawn at the sample count, where the next tick would be."""
    hist = LatencyHistogram.decode(encoded)
    points = []
    for p in spectrum(hist):
        q = p.percentile / 100.0
        x = float(hist.total) if q >= 1.0 else min(1.0 / (1.0 - q), float(hist.total))
        points.append([round(x, 6), p.value])
    return points


def _lite(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "histograms"}


def run_view(summary: dict[str, Any]) -> dict[str, Any]:
    """What the run page needs: the summary without encoded histograms, plus spectra."""
    phases, spectra = [], []
    for p in summary["phases"]:
        phases.append({**{k: v for k, v in p.items() if k not in ("ops", "all")},
                       "ops": {op: _lite(e) for op, e in p["ops"].items()}, "all": _lite(p["all"])})
        for op, e in p["ops"].items():
            kinds = {kind: spectrum_points(e["histograms"][kind])
                     for kind in KINDS if kind in e.get("histograms", {})}
            if kinds:
                spectra.append({"phase": p["name"], "op": op, "kinds": kinds})
    target = summary["target"]
    return {
        "kind": "run",
        "run": summary["run"],
        "target": target,
        "target_label": target_display_name(target),
        "validity": summary["validity"],
        "phases": phases,
        "spectra": spectra,
        "timeseries": summary["timeseries"],
        "self_check": summary.get("self_check") or {},
        "environment": summary.get("environment") or {},
        "scenario": summary.get("scenario") or {},
        "scenario_hash": summary.get("scenario_hash"),
        "thresholds": summary.get("thresholds") or [],
        "server": summary.get("server"),
        "events": summary.get("events") or [],
    }


def page(title: str, data: dict[str, Any], extra_html: str = "") -> str:
    css = (_ASSETS / "report.css").read_text(encoding="utf-8")
    js = (_ASSETS / "report.js").read_text(encoding="utf-8")
    # "</" would end the <script> element early if a scenario string contained "</script>"
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<style>\n{css}</style>\n<script>\n{_ERROR_TRAP}\n</script>\n</head>\n<body>\n"
        "<div id=\"js-errors\"></div>\n<div id=\"app\"></div>\n" + extra_html +
        f"<script type=\"application/json\" id=\"pegload-data\">{payload}</script>\n"
        f"<script>\n{js}</script>\n</body>\n</html>\n"
    )


def render_run_html(summary: dict[str, Any]) -> str:
    from pegload.report.agents import agents_section

    return page(f"pegload {summary['run'].get('id')}", run_view(summary), agents_section(summary))


def render_compare_html(view: dict[str, Any]) -> str:
    """``view`` from :func:`pegload.report.compare.compare_view`."""
    labels = " vs ".join(r["label"] for r in view["runs"])
    return page(f"pegload comparison: {labels}", view)
