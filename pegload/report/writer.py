"""``write_report``: everything a run leaves in its report folder."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pegload.metrics import KINDS
from pegload.report.agents import write_agent_hlog
from pegload.report.hgrm import percentile_distribution
from pegload.report.hlog import write_hlog
from pegload.report.html import render_run_html
from pegload.report.model import RunResult
from pegload.report.runs import SUMMARY_FILE, scope_hist
from pegload.report.slo import SloResult, evaluate_summary
from pegload.report.summary import build_summary, dumps
from pegload.report.terminal import summary_table
from pegload.scenario.thresholds import Threshold

HTML_FILE = "report.html"
HLOG_FILE = "latency.hlog"
TEXT_FILE = "summary.txt"
HGRM_DIR = "hgrm"


@dataclass(frozen=True)
class ReportPaths:
    dir: Path
    summary: Path
    html: Path
    hlog: Path
    text: Path
    hgrm: dict[tuple[str, str, str], Path]  # (phase, op, kind) -> file
    data: dict[str, Any]  # the summary.json content
    slo: list[SloResult]  # the thresholds judged, in the order given

    @property
    def slo_passed(self) -> bool:
        return all(r.passed for r in self.slo)


def safe_name(name: str) -> str:
    """A phase or op name usable as a file name on any system."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "_"


def write_report(run: RunResult, out_dir: str | Path,
                 thresholds: Iterable[Threshold | tuple[str | None, Threshold]] = ()) -> ReportPaths:
    """Write summary.json, summary.txt, report.html, latency.hlog and hgrm/<phase>.<op>.<kind>.hgrm
    into ``out_dir`` (created if needed) and return their paths.

    ``thresholds`` (the scenario's SLOs: plain, or ``(phase name, threshold)`` for a phase's own)
    are judged here and recorded in the report; ``paths.slo_passed`` tells the exit code."""
    out = Path(out_dir)
    (out / HGRM_DIR).mkdir(parents=True, exist_ok=True)
    summary = build_summary(run)
    slo = evaluate_summary(summary, thresholds)
    summary["thresholds"] = [r.to_dict() for r in slo]

    hgrm: dict[tuple[str, str, str], Path] = {}
    for phase in summary["phases"]:
        for op, entry in phase["ops"].items():
            for kind in KINDS:
                hist = scope_hist(entry, kind)
                if hist is None:
                    continue
                path = out / HGRM_DIR / f"{safe_name(phase['name'])}.{safe_name(op)}.{kind}.hgrm"
                path.write_text(percentile_distribution(hist), encoding="utf-8")
                hgrm[(phase["name"], op, kind)] = path

    hlog = out / HLOG_FILE
    with hlog.open("w", encoding="utf-8") as f:
        write_hlog(f, run.accumulator.series(), run.started_at)
        if run.agent_intervals:  # a distributed run: each agent's own lines, tagged agent<N>/...
            write_agent_hlog(f, run.agent_intervals, run.started_at)

    summary["files"] = {
        "summary": SUMMARY_FILE, "text": TEXT_FILE, "html": HTML_FILE, "hlog": HLOG_FILE,
        "hgrm": sorted(str(p.relative_to(out)) for p in hgrm.values()),
    }
    paths = ReportPaths(out, out / SUMMARY_FILE, out / HTML_FILE, hlog, out / TEXT_FILE, hgrm, summary, slo)
    paths.summary.write_text(dumps(summary), encoding="utf-8")
    paths.text.write_text(summary_table(summary) + "\n", encoding="utf-8")
    paths.html.write_text(render_run_html(summary), encoding="utf-8")
    return paths
