"""SLO thresholds of the scenario are judged at the end of the run: recorded in the report,
printed under the table, and a breach makes the exit status 1."""
import pytest

pytestmark = pytest.mark.integration

SCENARIO = """\
workers: 1
concurrency: 2
data: {hash_keys: 20, sort_keys: 2}
phases:
  - name: run
    ops: 200
    mix: {get: 1}
    thresholds: [get.p50 < 1us]
thresholds:
  - errors < 1%
  - throughput > 1
"""


def test_slo_breach_exits_1_and_is_recorded(pegload_cli, onebox):
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", pegload_cli.scenario(SCENARIO, "slo"), "--meta", ",".join(onebox.meta_addrs),
                        "--table", "temp", "--report-dir", out, "--quiet")
    assert r.returncode == 1, r.stderr + r.stdout
    verdicts = {(t["phase"], t["threshold"]): t["verdict"] for t in pegload_cli.summary(out)["thresholds"]}
    assert verdicts == {(None, "errors < 1%"): "pass", (None, "throughput > 1"): "pass",
                        ("run", "get.p50 < 1us"): "breach"}
    assert "BREACH" in r.stdout and "get.p50 < 1us" in r.stdout
    assert pegload_cli.summary(out)["run"]["status"] == "completed"
