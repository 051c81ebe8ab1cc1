"""`pegload capacity` against a onebox with a known capacity (table-env read throttling), and a
client starved on purpose. Short steps, few of them: the machine is small and shared.

The SLO is get.p99 < 15ms: above the throttle the server delays each excess get by 20 ms, so
p99 jumps to 20-23 ms; below it this machine's p99 (client noise included) measured 0.5-3.4 ms
and its p99.9 up to 6.3 ms (docs/capacity.md has the runs). 15 ms sits between the two regimes
with margin on both sides; 5 ms is within reach of the busy machine's client tail alone (~6 ms
p99 seen by bench/onebox_throttling.py).

Precision 5%: a step can fail for the machine's sake (a client stall pushing p99 over 15 ms);
noise only lowers the answer, and at 5% one spurious failure just under the throttle (2,750)
still leaves the answer at 2,625 or more, inside the 15% the acceptance allows; at 10% it would
leave 2,500 (at 10% this test failed once in five runs; its output was not kept)."""
import pytest

pytestmark = pytest.mark.integration

GET_ONLY = """\
workers: 2
concurrency: 64
data: {hash_keys: 2000, sort_keys: 1, value_size: 100}
load: {batch: 1}
phases:
  - name: run
    duration: 5s
    keys: {distribution: uniform}
    mix: {get: 1}
"""

STARVED = """\
workers: 1
concurrency: 1
data: {hash_keys: 200, sort_keys: 1, value_size: 100}
phases:
  - name: run
    duration: 5s
    mix: {get: 1}
"""


def test_throttled_capacity_is_found_within_15_percent(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, app_envs={"temp": {"replica.read_throttling": "3000*delay*20"}})
    out = pegload_cli.tmp_path / "cap"
    r = pegload_cli.run("capacity", pegload_cli.scenario(GET_ONLY, "getonly"), "--slo", "get.p99<15ms",
                        "--meta", ",".join(ob.meta_addrs), "--table", "temp", "--start-rate", "1000",
                        "--step-duration", "3s", "--warmup", "1s", "--precision", "5%",
                        "--report-dir", out, "-q", timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    data = pegload_cli.summary(out)
    cap = data["capacity"]
    assert data["kind"] == "pegload-capacity"
    assert cap["limited_by"] == "slo" and cap["judged"], r.stdout
    assert abs(cap["max_rate"] - 3000) <= 0.15 * 3000, r.stdout
    assert cap["slo"] == ["get.p99 < 15ms", "errors < 1%"]
    # the answer is a measured, passing step; a rate at most `precision` above it failed
    passing = [s for s in cap["steps"] if s["target_rate"] == cap["max_rate"]]
    assert passing and all(s["verdict"] == "pass" for s in passing)
    assert (cap["lowest_fail"] - cap["max_rate"]) / cap["lowest_fail"] <= 0.05 + 1e-9
    # every step is an ordinary run report that can be re-read
    for s in cap["steps"]:
        step = pegload_cli.summary(out / s["report"])
        assert step["kind"] == "pegload-run" and step["measured"]["phases"] == ["run"]
        assert set(s["ops"]["get"]["latency_us"]["response"]) == {"p50", "p90", "p99", "p999"}
    assert "capacity:" in r.stdout and (out / "report.html").is_file()


def test_starved_client_ends_limited_by_client(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 4}, delay_ms=5)  # one greenlet: at most ~1/(5 ms) = 200 gets/s
    out = pegload_cli.tmp_path / "starved"
    r = pegload_cli.run("capacity", pegload_cli.scenario(STARVED, "starved"), "--slo", "get.p99<100ms",
                        "--meta", ",".join(ob.meta_addrs), "--table", "temp", "--start-rate", "100",
                        "--step-duration", "2s", "--warmup", "0.5s", "--report-dir", out, "-q", timeout=300)
    assert r.returncode == 1, r.stderr + r.stdout
    cap = pegload_cli.summary(out)["capacity"]
    assert cap["limited_by"] == "client" and not cap["judged"]
    last = cap["steps"][-1]
    assert last["verdict"] == "client" and last["validity"]["limited_by"] == "client"
    assert "--workers" in r.stdout and "--dask" in r.stdout


def test_closed_sweep_follows_littles_law(pegload_cli, onebox_factory):
    """Against a server that holds every request 2 ms, c greenlets keep c ops in flight:
    throughput x mean latency ~= c, and throughput <= c / 2 ms."""
    ob = onebox_factory(tables={"temp": 4}, delay_ms=2)
    out = pegload_cli.tmp_path / "closed"
    r = pegload_cli.run("capacity", pegload_cli.scenario(STARVED, "sweep"), "--slo", "get.p99<100ms", "--closed",
                        "--max-concurrency", "4", "--meta", ",".join(ob.meta_addrs), "--table", "temp",
                        "--step-duration", "2s", "--warmup", "0.5s", "--report-dir", out, "-q", timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    cap = pegload_cli.summary(out)["capacity"]
    assert cap["mode"] == "closed" and [s["concurrency"] for s in cap["steps"]] == [1, 2, 4]
    for s in cap["steps"]:
        c, little = s["concurrency"], s["little"]
        assert 0.8 * c <= little["in_flight"] <= 1.02 * c, little
        assert s["achieved_rate"] <= c / 0.002, s["achieved_rate"]
    assert "in flight" in r.stdout
