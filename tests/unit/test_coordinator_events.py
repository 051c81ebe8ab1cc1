"""The event runner: exec commands (exit codes, output, timeouts), onebox actions through a
control client, events of a phase that ended first, all in the runner's thread."""
import time

from pegload.coordinator.events import EventRunner, run_command
from pegload.scenario.events import EventSpec


def test_exec_ok_failing_and_timed_out_commands():
    ok = run_command("echo out; echo err >&2", 5)
    assert ok == {"outcome": "ok", "exit_code": 0, "output": "out\nerr\n"}
    failed = run_command("echo nope; exit 7", 5)
    assert (failed["outcome"], failed["exit_code"], failed["output"]) == ("failed", 7, "nope\n")
    t = time.monotonic()
    slow = run_command("echo started; sleep 30 & sleep 30", 0.3)  # the child in the background dies too
    assert time.monotonic() - t < 5
    assert slow["outcome"] == "timeout" and slow["output"] == "started\n" and "0.3s timeout" in slow["error"]
    missing = run_command("/nonexistent/command", 5)
    assert missing["outcome"] == "failed" and missing["exit_code"] == 127


class FakeControl:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def call(self, op, **args):
        self.calls.append((op, args))
        if self.fail:
            raise RuntimeError("refused: no such replica")
        return {"done": op}

    def close(self):
        pass


def test_runner_fires_at_the_planned_times_and_records_outcomes():
    control = FakeControl()
    events = (EventSpec("run", 0.05, "onebox", "stall", {"seconds": 1.0, "replica": None}),
              EventSpec("run", 0.1, "exec", command="exit 3", timeout_s=5),
              EventSpec("run", 0.1, "onebox", "kill_replica", {"replica": 0}),
              EventSpec("other", 0.0, "onebox", "clear", {}),
              EventSpec("run", 60.0, "onebox", "clear", {}))
    runner = EventRunner(events, lambda: control)
    runner.start()
    t0 = time.time()
    runner.phase_started("run", t0)
    deadline = time.time() + 10
    while any(r["outcome"] in ("not run", "running") for r in runner.records[:3]) and time.time() < deadline:
        time.sleep(0.01)
    runner.phase_ended("run")
    recs = runner.stop()
    assert [r["outcome"] for r in recs] == ["ok", "failed", "ok", "not run", "skipped"]
    assert recs[1]["exit_code"] == 3
    assert control.calls == [("stall", {"seconds": 1.0, "replica": None}), ("kill_replica", {"replica": 0})]
    assert recs[0]["started_at"] >= t0 + 0.05 and recs[0]["planned_at"] == t0 + 0.05
    assert recs[4]["error"] == "the phase ended before the event's time"


def test_a_refused_onebox_action_is_recorded_and_the_run_goes_on():
    runner = EventRunner((EventSpec("run", 0.0, "onebox", "restart_replica", {"replica": 5}),),
                         lambda: FakeControl(fail=True))
    runner.start()
    runner.phase_started("run", time.time())
    deadline = time.time() + 10
    while runner.records[0]["outcome"] in ("not run", "running") and time.time() < deadline:
        time.sleep(0.01)
    (rec,) = runner.stop()
    assert rec["outcome"] == "failed" and "refused: no such replica" in rec["error"]


def test_a_command_still_running_when_the_run_ends_is_killed():
    runner = EventRunner((EventSpec("run", 0.0, "exec", command="echo begun; sleep 60", timeout_s=120),))
    runner.start()
    runner.phase_started("run", time.time())
    deadline = time.time() + 10
    while runner._running is None and time.time() < deadline:
        time.sleep(0.01)
    t = time.monotonic()
    (rec,) = runner.stop()
    assert time.monotonic() - t < 5
    assert rec["outcome"] == "killed" and rec["error"] == "the run ended while the command ran"
    assert rec["output"] == "begun\n" and rec["exit_code"] == -9
