"""Runs a scenario's ``events:`` at their times, in a thread of the coordinator (the loop that
merges intervals never waits for an event), and records each one for ``summary.json``.

When a phase's measured part is about to start, the session calls :meth:`EventRunner.phase_started`
with its start time; the phase's events are then due at ``start + at``. Events of a phase that
ended first are recorded as ``skipped``; events still pending when the run ends are recorded as
``not run``. Onebox actions go through a control client of the runner's own (the control socket
is not shared across threads); ``exec`` commands run under ``/bin/sh -c`` in their own process
group, which is killed at the timeout, or when the run ends first (``killed``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from pegload.scenario.events import EventSpec

MAX_OUTPUT = 4096  # characters of an exec command's output kept (its tail)


def run_command(command: str, timeout_s: float, started: Callable[[subprocess.Popen], None] | None = None
                ) -> dict[str, Any]:
    """Run ``command`` with ``/bin/sh -c``; ``{outcome, exit_code, output}``: ``ok`` (exit 0),
    ``failed`` (another exit code, or it could not start) or ``timeout`` (killed, with its
    process group, after ``timeout_s``). ``output`` is stdout and stderr together, its last
    MAX_OUTPUT characters. ``started`` is told the process (so that it can be killed early)."""
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return {"outcome": "failed", "exit_code": None, "output": f"could not start: {exc}"}
    if started is not None:
        started(proc)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        outcome = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        outcome = "timeout"
    text = out.decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT:
        text = "..." + text[-MAX_OUTPUT:]
    record: dict[str, Any] = {"outcome": outcome, "exit_code": proc.returncode, "output": text}
    if outcome == "timeout":
        record["error"] = f"killed after the {timeout_s:g}s timeout"
    return record


def onebox_call(control, ev: EventSpec) -> Any:
    """The control call of one onebox action (``control``: a ControlClient)."""
    a = ev.args
    if ev.action == "stall":
        return control.call("stall", seconds=a["seconds"], replica=a.get("replica"))
    if ev.action in ("delay_ms", "busy_fraction", "drop_fraction"):
        return control.call("set_faults", replica=a.get("replica"), table=None, partition=None,
                            **{ev.action: a[ev.action]})
    if ev.action == "close_connections":
        return control.call("close_connections", replica=a.get("replica"), meta=False)
    if ev.action == "clear":
        return control.call("clear_faults")
    if ev.action == "move_primary":
        return control.call("move_primary", table=a["table"], partition=a["partition"], to=a.get("to"),
                            old_role="secondary")
    if ev.action in ("kill_replica", "restart_replica"):
        return control.call(ev.action, replica=a["replica"])
    raise ValueError(f"unknown onebox action {ev.action!r}")


class EventRunner:
    """See the module docstring. ``control_factory`` makes the onebox control client (None for a
    cluster target: only exec events can be planned then, validation saw to that)."""

    def __init__(self, events: tuple[EventSpec, ...], control_factory: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._factory = control_factory
        self._control = None
        self.records: list[dict[str, Any]] = [
            {"index": i, "phase": e.phase, "at_s": e.at_s, "kind": e.kind, "action": e.action or "exec",
             "label": e.describe(), "planned_at": None, "started_at": None, "ended_at": None,
             "outcome": "not run", **({"command": e.command, "timeout_s": e.timeout_s} if e.kind == "exec"
                                      else {"args": {k: v for k, v in e.args.items() if v is not None}})}
            for i, e in enumerate(events)]
        self._events = events
        self._due: list[tuple[float, int]] = []
        self._cv = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._running: subprocess.Popen | None = None  # the exec command under way

    @property
    def empty(self) -> bool:
        return not self._events

    def start(self) -> None:
        if self._events:
            self._thread = threading.Thread(target=self._run, name="pegload-events", daemon=True)
            self._thread.start()

    def phase_started(self, phase: str, measured_start: float) -> None:
        """Plan the events of ``phase`` from its measured start (epoch s)."""
        with self._cv:
            for i, e in enumerate(self._events):
                if e.phase == phase:
                    at = measured_start + e.at_s
                    self.records[i]["planned_at"] = at
                    self._due.append((at, i))
            self._due.sort()
            self._cv.notify()

    def phase_ended(self, phase: str) -> None:
        """Events of ``phase`` not started yet will not run: the phase is over."""
        with self._cv:
            keep = []
            for at, i in self._due:
                if self._events[i].phase == phase:
                    self.records[i]["outcome"] = "skipped"
                    self.records[i]["error"] = "the phase ended before the event's time"
                else:
                    keep.append((at, i))
            self._due = keep

    def stop(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Stop (an event running finishes, within ``timeout``) and return the records."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        proc = self._running
        if proc is not None and proc.poll() is None:  # the run is over: so is its command
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        if self._control is not None:
            try:
                self._control.close()
            except Exception:  # noqa: BLE001 - closing a control socket at the end must not fail the run
                pass
        return self.records

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping:
                    now = self.clock()
                    if self._due and self._due[0][0] <= now:
                        break
                    wait = (self._due[0][0] - now) if self._due else 1.0
                    self._cv.wait(max(min(wait, 1.0), 0.001))
                if self._stopping:
                    return
                _, i = self._due.pop(0)
                self.records[i]["outcome"] = "running"
            self._fire(i)

    def _started(self, proc: subprocess.Popen) -> None:
        self._running = proc

    def _fire(self, i: int) -> None:
        ev, rec = self._events[i], self.records[i]
        rec["started_at"] = self.clock()
        if ev.kind == "exec":
            rec.update(run_command(ev.command, ev.timeout_s, self._started))
            self._running = None
            if self._stopping and rec["outcome"] != "ok":
                rec.update(outcome="killed", error="the run ended while the command ran")
        else:
            try:
                if self._control is None:
                    if self._factory is None:
                        raise RuntimeError("no embedded onebox to act on")
                    self._control = self._factory()
                result = onebox_call(self._control, ev)
                rec.update(outcome="ok", result=result if isinstance(result, (dict, list, int, float, str)) else None)
            except Exception as exc:  # noqa: BLE001 - an action that fails is recorded, the run goes on
                rec.update(outcome="failed", error=f"{type(exc).__name__}: {exc}")
                self._control = None
        rec["ended_at"] = self.clock()
