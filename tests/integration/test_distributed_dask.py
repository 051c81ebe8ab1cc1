"""`pegload run --dask`: a real `dask scheduler` and two `dask worker` processes on loopback
(free ports, no dashboards, one thread each), an embedded onebox, the real command line.

Few and short runs on purpose: the test machine is small and shared."""
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest

pytestmark = pytest.mark.integration
distributed = pytest.importorskip("distributed")

WORKERS = 2  # Dask workers in the cluster, hence agents per run


class DaskCluster:
    """A scheduler and its workers as child processes; ``ensure()`` replaces dead workers."""

    def __init__(self, tmp) -> None:
        self.tmp = tmp
        self.file = tmp / "scheduler.json"
        self.env = dict(os.environ)
        self.scheduler = self._start("scheduler", ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                                   "--scheduler-file", str(self.file)], "scheduler")
        self.workers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 60
        while not (self.file.exists() and self.file.stat().st_size):
            assert self.scheduler.poll() is None, (tmp / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one go, but make sure it is complete JSON
        self.address = json.loads(self.file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def _start(self, command: str, args: list, log_name: str) -> subprocess.Popen:
        with open(self.tmp / f"{log_name}.log", "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "dask", command, *args], stdout=log,
                                    stderr=subprocess.STDOUT, env=self.env, start_new_session=True)

    def live_workers(self) -> list:
        return [w for w in self.workers if w.poll() is None]

    def ensure(self) -> None:
        for _ in range(WORKERS - len(self.live_workers())):
            n = len(self.workers)
            self.workers.append(self._start("worker", [
                "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nworkers", "1",
                "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--local-directory", str(self.tmp / f"w{n}")], f"worker{n}"))
        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(WORKERS, timeout=60)
            deadline = time.monotonic() + 30  # a killed worker leaves the scheduler's list
            while len(client.scheduler_info()["workers"]) != WORKERS:
                assert time.monotonic() < deadline, client.scheduler_info()["workers"]
                time.sleep(0.1)

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def dask(dask_cluster):
    dask_cluster.ensure()
    return dask_cluster


def _runners(cli, pid: int) -> list:
    return [c for c in cli.children(pid) if "pegload.runner" in cli.cmdline(c)]


def _gone(pids) -> bool:
    return not any(os.path.exists(f"/proc/{p}") for p in pids)


def _hlog(path) -> dict:
    """tag -> histogram (the hdrh package's decoder: not pegload's) summed over the file's lines."""
    from hdrh.histogram import HdrHistogram

    sums: dict = {}
    for line in path.read_text().splitlines():
        if not line.startswith("Tag="):
            continue
        tag, _start, _length, _max, payload = line[4:].split(",")
        h = HdrHistogram.decode(payload)
        if tag in sums:
            sums[tag].add(h)
        else:
            sums[tag] = h
    return sums


def _values(h) -> dict:
    return {i.value_iterated_to: i.count_at_value_iterated_to for i in h.get_recorded_iterator()}


OPEN_LOOP = """\
name: spread
workers: 1
concurrency: 4
data: {hash_keys: 40, sort_keys: 5, value_size: 40}
phases:
  - name: run
    duration: 3s
    rate: 300
    mix: {get: 3, set: 1}
"""


def test_open_loop_run_over_two_agents_merges_exactly(dask, pegload_cli):
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", pegload_cli.scenario(OPEN_LOOP, "spread"), "--dask", dask.address,
                        "--report-dir", out, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    s = pegload_cli.summary(out)
    agents = s["agents"]
    with distributed.Client(dask.address, timeout=30) as client:
        assert sorted(a["dask_worker"] for a in agents) == sorted(client.scheduler_info()["workers"])
    assert [a["id"] for a in agents] == [0, 1] and [a["worker_ids"] for a in agents] == [[0], [1]]
    assert s["run"]["workers"] == 2  # agents x workers per agent
    for a in agents:
        assert len(a["pids"]) == 1 and a["status"] == "ok" and a["validity"]["valid"]
        assert abs(a["clock_offset_us"]) <= a["clock"]["bound_us"] + 1000  # one host: no real offset
        assert a["clock"]["samples"] >= 8 and a["lateness"]["count"] == a["ops"]
        assert f"agent {a['id']} on" in r.stderr  # the offsets were shown before the start
        assert f"agent {a['id']} on {a['host']} ({a['dask_worker']}): 450 ops sent by 1 worker(s)" in r.stdout
    run = {p["name"]: p for p in s["phases"]}["run"]
    # totals exact: 300 ops/s x 3 s, split over the agents, all sent and all in the report
    assert sum(a["ops"] for a in agents) == sum(a["recorded"] for a in agents) == run["all"]["count"] == 900
    assert all(a["ops"] == 450 for a in agents)
    # the merged lateness histograms equal the sum of the agents' own, and every op's count the
    # sum of the agents' counts (hlog read back with the hdrh package, not pegload's decoder)
    hlog = _hlog(out / "latency.hlog")
    for op in ("get", "set"):
        merged = hlog[f"run/{op}/lateness"]
        summed = defaultdict(int)
        for a in agents:
            for v, c in _values(hlog[f"agent{a['id']}/run/{op}/lateness"]).items():
                summed[v] += c
        assert _values(merged) == dict(summed), op
        assert merged.get_total_count() == run["ops"][op]["count"] == hlog[f"run/{op}/response"].get_total_count()
    assert 'id="agents"' in (out / "report.html").read_text()


LONG = """\
name: long
workers: 1
concurrency: 4
data: {hash_keys: 40, sort_keys: 5, value_size: 40}
phases:
  - name: run
    duration: 60s
    rate: 200
    mix: {get: 1}
"""


def test_killed_dask_worker_crashes_the_run_and_keeps_what_was_measured(dask, pegload_cli):
    out = pegload_cli.tmp_path / "report"
    proc = pegload_cli.start("run", pegload_cli.scenario(LONG, "killed"), "--dask", dask.address,
                             "--report-dir", out, "--quiet")
    victim = dask.live_workers()[0]
    runners = pegload_cli.wait_for(lambda: _runners(pegload_cli, victim.pid), 60, "the agent's worker")
    time.sleep(4)  # let the phase run a while: what was measured until the kill must be kept
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - killed_at < 20  # noticed at once, the other agent stopped promptly
    assert proc.returncode == 3, stderr + stdout
    assert "was lost with agent" in stderr
    pegload_cli.wait_for(lambda: _gone(runners), 10, "the dead Dask worker's pegload workers to die")

    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "crashed" and not s["validity"]["valid"]
    lost = [a for a in s["agents"] if a["status"] == "lost"]
    assert len(lost) == 1 and not lost[0]["validity"]["valid"]
    assert any("was lost" in r for r in s["validity"]["reasons"])
    run = {p["name"]: p for p in s["phases"]}["run"]
    assert run["stopped_early"] and run["all"]["count"] >= 200  # measured until the crash, kept


def test_ctrl_c_stops_every_agent(dask, pegload_cli):
    out = pegload_cli.tmp_path / "report"
    proc = pegload_cli.start("run", pegload_cli.scenario(LONG, "sigint"), "--dask", dask.address,
                             "--report-dir", out, "--quiet")
    workers = dask.live_workers()
    runners = [r for w in workers
               for r in pegload_cli.wait_for(lambda w=w: _runners(pegload_cli, w.pid), 60, "every agent's worker")]
    time.sleep(3)
    sent_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent_at < 15
    assert proc.returncode == 130, stderr + stdout
    pegload_cli.wait_for(lambda: _gone(runners), 10, "every agent's workers to exit")
    assert all(w.poll() is None for w in workers)  # the Dask workers themselves live on
    with distributed.Client(dask.address, timeout=30) as client:  # and no agent task is left
        pegload_cli.wait_for(lambda: not any(client.processing().values()), 10, "the agent tasks to end")
    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "interrupted" and len(s["agents"]) == WORKERS
    run = {p["name"]: p for p in s["phases"]}["run"]
    assert run["all"]["count"] == sum(a["ops"] for a in s["agents"]) > 0
