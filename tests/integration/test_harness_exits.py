"""Ways out of a run (issue 9): workers end quietly when the coordinator dies, and no temporary
folder (pegload-logs-*, pegload-workers-*, pegload-onebox-*) outlives a run, whether it ends by
Ctrl-C, SIGTERM or kill -9 (then the next run removes the dead coordinator's folder). TMPDIR
points at a test folder so that what is left can be counted."""
import os
import signal
import subprocess
import sys

import pytest

from pegload.coordinator.logdirs import remove_stale_log_dirs

pytestmark = pytest.mark.integration

SCENARIO = """\
workers: 2
concurrency: 2
data: {hash_keys: 50, sort_keys: 4, value_size: 50}
phases:
  - name: long
    duration: 60s
    rate: 300
    mix: {get: 9, set: 1}
"""


def start(pegload_cli, tmpdir, *args):
    """`pegload run ARGS` with TMPDIR=tmpdir; stderr goes to ``proc.err_path`` (read while it runs)."""
    env = dict(os.environ, TMPDIR=str(tmpdir))
    err_path = pegload_cli.tmp_path / f"stderr-{len(pegload_cli.procs)}.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "pegload.cli", "run", *map(str, args)],
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                cwd=pegload_cli.tmp_path, env=env)
    proc.err_path = err_path
    pegload_cli.procs.append(proc)
    return proc


def workers_of(pegload_cli, pid):
    return [c for c in pegload_cli.children(pid) if "pegload.runner" in pegload_cli.cmdline(c)]


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie child of someone else still answers kill(0); it has stopped running all the same
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_exit_quietly_when_the_coordinator_is_killed(pegload_cli, onebox_factory, tmp_path):
    ob = onebox_factory(tables={"temp": 8})
    ob.counters(reset=True)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = start(pegload_cli, tmpdir, pegload_cli.scenario(SCENARIO, "long"), "--meta", ",".join(ob.meta_addrs),
                 "--table", "temp", "--report-dir", tmp_path / "report", "--quiet")
    pegload_cli.wait_for(lambda: ob.counters()["requests"].get("RPC_RRDB_RRDB_GET", 0) >= 200, 90,
                         "the phase to run")
    workers = workers_of(pegload_cli, proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.communicate(timeout=30)
    pegload_cli.wait_for(lambda: all(gone(w) for w in workers), 30, "the workers to stop")

    logs = sorted(tmpdir.glob("pegload-logs-*/worker-*.log"))
    assert len(logs) == 2
    for log in logs:
        text = log.read_text()
        assert "Traceback" not in text and "Error" not in text, text
        assert text.strip().splitlines()[-1].endswith("the coordinator closed the connection; stopping") \
            or "lost the coordinator" in text, text
    # kill -9 leaves the dead coordinator's log folder; the next run removes it
    assert [d.name.split("-")[2] for d in tmpdir.iterdir()] == [str(proc.pid)]
    assert remove_stale_log_dirs(str(tmpdir)) and list(tmpdir.iterdir()) == []


@pytest.mark.parametrize("sig,times", [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2)])
def test_no_temporary_folder_outlives_an_interrupted_run(pegload_cli, tmp_path, sig, times):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    report = tmp_path / "report"
    proc = start(pegload_cli, tmpdir, pegload_cli.scenario(SCENARIO, "long"), "--report-dir", report)
    # the embedded onebox's data folder (inside the run's log folder) and both workers exist
    pegload_cli.wait_for(lambda: list(tmpdir.glob("pegload-logs-*/onebox-data-*"))
                         and len(workers_of(pegload_cli, proc.pid)) == 2, 90, "the onebox and the workers to start")
    # a progress line of the measured phase (one every 5 s in a log): measurement is under way
    pegload_cli.wait_for(lambda: any(line.startswith("long ") and "ops/s" in line
                                     for line in proc.err_path.read_text().splitlines()), 90,
                         "a progress line of the measured phase")
    for _ in range(times):  # twice: stop waiting for the workers, kill them
        proc.send_signal(sig)
    proc.communicate(timeout=90)
    stderr = proc.err_path.read_text()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == []
    assert (report / "summary.json").is_file()  # what was measured is kept



def test_a_crashed_onebox_leaves_no_data_folder(pegload_cli, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    short = SCENARIO.replace("duration: 60s", "duration: 6s").replace("concurrency: 2",
                                                                     "concurrency: 2\ntimeout_ms: 200")
    proc = start(pegload_cli, tmpdir, pegload_cli.scenario(short, "short"), "--report-dir", tmp_path / "report")
    pegload_cli.wait_for(lambda: any(line.startswith("long ") and "ops/s" in line
                                     for line in proc.err_path.read_text().splitlines()), 90,
                         "a progress line of the measured phase")
    oneboxes = [c for c in pegload_cli.children(proc.pid) if "pegload.onebox" in pegload_cli.cmdline(c)]
    assert len(oneboxes) == 1
    os.kill(oneboxes[0], signal.SIGKILL)  # no chance to remove its own data folder
    proc.communicate(timeout=120)
    assert list(tmpdir.iterdir()) == [], list(tmpdir.rglob("*"))[:10]
