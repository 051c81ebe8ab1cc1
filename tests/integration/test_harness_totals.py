"""A 2-worker run against the onebox with exact totals: every op the workers sent is in the
report, op-count phases do exactly their count, and the server saw the same requests."""
import pytest

pytestmark = pytest.mark.integration

SCENARIO = """\
workers: 2
concurrency: 4
seed: 7
data: {hash_keys: 40, sort_keys: 5, value_size: 50}
load: {batch: 5}
phases:
  - name: counted
    ops: 1201
    mix: {get: 6, set: 2, multi_get: {weight: 1, sort_keys: 3}, multi_set: {weight: 1, sort_keys: 2}}
  - name: paced
    duration: 1.5s
    rate: 400
    mix: {get: 1}
"""


def test_two_workers_exact_totals(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    ob.counters(reset=True)
    path = pegload_cli.scenario(SCENARIO, "totals")
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", path, "--meta", ",".join(ob.meta_addrs), "--table", "temp",
                        "--report-dir", out, "--quiet")
    assert r.returncode == 0, r.stderr + r.stdout
    s = pegload_cli.summary(out)
    phases = {p["name"]: p for p in s["phases"]}
    assert list(phases) == ["load", "counted", "paced"]

    # the load phase wrote the data set: 40 hash keys in one multi_set each
    assert phases["load"]["ops"]["multi_set"]["count"] == 40
    # an op-count phase does exactly its count, split over the two workers
    counted = phases["counted"]
    assert counted["all"]["count"] == 1201
    assert {op: e["count"] for op, e in counted["ops"].items()}.keys() == {"get", "set", "multi_get", "multi_set"}
    # an open-loop duration phase does exactly its schedule: 400 ops/s x 1.5 s
    assert phases["paced"]["all"]["count"] == 600 and phases["paced"]["dropped"] == 0
    for name, phase in phases.items():
        assert phase["all"]["error_count"] == 0, name
        check = s["self_check"]["phases"][name]
        # ops the workers say they sent == ops merged from their interval histograms == report
        assert check["ops_sent"] == check["ops_recorded"] == phase["all"]["count"], name
        assert set(check["workers"]) == {"0", "1"}
        # every finished op is exactly one of ok, miss or error
        for op, e in phase["ops"].items():
            assert e["count"] == e["ok"] + e["misses"] + e["error_count"], (name, op)

    # the server answered exactly the requests the report counts
    served = ob.counters()["requests"]
    count = {op: sum(p["ops"].get(op, {}).get("count", 0) for p in phases.values())
             for op in ("get", "set", "multi_get", "multi_set")}
    assert served.get("RPC_RRDB_RRDB_GET", 0) == count["get"]
    assert served.get("RPC_RRDB_RRDB_PUT", 0) == count["set"]
    assert served.get("RPC_RRDB_RRDB_MULTI_GET", 0) == count["multi_get"]
    assert served.get("RPC_RRDB_RRDB_MULTI_PUT", 0) == count["multi_set"]

    assert s["target"]["partition_count"] == 8 and s["target"]["table"] == "temp"
    assert len(s["target"]["replica_servers"]) == 3
    assert s["run"]["status"] == "completed" and s["run"]["workers"] == 2
    assert (out / "report.html").exists() and (out / "latency.hlog").exists()
    # the terminal summary table was printed
    assert "phase counted" in r.stdout and "multi_get" in r.stdout
