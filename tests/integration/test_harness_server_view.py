"""The server's view and fault timelines end to end on the embedded onebox: a 1 s stall injected
by an event at 4 s of a 1,000 ops/s run, the servers' own counts beside the client's, and the
failover demo (shortened) with its recovery figures."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# 1 worker x 4 greenlets, 1,000 gets/s for 10 s; nothing else touches the onebox started for it
STALL = """\
name: stall-event
workers: 1
concurrency: 4
timeout_ms: 3000
target: {onebox: {partitions: 4, replicas: 3}}
data: {hash_keys: 50, sort_keys: 4, value_size: 50}
server_metrics: {interval: 2s}
events:
  - at: 4s
    phase: run
    onebox: {stall: 1s}
phases:
  - name: run
    duration: 10s
    rate: 1000
    mix: {get: 1}
"""


@pytest.fixture(scope="module")
def stall_run(tmp_path_factory):
    """One run shared by the tests below (the machine is shared: run it once)."""
    tmp = tmp_path_factory.mktemp("stall")
    path, out = tmp / "stall.yaml", tmp / "report"
    path.write_text(STALL, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pegload.cli", "run", str(path), "--report-dir", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=180, cwd=tmp)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), out


def test_a_stall_event_is_recorded_once_and_shows_in_an_interval_p99(stall_run):
    summary, _ = stall_run
    (event,) = summary["events"]
    assert (event["action"], event["outcome"], event["label"]) == ("stall", "ok", "stall 1s")
    assert abs(event["at_actual_s"] - 4.0) < 0.2 and event["late_s"] < 0.2, event
    ts = summary["timeseries"]
    col = {c: i for i, c in enumerate(ts["columns"])}
    gets = [r for r in ts["rows"] if r[col["phase"]] == "run" and r[col["op"]] == "get"]
    hit = [r for r in gets if r[col["response.p99"]] >= 500_000]
    assert hit, [r[col["response.p99"]] for r in gets]
    # ops are recorded when their reply comes: the stalled ones in the interval after the stall
    assert any(event["t"] - 0.01 <= r[col["start"]] <= event["t"] + 2.0 for r in hit)
    rec = event["recovery"]["p99"]
    # not before the 1 s stall is over; and within the run (6 s after the event), even when the
    # shared machine's noise keeps a few intervals above the tight baseline-derived limit
    assert rec["peak_us"] >= 500_000 and rec["recovered"] is True and 1 <= rec["s"] <= 6, rec


def test_server_get_counts_equal_the_clients_within_2_percent(stall_run):
    summary, out = stall_run
    server = summary["server"]
    assert server["captured"] and len(server["replicas"]) == 3 and not server["warnings"], server["errors"]
    client = summary["phases"][1]["ops"]["get"]["count"]
    counted = sum(r["requests"].get("get", 0) for r in server["replicas"])
    assert client == 10_000 and abs(counted - client) <= 0.02 * client, (counted, client)
    (row,) = server["comparison"]
    assert (row["op"], row["server_op"], row["client_count"], row["server_count"]) == ("get", "get", client, counted)
    # the server's own time is far below what the client measured around it
    assert 0 < row["server_p99_us"] < row["client_service_p99_us"]
    # every replica served some gets (4 partitions over 3 servers), each with a rate series
    assert all(r["requests"].get("get") and r["timeseries"]["rows"] for r in server["replicas"])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '"events":[{' in html and '"server":{"captured":true' in html


def test_the_failover_demo_completes_with_recovery_figures(pegload_cli):
    doc = yaml.safe_load((REPO / "scenarios" / "failover.yaml").read_text(encoding="utf-8"))
    # shortened for the test: kill at 3 s, restart at 8 s of a 14 s phase at 300 ops/s
    doc["events"][0]["at"], doc["events"][1]["at"] = "3s", "8s"
    # and a command that overstays its timeout: killed, recorded, the run goes on
    doc["events"].append({"at": "11.5s", "exec": "echo started; sleep 30", "timeout": "500ms"})
    doc["phases"][0].update(duration="14s", warmup="1s", rate=300)
    doc["concurrency"] = 700
    path = pegload_cli.scenario(yaml.safe_dump(doc), "failover")
    out = pegload_cli.tmp_path / "report"
    proc = pegload_cli.run("run", path, "--report-dir", out, "--quiet", timeout=180)
    assert proc.returncode in (0, 1), proc.stderr + proc.stdout  # 1: a recovery SLO breached on a busy box
    summary = pegload_cli.summary(out)
    kill, restart, slow = summary["events"]
    assert (slow["outcome"], slow["output"], slow["error"]) == ("timeout", "started\n", "killed after the 0.5s timeout")
    assert slow["took_s"] < 3
    assert (kill["action"], kill["outcome"], restart["action"], restart["outcome"]) == (
        "kill_replica", "ok", "restart_replica", "ok")
    assert kill["recovery"]["p99"]["s"] is not None and kill["recovery"]["errors"]["s"] is not None
    # the dead server's primaries moved after the 2 s detection delay: the client saw it
    assert kill["recovery"]["p99"]["peak_us"] >= 500_000
    assert {t["threshold"] for t in summary["thresholds"]} == {"recovery.p99 < 10s", "recovery.errors < 10s"}
    assert all(t["actual"] is not None for t in summary["thresholds"])
    dead = [r for r in summary["server"]["replicas"] if r["resets"]]
    assert len(dead) == 1  # the restarted server started counting from 0 again
    assert any(e["server"] == dead[0]["address"] for e in summary["server"]["errors"])
    assert re.search(r"recovery\.p99 < 10s \(measured [\d.]+ m?s[;)]", proc.stdout)
