"""Reports: the run model, summary.json (the source of truth), .hgrm/.hlog, report.html, the
terminal table and progress line, compare and the CI gate.

The coordinator's entry points::

    from pegload.report import (RunResult, PhaseInfo, TargetFingerprint, Validity, RunStatus,
                                write_report, write_comparison, summary_table, progress_line)
"""
from pegload.report.compare import ComparisonPaths, write_comparison
from pegload.report.model import PhaseInfo, RunResult, RunStatus, TargetFingerprint, Validity
from pegload.report.runs import LoadedRun, ReportError, load_run
from pegload.report.terminal import progress_line, summary_table
from pegload.report.writer import ReportPaths, write_report

__all__ = [
    "PhaseInfo", "RunResult", "RunStatus", "TargetFingerprint", "Validity",
    "LoadedRun", "ReportError", "load_run", "ReportPaths", "write_report",
    "progress_line", "summary_table", "write_comparison", "ComparisonPaths",
]
