"""Comparing runs: side-by-side figures with ratios to the first, a comparability check that
names what differs, and the comparison report a multi-target run writes.

A comparison *entry* is one run, or several repeats of the same run merged (histograms added,
throughput over the summed measured time).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pegload.metrics import KINDS
from pegload.report.atomic import atomic_write_text
from pegload.report.figures import figure, format_figure, lower_is_better
from pegload.report.html import render_compare_html, spectrum_points
from pegload.report.model import RunResult, target_display_name
from pegload.report.runs import LoadedRun, load_run, merged_scope
from pegload.report.summary import ALL_OPS, build_summary, dumps
from pegload.report.terminal import render_table
from pegload.scenario.load import hashed_shape

COMPARISON_KIND = "pegload-comparison"
COMPARISON_SCHEMA_VERSION = 1
ROW_STATS = ("p50", "p99", "p999", "max")  # latency rows per kind in the comparison table
MAX_DIFFERENCES = 12

RunLike = RunResult | LoadedRun | str | Path


@dataclass
class Entry:
    label: str
    runs: list[LoadedRun]
    scope: dict[str, Any]

    @property
    def first(self) -> LoadedRun:
        return self.runs[0]


def as_loaded(run: RunLike) -> LoadedRun:
    if isinstance(run, LoadedRun):
        return run
    if isinstance(run, RunResult):
        return LoadedRun(Path(f"<run {run.run_id}>"), build_summary(run))
    summary_path, data = getattr(run, "summary", None), getattr(run, "data", None)
    if isinstance(summary_path, Path) and isinstance(data, dict):  # a ReportPaths from write_report
        return LoadedRun(summary_path, data)
    return load_run(run)


def target_key(run: LoadedRun) -> str:
    t = run.target
    if t.get("name"):
        return str(t["name"])
    return json.dumps({k: t.get(k) for k in ("kind", "meta", "table", "partition_count", "labels", "extra")},
                      sort_keys=True)


def make_entries(runs: Sequence[LoadedRun], phase: str | None = None, group: bool = False) -> list[Entry]:
    """One entry per run, or with ``group`` one per target (repeats of a target merged)."""
    groups: list[list[LoadedRun]] = []
    if group:
        by_key: dict[str, list[LoadedRun]] = {}
        for run in runs:
            key = target_key(run)
            if key not in by_key:
                by_key[key] = []
                groups.append(by_key[key])
            by_key[key].append(run)
    else:
        groups = [[r] for r in runs]
    entries, seen = [], {}
    for g in groups:
        label = g[0].label
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} #{seen[label]}"
        if len(g) > 1:
            label = f"{label} (x{len(g)})"
        entries.append(Entry(label, g, merged_scope(g, phase)))
    return entries


# ----------------------------------------------------------------------------- comparability

def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) >= MAX_DIFFERENCES:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}" if path else str(k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {json.dumps(a, default=str)} vs {json.dumps(b, default=str)}")


def _hashed_part(summary: dict[str, Any]) -> dict[str, Any]:
    """The scenario as far as its hash covers it, so the differences named are the ones that count."""
    return hashed_shape(summary.get("scenario") or {})


def differences(base: LoadedRun, other: LoadedRun) -> list[str]:
    """What makes ``other`` not comparable with ``base`` (empty when comparable)."""
    out: list[str] = []
    sa, sb = base.summary, other.summary
    if sa["scenario_hash"] != sb["scenario_hash"]:
        found: list[str] = []
        _diff(_hashed_part(sa), _hashed_part(sb), "scenario", found)
        out.extend(found or [f"scenario_hash {sa['scenario_hash']} vs {sb['scenario_hash']}"])
    else:  # same scenario; the run itself may still have differed (overrides, phases cut short)
        _diff(sa["load_shape"], sb["load_shape"], "load_shape", out)
    if base.scope().get("phases") != other.scope().get("phases"):
        out.append(f"measured phases: {base.scope().get('phases')} vs {other.scope().get('phases')}")
    return out


def comparability(entries: Sequence[Entry]) -> dict[str, Any]:
    base = entries[0].first
    found = []
    for entry in entries:
        for run in entry.runs:
            if run is base:
                continue
            for d in differences(base, run):
                found.append(f"{entry.label} ({run.run_id}) vs {entries[0].label}: {d}")
    return {"comparable": not found, "differences": found[:MAX_DIFFERENCES * 2]}


# ----------------------------------------------------------------------------- figures

def ops_of(entries: Sequence[Entry]) -> list[str]:
    seen: list[str] = []
    for e in entries:
        for op in e.scope["ops"]:
            if op not in seen:
                seen.append(op)
    return sorted(seen) + [ALL_OPS]


def _entry_op(entry: Entry, op: str) -> dict[str, Any] | None:
    return entry.scope[ALL_OPS] if op == ALL_OPS else entry.scope["ops"].get(op)


def rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Per op: throughput, errors, then p50/p99/p999/max of every latency kind with samples."""
    out = []
    for op in ops_of(entries):
        metrics: list[tuple[str, str | None]] = [("throughput", None), ("error_rate", None)]
        for kind in KINDS:
            if any(figure(_entry_op(e, op), "max", kind) for e in entries):
                metrics.extend((stat, kind) for stat in ROW_STATS)
        for metric, kind in metrics:
            values = [figure(_entry_op(e, op), metric, kind or "response") for e in entries]
            first = values[0]
            ratios = [None if v is None or not first else round(v / first, 4) for v in values]
            out.append({"op": op, "metric": metric, "kind": kind, "values": values, "ratios": ratios})
    return out


def comparison(runs: Iterable[RunLike], phase: str | None = None, group: bool = False) -> dict[str, Any]:
    """The comparison as plain data (what ``--json`` writes)."""
    loaded = [as_loaded(r) for r in runs]
    if not loaded:
        raise ValueError("nothing to compare")
    entries = make_entries(loaded, phase, group)
    return {
        "schema_version": COMPARISON_SCHEMA_VERSION,
        "kind": COMPARISON_KIND,
        "phase": phase or "measured",
        "runs": [{"label": e.label, "run_ids": [r.run_id for r in e.runs], "paths": [str(r.path) for r in e.runs],
                  "target": e.first.target, "scenario_hash": e.first.summary["scenario_hash"],
                  "validity": _validity(e), "duration_s": e.scope.get("duration_s")} for e in entries],
        "comparability": comparability(entries),
        "rows": rows(entries),
        "_entries": entries,  # for the HTML view; dropped from the JSON
    }


def _validity(entry: Entry) -> dict[str, Any]:
    """Whether every run of the entry completed and is valid; the reasons if not (compare shows
    such runs, and warns: ``pegload check`` refuses them)."""
    reasons = [f"{r.run_id}: {why}" for r in entry.runs if (why := r.unusable())]
    return {"valid": not reasons, "reasons": reasons}


def to_json(comp: dict[str, Any]) -> str:
    return dumps({k: v for k, v in comp.items() if not k.startswith("_")})


def _worse(row: dict[str, Any], tolerance: float = 0.10) -> bool:
    """Some run is more than ``tolerance`` worse than the first on this row (for highlighting)."""
    lower = lower_is_better(row["metric"])
    for r in row["ratios"][1:]:
        if r is not None and (r > 1 + tolerance if lower else r < 1 - tolerance):
            return True
    return False


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def to_text(comp: dict[str, Any]) -> str:
    lines = []
    for i, run in enumerate(comp["runs"]):
        t = run["target"]
        labels = ",".join(f"{k}={v}" for k, v in (t.get("labels") or {}).items())
        lines.append(f"{chr(65 + i)}: {run['label']}  [{t.get('kind')} {','.join(t.get('meta') or [])} "
                     f"table={t.get('table')} app_id={t.get('app_id')} partitions={t.get('partition_count')} "
                     f"replicas={len(t.get('replica_servers') or [])}{' labels=' + labels if labels else ''}]"
                     f"  runs: {', '.join(run['run_ids'])}")
        if not run["validity"]["valid"]:
            lines.append(f"   WARNING, not a trustworthy run: {'; '.join(run['validity']['reasons'])}")
    c = comp["comparability"]
    if not c["comparable"]:
        lines.append("WARNING: runs are not directly comparable:")
        lines.extend(f"  - {d}" for d in c["differences"])
    lines.append("")
    n = len(comp["runs"])
    headers = ["op", "metric"] + [chr(65 + i) for i in range(n)] + [f"{chr(65 + i)}/A" for i in range(1, n)]
    table = []
    for row in comp["rows"]:
        name = row["metric"] if row["kind"] is None else f"{row['kind']}.{row['metric']}"
        table.append([row["op"], name] + [format_figure(row["metric"], v) for v in row["values"]]
                     + [_ratio(r) for r in row["ratios"][1:]])
    lines.append(render_table(headers, table, left=2))
    return "\n".join(lines)


def compare_view(comp: dict[str, Any]) -> dict[str, Any]:
    """The data the comparison HTML page draws."""
    entries: list[Entry] = comp["_entries"]
    ops = [op for op in ops_of(entries) if op != ALL_OPS]
    spectra = {}
    for op in ops:
        spectra[op] = []
        for e in entries:
            entry = _entry_op(e, op)
            encoded = (entry or {}).get("histograms", {}).get("response")
            if encoded:
                spectra[op].append({"label": e.label, "points": spectrum_points(encoded)})
    n = len(entries)
    headers = ["op", "metric", "kind"] + [chr(65 + i) for i in range(n)] + [f"{chr(65 + i)}/A" for i in range(1, n)]
    table_rows = [{"cells": [r["op"], r["metric"], r["kind"] or ""]
                   + [format_figure(r["metric"], v) for v in r["values"]] + [_ratio(x) for x in r["ratios"][1:]],
                   "cls": "regression" if _worse(r) else None} for r in comp["rows"]]
    return {
        "kind": "compare",
        "runs": [{"label": e.label, "run_id": ", ".join(r.run_id for r in e.runs),
                  "target": e.first.target, "target_name": target_display_name(e.first.target),
                  "status": e.first.summary["run"]["status"], "started_at": e.first.summary["run"]["started_at"],
                  "validity": _validity(e), "timeseries": e.first.summary["timeseries"]} for e in entries],
        "comparability": comp["comparability"],
        "table": {"headers": headers, "rows": table_rows},
        "ops": ops,
        "spectra": spectra,
    }


@dataclass(frozen=True)
class ComparisonPaths:
    dir: Path
    json: Path
    html: Path
    text: Path


def write_comparison(runs: Sequence[RunLike], out_dir: str | Path, phase: str | None = None) -> ComparisonPaths:
    """One comparison report (comparison.json, .html, .txt) for a multi-target run. ``runs`` are
    RunResults, ReportPaths, report folders or summary.json paths; repeats of the same target
    (same target name, or same fingerprint) are merged into one column."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comp = comparison(runs, phase=phase, group=True)
    paths = ComparisonPaths(out, out / "comparison.json", out / "comparison.html", out / "comparison.txt")
    atomic_write_text(paths.text, to_text(comp) + "\n")
    atomic_write_text(paths.html, render_compare_html(compare_view(comp)))
    atomic_write_text(paths.json, to_json(comp))  # last: what `compare`/`check` read
    return paths

