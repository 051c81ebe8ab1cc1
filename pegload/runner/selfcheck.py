"""The worker watching itself: CPU, event-loop lag and GC pauses, per interval.

These are the numbers that say whether a latency came from Pegasus or from this process: a
saturated CPU, a loop that did not get back to a greenlet in time, or a GC pause all show up as
"latency" in the op histograms although the server did nothing wrong.

Runs inside the (monkeypatched) worker; :class:`SelfCheck.take` returns plain data for the
``Interval`` message, and the coordinator judges it (``pegload.coordinator.validity``).
"""
from __future__ import annotations

import gc
import time
from typing import Any

import gevent

# How often the lag probe wakes up. libev rounds timers up to whole milliseconds, so an idle
# loop already shows ~0-1 ms of "lag"; 50 ms keeps the probe's own cost negligible (20 wakes/s).
LAG_PROBE_PERIOD_S = 0.05


class SelfCheck:
    """Accumulates CPU time, loop lag and GC pauses; ``take()`` returns and resets them."""

    def __init__(self) -> None:
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._lag_max_ns = 0
        self._lag_sum_ns = 0
        self._lag_n = 0
        self._gc_started_ns = 0
        self._gc_total_ns = 0
        self._gc_max_ns = 0
        self._gc_n = 0
        self._probe: gevent.Greenlet | None = None

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._probe = gevent.spawn(self._lag_probe)

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._probe is not None:
            self._probe.kill(block=False)
            self._probe = None

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

    def _lag_probe(self) -> None:
        period_ns = int(LAG_PROBE_PERIOD_S * 1e9)
        while True:
            due = time.perf_counter_ns() + period_ns
            gevent.sleep(LAG_PROBE_PERIOD_S)
            self.record_lag(time.perf_counter_ns() - due)

    def record_lag(self, lag_ns: int) -> None:
        lag_ns = max(lag_ns, 0)
        self._lag_sum_ns += lag_ns
        self._lag_n += 1
        if lag_ns > self._lag_max_ns:
            self._lag_max_ns = lag_ns

    def take(self) -> dict[str, Any]:
        """The figures since the last call, as plain data; resets the counters."""
        cpu, wall = time.process_time(), time.perf_counter()
        elapsed = max(wall - self._wall0, 1e-9)
        out = {
            "cpu": round((cpu - self._cpu0) / elapsed, 4),  # fraction of one core
            "wall_s": round(elapsed, 4),
            "loop_lag_max_ms": round(self._lag_max_ns / 1e6, 3),
            "loop_lag_mean_ms": round(self._lag_sum_ns / self._lag_n / 1e6, 3) if self._lag_n else 0.0,
            "gc_pause_total_ms": round(self._gc_total_ns / 1e6, 3),
            "gc_pause_max_ms": round(self._gc_max_ns / 1e6, 3),
            "gc_collections": self._gc_n,
        }
        self._cpu0, self._wall0 = cpu, wall
        self._lag_max_ns = self._lag_sum_ns = self._lag_n = 0
        self._gc_total_ns = self._gc_max_ns = self._gc_n = 0
        return out
