"""The report folder (issue 9): checked before anything runs, never silently overwritten,
written atomically with summary.json last, and the measured data saved elsewhere when the
folder fails after the run."""
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pegload.coordinator import run as run_module
from pegload.coordinator.logdirs import remove_stale_log_dirs
from pegload.coordinator.run import ScenarioRun
from pegload.report import load_run, write_report
from pegload.report.atomic import atomic_write_text
from pegload.report.runs import ReportError
from pegload.report.synthetic import SyntheticPhase, synthetic_run
from pegload.report.writer import ReportDirError, ReportWriteError, prepare_report_dir
from pegload.scenario import load_scenario_text

SCENARIO = "phases:\n  - duration: 1s\n    mix: {get: 1}\n"


def a_run():
    return synthetic_run([SyntheticPhase("run", {"get": [500] * 100})], workers=1)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system temp folder pointed at a test folder (where the unsaved-report fallback goes)."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


# -- prepare_report_dir -------------------------------------------------------------------------

def test_a_new_folder_is_created_and_probed(tmp_path):
    out = prepare_report_dir(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []  # the probe is gone


def test_a_file_is_not_a_report_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ReportDirError, match=f"report folder {f} exists and is not a folder"):
        prepare_report_dir(f)
    with pytest.raises(ReportDirError, match=f"cannot create the report folder {f / 'sub'}"):
        prepare_report_dir(f / "sub")


def test_proc_is_refused():
    with pytest.raises(ReportDirError, match="/proc/pegload-report"):
        prepare_report_dir("/proc/pegload-report")


def test_a_folder_holding_a_run_is_refused_unless_overwrite(tmp_path):
    write_report(a_run(), tmp_path / "base")
    with pytest.raises(ReportDirError, match=r"already holds a run .*summary.json.*--overwrite"):
        prepare_report_dir(tmp_path / "base")
    assert prepare_report_dir(tmp_path / "base", overwrite=True) == tmp_path / "base"
    # a multi-target run keeps its runs one level down
    write_report(a_run(), tmp_path / "multi" / "onebox")
    with pytest.raises(ReportDirError, match="multi/onebox/summary.json"):
        prepare_report_dir(tmp_path / "multi")
    # an existing folder without a run is fine
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    prepare_report_dir(tmp_path / "other")


# -- writing ------------------------------------------------------------------------------------

def test_overwrite_replaces_the_old_run_and_keeps_unrelated_files(tmp_path):
    base = tmp_path / "base"
    old = synthetic_run([SyntheticPhase("old", {"get": [500] * 10, "set": [700] * 10})], workers=1)
    write_report(old, base)
    (base / "notes.txt").write_text("mine")
    paths = write_report(a_run(), base, overwrite=True)
    assert sorted(p.name for p in (base / "hgrm").iterdir()) == sorted(p.name for p in paths.hgrm.values())
    assert load_run(base).phase_names() == ["run"]
    assert (base / "notes.txt").read_text() == "mine"


def test_a_crash_mid_write_leaves_no_summary_that_check_trusts(tmp_path, monkeypatch):
    def crash(summary):
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr("pegload.report.writer.render_run_html", crash)
    with pytest.raises(RuntimeError):
        write_report(a_run(), tmp_path / "r")
    assert not (tmp_path / "r" / "summary.json").exists()
    with pytest.raises(ReportError, match="has no summary.json"):
        load_run(tmp_path / "r")
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_keeps_the_old_content_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")


    with pytest.raises(TypeError):
        atomic_write_text(target, 42)  # fails inside the write, after the temp file was opened
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_folder_that_fails_after_the_run_saves_the_data_elsewhere(tmp_path, private_tmp):
    out = tmp_path / "gone"
    out.write_text("a file where the folder was")
    with pytest.raises(ReportWriteError) as info:
        write_report(a_run(), out)
    saved = info.value.saved
    assert saved is not None and saved.parent == private_tmp and saved.name.startswith("pegload-unsaved-")
    assert f"cannot write the report to {out}" in str(info.value) and str(saved) in str(info.value)
    assert load_run(saved).op("get")["count"] == 100


# -- pegload run ----------------------------------------------------------------------------------

class NoSession:
    def __init__(self, *a, **k):
        raise AssertionError("a session was started although the report folder is unusable")


def scenario_run(report_dir, **kw):
    err = io.StringIO()
    sr = ScenarioRun(load_scenario_text(SCENARIO, "s.yaml"), report_dir=report_dir, quiet=True,
                     out=io.StringIO(), err=err, **kw)
    return sr, err


@pytest.mark.parametrize("where", ["file", "proc", "holds-run"])
def test_run_refuses_an_unusable_report_folder_before_starting(tmp_path, monkeypatch, where):
    monkeypatch.setattr(run_module, "RunSession", NoSession)
    path = {"file": tmp_path / "f", "proc": Path("/proc/x/y"), "holds-run": tmp_path / "r"}[where]
    if where == "file":
        path.write_text("x")
    if where == "holds-run":
        write_report(a_run(), path)
    sr, err = scenario_run(path)
    assert sr.execute() == 2
    assert str(path) in err.getvalue() and "Traceback" not in err.getvalue()


class FakeSession:
    """Returns a synthetic result; ``before_return`` runs first (e.g. to break the folder)."""
    before_return = staticmethod(lambda: None)
    log_dirs: list = []

    def __init__(self, scenario, target, *, log_dir, **kw):
        FakeSession.log_dirs.append(log_dir)
        (log_dir / "worker-0.log").write_text("worker said something\n")

    def execute(self):
        FakeSession.before_return()
        return synthetic_run([SyntheticPhase("phase1", {"get": [500] * 50})], workers=1)


def test_run_with_overwrite_replaces_a_run(tmp_path, monkeypatch, private_tmp):
    monkeypatch.setattr(run_module, "RunSession", FakeSession)
    write_report(a_run(), tmp_path / "r")
    sr, err = scenario_run(tmp_path / "r", overwrite=True)
    assert sr.execute() == 0, err.getvalue()
    assert load_run(tmp_path / "r").phase_names() == ["phase1"]


def test_run_whose_folder_breaks_after_measuring_saves_the_data(tmp_path, monkeypatch, private_tmp):
    out = tmp_path / "r"

    def break_folder():
        out.rmdir()
        out.write_text("now a file")

    monkeypatch.setattr(FakeSession, "before_return", staticmethod(break_folder))
    monkeypatch.setattr(run_module, "RunSession", FakeSession)
    FakeSession.log_dirs = []
    sr, err = scenario_run(out)
    assert sr.execute() == 2
    saved = [p for p in private_tmp.iterdir() if p.name.startswith("pegload-unsaved-")]
    assert len(saved) == 1 and str(saved[0]) in err.getvalue()
    assert load_run(saved[0]).op("get")["count"] == 50
    assert (saved[0] / "logs" / "worker-0.log").is_file()  # the logs went with the data
    assert not any(d.exists() for d in FakeSession.log_dirs)  # and the temp log folder is gone


def test_the_temporary_log_folder_goes_when_the_coordinator_crashes(tmp_path, monkeypatch, private_tmp):
    def crash():
        raise RuntimeError("a bug in the coordinator")

    monkeypatch.setattr(FakeSession, "before_return", staticmethod(crash))
    monkeypatch.setattr(run_module, "RunSession", FakeSession)
    FakeSession.log_dirs = []
    sr, err = scenario_run(tmp_path / "r")
    with pytest.raises(RuntimeError):
        sr.execute()
    assert len(FakeSession.log_dirs) == 1 and not FakeSession.log_dirs[0].exists()
    assert list(private_tmp.iterdir()) == []


def test_stale_log_folders_of_dead_coordinators_are_removed(private_tmp):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (private_tmp / f"pegload-logs-{dead}-abc").mkdir()
    (private_tmp / f"pegload-logs-{os.getpid()}-def").mkdir()  # a live coordinator's: kept
    (private_tmp / "pegload-logs-notapid").mkdir()  # not named by pegload: kept
    removed = remove_stale_log_dirs()
    assert [p.name for p in removed] == [f"pegload-logs-{dead}-abc"]
    assert sorted(p.name for p in private_tmp.iterdir()) == [f"pegload-logs-{os.getpid()}-def", "pegload-logs-notapid"]


def test_a_run_that_wrote_nothing_leaves_no_empty_folder(tmp_path, monkeypatch):
    class BadTarget(FakeSession):
        def execute(self):
            raise run_module.RunFailed("the target is unreachable", run_module.EXIT_BAD_INPUT)

    monkeypatch.setattr(run_module, "RunSession", BadTarget)
    sr, err = scenario_run(tmp_path / "new" / "r")
    assert sr.execute() == 2 and "unreachable" in err.getvalue()
    assert not (tmp_path / "new" / "r").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made is left as it was
    sr, _ = scenario_run(tmp_path / "mine")
    assert sr.execute() == 2 and (tmp_path / "mine").is_dir()
