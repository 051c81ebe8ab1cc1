"""Every shipped scenario, shrunk to about a second per phase and a small data set, runs end to
end the way the README runs them: against an embedded onebox the coordinator starts itself."""
import glob
import os

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "scenarios", "*.yaml")))


def shrink(doc: dict) -> dict:
    """Same ops, keys and pacing; ~1 s phases, no warm-up, at most 60 x 20 records, and no
    thresholds (SLOs meant for a 30 s run say nothing about a 1 s one) nor events (timed for the
    full phase; the failover demo's events run in test_harness_server_view.py)."""
    data = doc.setdefault("data", {})
    data["hash_keys"] = min(data.get("hash_keys", 1000), 60)
    data["sort_keys"] = min(data.get("sort_keys", 10), 20)
    if isinstance(doc.get("load"), dict) and "batch" in doc["load"]:
        doc["load"]["batch"] = min(doc["load"]["batch"], data["sort_keys"])
    doc.pop("thresholds", None)
    doc.pop("events", None)
    for phase in doc["phases"]:
        phase.pop("ops", None)
        phase.pop("thresholds", None)
        phase["duration"] = "1s"
        phase["warmup"] = 0
        if "ramp" in phase:
            phase["ramp"]["over"] = "0.5s"
    return doc


def test_scenarios_are_shipped():
    names = {os.path.basename(p) for p in SHIPPED}
    assert {"readheavy.yaml", "writeheavy.yaml", "mixed.yaml", "multiget-heavy.yaml", "scan-heavy.yaml"} <= names
    assert {f"ycsb-{w}.yaml" for w in "abcdef"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: os.path.basename(p))
def test_shipped_scenario_runs_briefly(path, pegload_cli):
    with open(path, encoding="utf-8") as f:
        doc = shrink(yaml.safe_load(f))
    name = os.path.splitext(os.path.basename(path))[0]
    brief = pegload_cli.scenario(yaml.safe_dump(doc, sort_keys=False), name)
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", brief, "--workers", 2, "--concurrency", 4, "--report-dir", out, "--quiet",
                        timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "completed" and s["target"]["kind"] == "onebox"
    run_phases = [p for p in s["phases"] if p["kind"] == "run"]
    assert [p["name"] for p in run_phases] == [p["name"] for p in doc["phases"]]
    for phase in s["phases"]:
        assert phase["all"]["count"] > 0, phase["name"]
        assert phase["all"]["error_count"] == 0, (phase["name"], phase["all"]["errors"])
        assert phase["all"]["verification_errors"] == 0, phase["name"]
        mix = {p["name"]: p for p in doc["phases"]}.get(phase["name"], {}).get("mix", {})
        assert set(phase["ops"]) <= set(mix) | {"multi_set", "set"}, phase["name"]
