"""What ``pegload check`` prints and writes: the verdict table, JUnit XML (one test case per
checked metric) and a Markdown summary for CI job pages."""
from __future__ import annotations

from xml.etree import ElementTree as ET

from pegload.report.gate import CheckResult, Verdict, verdict_row
from pegload.report.terminal import render_table

HEADERS = ["metric", "baseline", "current", "change", "limit", "p", "verdict"]


def _scope_text(result: CheckResult) -> str:
    runs = lambda n: f"{n} run{'s' if n != 1 else ''}"
    where = f"phase {result.phase}" if result.phase else "measured phases"
    return f"{runs(result.current_runs)} vs a baseline of {runs(result.baseline_runs)}, {where}"


def headline(result: CheckResult, allow_unstable: bool = False) -> str:
    failed = [v for v in result.verdicts if v.failed(allow_unstable)]
    if not failed:
        unstable = result.count("unstable")
        note = f" ({unstable} unstable, allowed)" if unstable else ""
        return f"PASS: {len(result.verdicts)} checks{note}"
    parts = []
    for verdict in ("regression", "missing", "breach", "no data", "unstable"):
        names = [v.name for v in failed if v.verdict == verdict]
        if names:
            parts.append(f"{len(names)} {verdict}: {', '.join(names)}")
    return "FAIL: " + "; ".join(parts)


def to_text(result: CheckResult, allow_unstable: bool = False) -> str:
    lines = [f"pegload check: {_scope_text(result)}", "",
             render_table(HEADERS, [verdict_row(v) for v in result.verdicts])]
    notes = [f"  {v.name}: {v.detail}" for v in result.verdicts if v.detail]
    if notes:
        lines += ["", "notes:", *notes]
    lines += ["", headline(result, allow_unstable)]
    return "\n".join(lines)


def _message(v: Verdict) -> str:
    row = dict(zip(HEADERS, verdict_row(v)))
    text = f"{v.name}: {v.verdict}; baseline {row['baseline']}, current {row['current']}"
    if v.kind == "regression":
        text += f", change {row['change']} (limit {row['limit']})"
        if v.p_value is not None:
            text += f", p={v.p_value:.3g}"
    else:
        text += f" (threshold {row['limit']})"
    if v.baseline_values and len(v.baseline_values) + len(v.current_values) > 2:
        text += f"; per run: baseline {v.baseline_values}, current {v.current_values}"
    return text + (f"; {v.detail}" if v.detail else "")


def to_junit(result: CheckResult, allow_unstable: bool = False) -> str:
    failures = sum(1 for v in result.verdicts if v.failed(allow_unstable))
    skipped = result.count("skipped")
    suites = ET.Element("testsuites", name="pegload check", tests=str(len(result.verdicts)),
                        failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name=f"pegload check ({_scope_text(result)})",
                          tests=str(len(result.verdicts)), failures=str(failures), errors="0",
                          skipped=str(skipped))
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"pegload.{v.kind}", name=v.name)
        if v.failed(allow_unstable):
            failure = ET.SubElement(case, "failure", message=_message(v), type=v.verdict)
            failure.text = _message(v)
        elif v.verdict == "skipped":
            ET.SubElement(case, "skipped", message=v.detail)
        else:
            ET.SubElement(case, "system-out").text = _message(v)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def to_markdown(result: CheckResult, allow_unstable: bool = False) -> str:
    lines = [f"### pegload check: {headline(result, allow_unstable)}", "", _scope_text(result), "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for v in result.verdicts:
        cells = [str(c).replace("|", "\\|") for c in verdict_row(v)]
        if v.failed(allow_unstable):
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {v.name}: {v.detail}" for v in result.verdicts if v.detail]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
