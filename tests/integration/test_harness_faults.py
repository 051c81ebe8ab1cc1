"""Run faults: a killed worker, Ctrl-C, an unreachable cluster, a missing table. Each ends with
a clear message and the right exit status; the first two still write what was measured."""
import os
import signal
import time

import pytest

pytestmark = pytest.mark.integration

LONG_RUN = """\
workers: 2
concurrency: 2
data: {hash_keys: 20, sort_keys: 5, value_size: 50}
phases:
  - name: long
    duration: 60s
    rate: 300
    mix: {get: 1}
"""


def _gets(ob) -> int:
    return ob.counters()["requests"].get("RPC_RRDB_RRDB_GET", 0)


def _workers(cli, pid):
    return [c for c in cli.children(pid) if "pegload.runner" in cli.cmdline(c)]


def test_killed_worker_is_named_others_stop_and_the_report_is_written(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    out = pegload_cli.tmp_path / "report"
    proc = pegload_cli.start("run", pegload_cli.scenario(LONG_RUN, "crash"), "--meta", ",".join(ob.meta_addrs),
                             "--table", "temp", "--report-dir", out, "--quiet")
    pegload_cli.wait_for(lambda: _gets(ob) >= 200, 60, "the phase to run")
    workers = pegload_cli.wait_for(
        lambda: len(_workers(pegload_cli, proc.pid)) == 2 and _workers(pegload_cli, proc.pid),
        10, "two worker processes")
    victim, survivor = workers
    victim_id = int(pegload_cli.cmdline(victim).split("--worker-id ")[1].split()[0])
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - killed_at < 20  # the others stopped promptly, not after 60 s
    assert proc.returncode == 3, stderr + stdout
    assert f"worker {victim_id} (pid {victim}) was killed by signal SIGKILL" in stderr
    assert not os.path.exists(f"/proc/{survivor}")  # the other worker exited and was reaped

    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "crashed" and s["run"]["exit_code"] == 3
    assert [w["worker_id"] for w in s["run"]["crashed_workers"]] == [victim_id]
    long = {p["name"]: p for p in s["phases"]}["long"]
    assert long["stopped_early"] and long["all"]["count"] >= 100  # measured until the crash
    assert "crashed" in stdout  # the terminal table says so too


def test_ctrl_c_stops_the_run_and_writes_the_report(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    out = pegload_cli.tmp_path / "report"
    proc = pegload_cli.start("run", pegload_cli.scenario(LONG_RUN, "sigint"), "--meta", ",".join(ob.meta_addrs),
                             "--table", "temp", "--report-dir", out)
    pegload_cli.wait_for(lambda: _gets(ob) >= 300, 60, "the phase to run")
    workers = _workers(pegload_cli, proc.pid)
    sent_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent_at < 15
    assert proc.returncode == 130, stderr + stdout
    assert workers and not any(os.path.exists(f"/proc/{w}") for w in workers)

    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "interrupted" and s["run"]["interrupted"]
    long = {p["name"]: p for p in s["phases"]}["long"]
    assert long["stopped_early"] and long["all"]["count"] >= 200
    assert long["all"]["error_count"] == 0  # stopping did not cut ops short
    check = s["self_check"]["phases"]["long"]
    assert check["ops_sent"] == check["ops_recorded"] == long["all"]["count"]
    assert "run interrupted" in stdout and (out / "report.html").exists()
    assert "long" in stderr  # the live progress was shown (not --quiet)


def test_unreachable_cluster_is_a_clear_error_before_any_load(pegload_cli):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", pegload_cli.scenario(LONG_RUN, "unreachable"), "--meta", f"127.0.0.1:{port}",
                        "--table", "temp", "--report-dir", out, timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"127.0.0.1:{port}" in r.stderr and "'temp'" in r.stderr and "cannot" in r.stderr
    assert not out.exists()


def test_missing_table_is_a_clear_error_before_any_load(pegload_cli, onebox):
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", pegload_cli.scenario(LONG_RUN, "notable"), "--meta", ",".join(onebox.meta_addrs),
                        "--table", "no_such_table", "--report-dir", out, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "no_such_table" in r.stderr and "does not exist" in r.stderr
    assert not out.exists()
