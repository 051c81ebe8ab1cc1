"""``write_report``: everything a run leaves in its report folder; and the folder's checks.

- ``prepare_report_dir(path, overwrite)`` runs before any process starts: it creates the folder,
  proves it writable (a probe file written and renamed) and refuses one that already holds a run
  unless ``overwrite``; problems raise :class:`ReportDirError` naming the folder.
- ``write_report`` writes every file atomically (``atomic.py``) and ``summary.json`` last, so a
  crash mid-write leaves no summary that ``check``/``compare`` would trust. With ``overwrite`` the
  previous run's files go first (``clear_run``), its summary.json before anything else.
- If the folder cannot be written anyway (disk full, removed meanwhile), the report is written to
  a ``pegload-unsaved-*`` folder in the system temp folder (else the current one) and
  :class:`ReportWriteError` names both.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pegload.metrics import KINDS
from pegload.report.agents import write_agent_hlog
from pegload.report.atomic import atomic_write_text
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
LOGS_DIR = "logs"
COMPARISON_FILES = ("comparison.json", "comparison.html", "comparison.txt")
# what a run (or a multi-target run's comparison) leaves in its folder: clear_run removes these
# and nothing else, so a mistyped --report-dir with --overwrite cannot empty an unrelated folder
_RUN_FILES = (SUMMARY_FILE, TEXT_FILE, HTML_FILE, HLOG_FILE) + COMPARISON_FILES
_RUN_DIRS = (HGRM_DIR, LOGS_DIR)


class ReportDirError(Exception):
    """The report folder cannot be used; the message names it and says why."""


class ReportWriteError(OSError):
    """The report folder could not be written; ``saved`` is where the report went instead
    (None when nothing could be saved). The message names both."""

    def __init__(self, message: str, saved: Path | None) -> None:
        super().__init__(message)
        self.saved = saved


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


def run_in(path: Path) -> Path | None:
    """The file that shows ``path`` already holds a run: its summary.json or comparison.json, or
    that of a run folder directly inside it (a multi-target run); None if there is none."""
    for where in [path] + sorted(p for p in path.iterdir() if p.is_dir()):
        for name in (SUMMARY_FILE, COMPARISON_FILES[0]):
            if (where / name).is_file():
                return where / name
    return None


def prepare_report_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create ``path`` if needed and prove it writable; refuse a folder holding a run unless
    ``overwrite`` (its files are then replaced when the new report is written). Raises
    :class:`ReportDirError`."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ReportDirError(f"report folder {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        found = run_in(out)
    except OSError as exc:
        raise ReportDirError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
    if found is not None and not overwrite:
        raise ReportDirError(f"report folder {out} already holds a run ({found}); "
                             "pass --overwrite to replace it, or choose another --report-dir")
    probe = out / f".pegload-probe-{os.getpid()}"
    try:
        atomic_write_text(probe, "pegload checks that it can write its report here\n")
        probe.unlink()
    except OSError as exc:
        raise ReportDirError(f"cannot write in the report folder {out}: {exc.strerror or exc}") from None
    return out


def clear_run(path: str | Path) -> None:
    """Remove the files of the run(s) in ``path`` (summary.json first, so a folder caught half
    cleared is not trusted), and run folders directly inside it that are left empty."""
    out = Path(path)
    if not out.is_dir():
        return
    subdirs = [p for p in sorted(out.iterdir()) if p.is_dir() and (p / SUMMARY_FILE).is_file()]
    for where in [out] + subdirs:
        for name in _RUN_FILES:
            try:
                (where / name).unlink()
            except FileNotFoundError:
                pass
        for name in _RUN_DIRS:
            shutil.rmtree(where / name, ignore_errors=True)
        if where is not out:
            try:
                where.rmdir()
            except OSError:  # something else lives there: keep it
                pass


def write_report(run: RunResult, out_dir: str | Path,
                 thresholds: Iterable[Threshold | tuple[str | None, Threshold]] = (),
                 overwrite: bool = False) -> ReportPaths:
    """Write summary.json, summary.txt, report.html, latency.hlog and hgrm/<phase>.<op>.<kind>.hgrm
    into ``out_dir`` (created if needed) and return their paths.

    ``thresholds`` (the scenario's SLOs: plain, or ``(phase name, threshold)`` for a phase's own)
    are judged here and recorded in the report; ``paths.slo_passed`` tells the exit code.
    ``overwrite`` first removes a previous run's files (see ``clear_run``).

    Raises:
        ReportWriteError: ``out_dir`` could not be written; the report was saved elsewhere.
    """
    out = Path(out_dir)
    summary = build_summary(run)
    slo = evaluate_summary(summary, thresholds)
    summary["thresholds"] = [r.to_dict() for r in slo]
    try:
        if overwrite:
            clear_run(out)
        return _write_files(run, summary, slo, out)
    except OSError as exc:
        saved = _save_elsewhere(run, summary, slo)
        where = (f"the measured data is saved in {saved}" if saved is not None
                 else "and it could not be saved anywhere else either")
        raise ReportWriteError(f"cannot write the report to {out}: {exc}; {where}", saved) from exc


def _write_files(run: RunResult, summary: dict[str, Any], slo: list[SloResult], out: Path) -> ReportPaths:
    (out / HGRM_DIR).mkdir(parents=True, exist_ok=True)
    hgrm: dict[tuple[str, str, str], Path] = {}
    for phase in summary["phases"]:
        for op, entry in phase["ops"].items():
            for kind in KINDS:
                hist = scope_hist(entry, kind)
                if hist is None:
                    continue
                path = out / HGRM_DIR / f"{safe_name(phase['name'])}.{safe_name(op)}.{kind}.hgrm"
                atomic_write_text(path, percentile_distribution(hist))
                hgrm[(phase["name"], op, kind)] = path

    hlog = out / HLOG_FILE
    buf = io.StringIO()
    write_hlog(buf, run.accumulator.series(), run.started_at)
    if run.agent_intervals:  # a distributed run: each agent's own lines, tagged agent<N>/...
        write_agent_hlog(buf, run.agent_intervals, run.started_at)
    atomic_write_text(hlog, buf.getvalue())

    summary["files"] = {
        "summary": SUMMARY_FILE, "text": TEXT_FILE, "html": HTML_FILE, "hlog": HLOG_FILE,
        "hgrm": sorted(str(p.relative_to(out)) for p in hgrm.values()),
    }
    paths = ReportPaths(out, out / SUMMARY_FILE, out / HTML_FILE, hlog, out / TEXT_FILE, hgrm, summary, slo)
    atomic_write_text(paths.text, summary_table(summary) + "\n")
    atomic_write_text(paths.html, render_run_html(summary))
    atomic_write_text(paths.summary, dumps(summary))  # last: its presence says the report is whole
    return paths


def _save_elsewhere(run: RunResult, summary: dict[str, Any], slo: list[SloResult]) -> Path | None:
    """Write the whole report (else summary.json alone) to a new ``pegload-unsaved-*`` folder in
    the system temp folder, else the current folder; its path, or None."""
    for parent in (tempfile.gettempdir(), os.getcwd()):
        try:
            where = Path(tempfile.mkdtemp(prefix="pegload-unsaved-", dir=parent))
        except OSError:
            continue
        try:
            _write_files(run, summary, slo, where)
            return where
        except OSError:
            try:
                atomic_write_text(where / SUMMARY_FILE, dumps(summary))
                return where
            except OSError:
                continue
    return None
