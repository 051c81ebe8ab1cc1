"""The worker watching itself, per interval: CPU, event-loop lag, GC pauses, open-loop ops taken
behind their slot, client retries, and the pacing strategy that ran.

These are the numbers that say whether a latency came from Pegasus or from this process: a
saturated CPU, a loop that did not get back to a greenlet in time, a GC pause, too few free
greenlets for the schedule, or retries hidden inside one call all show up as "latency" in the op
histograms although the server did nothing wrong.

Loop lag. A timer watcher (no greenlet) is re-armed every ``LAG_PROBE_PERIOD_S`` and records how
late the loop ran it. Because some probe is always due, a stall of L ms reads L ms (within one
period). The former probe slept 50 ms in a greenlet: a stall reads only from the probe's due time
on, on average half its length (it read 24.8 ms where lateness p99.9 was 50.6 ms), and a stall
shorter than 50 ms was seen only when it happened to cover a due time.

Runs inside the (monkeypatched) worker; :meth:`SelfCheck.take` returns plain data for the
``Interval`` message, and the coordinator judges it (``pegload.coordinator.validity``).
"""
from __future__ import annotations

import gc
import time
from typing import Any, Protocol

import gevent

# How often the lag probe is due: a stall is measured to within this. Every 5 ms: with precise
# timers each probe is a loop wake-up of its own; at 1 ms the probe cost ~2% of a core in a worker
# pacing 2,000 ops/s (15% of its CPU), at 5 ms a few tenths of a percent.
LAG_PROBE_PERIOD_S = 0.005
_PERIOD_NS = int(LAG_PROBE_PERIOD_S * 1e9)


class CounterSource(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


def _delta(now: dict[str, Any], before: dict[str, Any]) -> tuple[dict[str, dict[str, int]], int]:
    """Retries per op and cause, and reconnects, between two client counter snapshots; ops and
    causes with no new retries are left out."""
    retries: dict[str, dict[str, int]] = {}
    old = before.get("retries", {})
    for op, causes in now.get("retries", {}).items():
        was = old.get(op, {})
        moved = {cause: n - was.get(cause, 0) for cause, n in causes.items() if n != was.get(cause, 0)}
        if moved:
            retries[op] = moved
    return retries, now.get("reconnects", 0) - before.get("reconnects", 0)


class SelfCheck:
    """Accumulates the figures; ``take()`` returns and resets them. ``counters`` is the client's
    retry counters (``.snapshot()``), ``timer`` the name of the pacing strategy that runs."""

    def __init__(self, counters: CounterSource | None = None, timer: str = "") -> None:
        self.counters = counters
        self.timer = timer
        self._counts0 = counters.snapshot() if counters is not None else None
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._lag_max_ns = 0
        self._lag_sum_ns = 0
        self._lag_n = 0
        self._gc_started_ns = 0
        self._gc_total_ns = 0
        self._gc_max_ns = 0
        self._gc_n = 0
        self.behind = 0  # measured open-loop ops taken after their slot (no greenlet was free)
        self.behind_wait_ns = 0  # their total time from slot to being taken
        self._probe: Any = None  # a gevent timer watcher while started
        self._due_ns = 0

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        # a repeating libev timer: libev re-arms it at due + period (or at once when that is
        # already past), the same rule _on_probe follows to know when it was due. Unref'd: the
        # probe alone must not keep the loop running.
        loop = gevent.get_hub().loop
        probe = self._probe = loop.timer(LAG_PROBE_PERIOD_S, LAG_PROBE_PERIOD_S, ref=False)
        loop.update_now()  # armed against a fresh clock, not libev's time of the last loop turn
        self._due_ns = time.perf_counter_ns() + _PERIOD_NS
        probe.start(self._on_probe)

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._probe is not None:
            self._probe.stop()
            self._probe.close()
            self._probe = None

    def set_counters(self, counters: CounterSource | None) -> None:
        """Start taking retry deltas from ``counters`` (e.g. once the client exists)."""
        self.counters = counters
        self._counts0 = counters.snapshot() if counters is not None else None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            self._gc_started_ns = now
        elif self._gc_started_ns:
            pause = now - self._gc_started_ns
            self._gc_started_ns = 0
            self._gc_total_ns += pause
            self._gc_n += 1
            if pause > self._gc_max_ns:
                self._gc_max_ns = pause

    def _on_probe(self) -> None:
        now = time.perf_counter_ns()
        due = self._due_ns
        self.record_lag(now - due)
        due += _PERIOD_NS
        self._due_ns = due if due > now else now

    def record_lag(self, lag_ns: int) -> None:
        lag_ns = max(lag_ns, 0)
        self._lag_sum_ns += lag_ns
        self._lag_n += 1
        if lag_ns > self._lag_max_ns:
            self._lag_max_ns = lag_ns

    def record_behind(self, wait_ns: int) -> None:
        """A measured open-loop op was taken ``wait_ns`` after its slot: no greenlet was free."""
        self.behind += 1
        self.behind_wait_ns += wait_ns

    def take(self) -> dict[str, Any]:
        """The figures since the last call, as plain data; resets the counters."""
        cpu, wall = time.process_time(), time.perf_counter()
        elapsed = max(wall - self._wall0, 1e-9)
        out: dict[str, Any] = {
            "cpu": round((cpu - self._cpu0) / elapsed, 4),  # fraction of one core
            "wall_s": round(elapsed, 4),
            "loop_lag_max_ms": round(self._lag_max_ns / 1e6, 3),
            "loop_lag_mean_ms": round(self._lag_sum_ns / self._lag_n / 1e6, 3) if self._lag_n else 0.0,
            "gc_pause_total_ms": round(self._gc_total_ns / 1e6, 3),
            "gc_pause_max_ms": round(self._gc_max_ns / 1e6, 3),
            "gc_collections": self._gc_n,
            "behind": self.behind,
            "behind_wait_us": self.behind_wait_ns // 1000,
            "timer": self.timer,
            "retries": {},
            "reconnects": 0,
        }
        if self.counters is not None:
            now = self.counters.snapshot()
            out["retries"], out["reconnects"] = _delta(now, self._counts0 or {})
            self._counts0 = now
        self._cpu0, self._wall0 = cpu, wall
        self._lag_max_ns = self._lag_sum_ns = self._lag_n = 0
        self._gc_total_ns = self._gc_max_ns = self._gc_n = 0
        self.behind = self.behind_wait_ns = 0
        return out
