"""Verdicts you can trust: a client-capped run is NOT VALID with the rate reason; a killed or
frozen worker is named within 2 s (heartbeat) and its unsent ops counted; a dead embedded onebox
is blamed on the target; the gate refuses an interrupted run."""
import os
import signal
import threading
import time

import pytest

pytestmark = pytest.mark.integration

LONG_RUN = """\
workers: 2
concurrency: 4
data: {hash_keys: 20, sort_keys: 5, value_size: 50}
phases:
  - name: long
    duration: 60s
    rate: 300
    mix: {get: 1}
"""

# 1 worker x 2 greenlets against 20 ms replies can carry ~100 ops/s: asked for 600 ops/s.
CAPPED = """\
workers: 1
concurrency: 2
data: {hash_keys: 20, sort_keys: 5, value_size: 50}
load: false
phases:
  - name: capped
    duration: 3s
    rate: 600
    mix: {get: 1}
"""


def _gets(ob) -> int:
    return ob.counters()["requests"].get("RPC_RRDB_RRDB_GET", 0)


def _children(cli, pid, what):
    return [c for c in cli.children(pid) if what in cli.cmdline(c)]


def _start_long(cli, ob, name):
    out = cli.tmp_path / name
    proc = cli.start("run", cli.scenario(LONG_RUN, name), "--meta", ",".join(ob.meta_addrs), "--table", "temp",
                     "--report-dir", out)
    cli.wait_for(lambda: _gets(ob) >= 400, 60, "the phase to run")
    workers = cli.wait_for(lambda: len(_children(cli, proc.pid, "pegload.runner")) == 2
                           and _children(cli, proc.pid, "pegload.runner"), 10, "two worker processes")
    victim = workers[0]
    return proc, out, victim, int(cli.cmdline(victim).split("--worker-id ")[1].split()[0])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_a_lost_worker_is_named_within_two_seconds_and_its_unsent_ops_counted(pegload_cli, onebox_factory, sig):
    ob = onebox_factory(tables={"temp": 8})
    proc, out, victim, victim_id = _start_long(pegload_cli, ob, f"lost-{sig.name}")
    sent_at = time.time()
    os.kill(victim, sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr + stdout
    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "crashed" and s["run"]["exit_code"] == 3
    (lost,) = s["run"]["crashed_workers"]
    assert lost["worker_id"] == victim_id and lost["phase"] == "long"
    # named within 2 s of the signal, by the coordinator's own clock in the report
    assert 0 <= lost["detected_at"] - sent_at < 2.0, lost
    if sig == signal.SIGSTOP:
        assert "fell silent: no heartbeat" in lost["reason"]
        assert not os.path.exists(f"/proc/{victim}")  # killed, so it cannot resume the load later
    assert f"worker {victim_id} (pid {victim})" in stderr  # the terminal said so at once
    v = s["validity"]
    assert not v["valid"] and v["limited_by"] == "run"
    assert "worker_lost" in [d["reason"] for d in v["details"]]
    long = {p["name"]: p for p in s["phases"]}["long"]
    # ~9,000 slots were the victim's over 60 s: those it never sent are counted, not dropped silently
    assert long["unsent"] > 5_000
    assert "unsent" in [d["reason"] for d in v["details"]]


def test_a_client_capped_open_loop_run_is_not_valid_with_the_rate_reason(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, delay_ms=20)
    out = pegload_cli.tmp_path / "capped"
    done = pegload_cli.run("run", pegload_cli.scenario(CAPPED, "capped"), "--meta", ",".join(ob.meta_addrs),
                           "--table", "temp", "--report-dir", out, "--quiet")
    assert done.returncode == 0, done.stderr + done.stdout
    s = pegload_cli.summary(out)
    v = s["validity"]
    assert not v["valid"] and v["limited_by"] == "client"
    rate = next(d for d in v["details"] if d["reason"] == "rate")
    assert rate["value"] > 0.5  # ~100 of 600 ops/s
    assert "greenlets" in [d["reason"] for d in v["details"]] or "dropped" in [d["reason"] for d in v["details"]]
    assert "NOT VALID: the client, not the server, limited this run" in done.stdout
    assert "ops/s on time" in done.stdout


def test_a_dead_embedded_onebox_is_blamed_on_the_target(pegload_cli):
    text = LONG_RUN.replace("workers: 2", "workers: 1\ntarget: {onebox: {partitions: 4, replicas: 1}}")
    out = pegload_cli.tmp_path / "deadbox"
    proc = pegload_cli.start("run", pegload_cli.scenario(text, "deadbox"), "--report-dir", out)
    lines, measuring = [], threading.Event()

    def read_stderr():
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("phase long:"):
                measuring.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    assert measuring.wait(90), "".join(lines)
    (onebox,) = _children(pegload_cli, proc.pid, "pegload.onebox")
    os.kill(onebox, signal.SIGKILL)
    stdout = proc.stdout.read()
    proc.wait(timeout=90)
    reader.join(timeout=10)
    stderr = "".join(lines)
    assert proc.returncode == 3, stderr + stdout
    s = pegload_cli.summary(out)
    assert s["run"]["status"] == "failed" and "target lost" in s["run"]["error"]
    assert s["validity"]["limited_by"] == "target"
    assert "the target was lost: the embedded onebox" in stderr
    assert "the target failed during the run" in stdout


def test_check_refuses_an_interrupted_run_naming_it(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    out = pegload_cli.tmp_path / "interrupted"
    proc = pegload_cli.start("run", pegload_cli.scenario(LONG_RUN, "sigint"), "--meta", ",".join(ob.meta_addrs),
                             "--table", "temp", "--report-dir", out, "--quiet")
    pegload_cli.wait_for(lambda: _gets(ob) >= 400, 60, "the phase to run")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    done = pegload_cli.run("check", out, "--baseline", out)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "interrupted" in done.stderr and "--allow-invalid" in done.stderr
    allowed = pegload_cli.run("check", out, "--baseline", out, "--allow-invalid")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    compared = pegload_cli.run("compare", out, out)
    assert compared.returncode == 0 and "warning" in compared.stderr


def test_retries_are_counted_per_op_and_cause_as_the_onebox_saw_them(pegload_cli, onebox_factory):
    """The client retries ERR_BUSY silently: the report counts every retry, and the count is the
    onebox's own count of busy replies (the client's counters ship in the self-check)."""
    ob = onebox_factory(tables={"temp": 8}, busy_fraction=0.05)
    text = CAPPED.replace("concurrency: 2", "concurrency: 8").replace("rate: 600", "rate: 300")
    out = pegload_cli.tmp_path / "busy"
    done = pegload_cli.run("run", pegload_cli.scenario(text, "busy"), "--meta", ",".join(ob.meta_addrs),
                           "--table", "temp", "--report-dir", out, "--quiet")
    assert done.returncode == 0, done.stderr + done.stdout
    busy = ob.counters()["faults"]["busy"]
    assert busy > 10
    s = pegload_cli.summary(out)
    get = {p["name"]: p for p in s["phases"]}["capped"]["ops"]["get"]
    assert get["retries"] == {"busy": busy} and get["error_count"] == 0
    assert f"{busy:,} (busy {busy:,})" in done.stdout  # the terminal table, next to errors
