"""Percentages print sensibly at every magnitude (issue 9: a 100% error rate printed `1e+02%`),
the same in the terminal table, compare/check text and the HTML page's script."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pegload.report.percent import format_percent
from pegload.report.summary import build_summary
from pegload.report.synthetic import SyntheticPhase, synthetic_run
from pegload.report.terminal import summary_table

CASES = [
    (0, "0%"), (1, "100%"), (1e-5, "<0.01%"), (1e-9, "<0.01%"), (0.0001, "0.01%"),
    (0.00012345, "0.0123%"), (0.001234, "0.123%"), (0.0099, "0.99%"), (0.01, "1%"),
    (0.1234, "12.3%"), (0.5, "50%"), (0.999, "99.9%"), (0.99951, ">99.9%"), (0.99999, ">99.99%"),
    (1.5, "150%"), (12.5, "1,250%"), (-0.05, "-5%"), (None, "-"), (float("nan"), "n/a"),
]


@pytest.mark.parametrize("fraction,text", CASES)
def test_format_percent(fraction, text):
    assert format_percent(fraction) == text


def test_signed_changes_and_points():
    assert format_percent(0.1234, signed=True) == "+12.3%"
    assert format_percent(-0.1234, signed=True) == "-12.3%"
    assert format_percent(0.0, signed=True) == "0%"
    assert format_percent(0.005, signed=True, unit=" pp") == "+0.5 pp"


def test_terminal_prints_an_all_failed_op_as_100_percent():
    phases = [SyntheticPhase("run", {"set": [(700, 700, 0, "ERR_INVALID_DATA")] * 50}, duration_s=1.0)]
    table = summary_table(build_summary(synthetic_run(phases)))
    row = next(line for line in table.splitlines() if line.startswith("set "))
    assert "(100%)" in row and "e+" not in table


def test_the_html_script_formats_like_python():
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed")
    script = (Path(__file__).parents[2] / "pegload/report/assets/report.js").read_text(encoding="utf-8")
    body = re.search(r"  function fmtPct\(f\) \{.*?\n  \}\n", script, re.S).group(0)
    values = [c[0] for c in CASES if c[0] is not None and c[0] == c[0]]
    program = body + f"\nconsole.log(JSON.stringify({json.dumps(values)}.map(fmtPct)));\n"
    out = subprocess.run([node, "-e", program], capture_output=True, text=True, check=True, timeout=30).stdout
    assert json.loads(out) == [format_percent(v) for v in values]
