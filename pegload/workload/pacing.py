"""Open-loop pacing: intended start times that never depend on when earlier ops finished.

The phase has one *global* schedule of slots i = 0, 1, 2, ... at times t(i) (seconds from the
phase start) such that the cumulative expected op count Λ(t) = ∫ rate reaches i at t(i):

    constant rate r:           t(i) = i / r
    linear ramp r0 -> r over T: Λ(t) = r0·t + (r - r0)·t²/(2T) for t <= T, then + r·(t - T)

Worker w of W takes the slots i ≡ w (mod W), so the workers' schedules interleave and their
union is exactly the global schedule (no rounding of per-worker rates). Inside a worker the
greenlets take the next free slot (``next()``), wait until its time, and measure response time
from it; a slot is never moved because the previous op was slow (coordinated-omission correct).

Warm-up: slots before ``warmup_s`` are not measured. A duration phase ends at the first slot
at or after ``warmup_s + duration_s``; an op-count phase has exactly ``ops`` measured slots (so
the workers' measured counts add up to ``ops``). Closed-loop phases have no schedule.
"""
from __future__ import annotations

import math


class OpenLoopSchedule:
    """One worker's share of an open-loop phase's global schedule."""

    __slots__ = ("rate", "start_rate", "ramp_s", "worker", "workers", "warmup_s", "first_measured", "end",
                 "_next_index", "_ramp_ops", "_a")

    def __init__(self, rate: float, *, start_rate: float | None = None, ramp_s: float = 0.0, worker: int = 0,
                 workers: int = 1, warmup_s: float = 0.0, duration_s: float | None = None, ops: int | None = None):
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if not 0 <= worker < workers:
            raise ValueError(f"worker {worker} is not in [0, {workers})")
        if ramp_s > 0 and start_rate is not None and start_rate < 0:
            raise ValueError(f"start_rate must be >= 0, got {start_rate}")
        self.rate = float(rate)
        self.ramp_s = float(ramp_s) if ramp_s and start_rate is not None else 0.0
        self.start_rate = float(start_rate) if self.ramp_s else self.rate
        self.worker, self.workers = worker, workers
        self.warmup_s = float(warmup_s)
        self._a = (self.rate - self.start_rate) / (2.0 * self.ramp_s) if self.ramp_s else 0.0
        self._ramp_ops = self.cumulative(self.ramp_s)
        self.first_measured = self.index_at(self.warmup_s)
        if ops is not None:
            self.end: int | None = self.first_measured + int(ops)
        elif duration_s is not None:
            self.end = self.index_at(self.warmup_s + float(duration_s))
        else:
            self.end = None  # unbounded: the caller stops (e.g. the load phase when its data is written)
        self._next_index = worker

    # --- the global schedule --------------------------------------------------------------
    def cumulative(self, t: float) -> float:
        """Λ(t): expected ops of the global schedule in [0, t)."""
        if t <= self.ramp_s:
            return self.start_rate * t + self._a * t * t
        return self._ramp_ops + self.rate * (t - self.ramp_s)

    def time_of(self, i: int) -> float:
        """Intended start (seconds from the phase start) of global slot ``i``."""
        if i <= 0:
            return 0.0
        if self.ramp_s and i <= self._ramp_ops:
            b = self.start_rate
            # root of a·t² + b·t - i = 0 in a form that is stable for a -> 0 and b -> 0
            return 2.0 * i / (b + math.sqrt(max(0.0, b * b + 4.0 * self._a * i)))
        return self.ramp_s + (i - self._ramp_ops) / self.rate

    def index_at(self, t: float) -> int:
        """The first global slot whose time is >= t."""
        if t <= 0:
            return 0
        i = max(0, math.ceil(self.cumulative(t)) - 1)
        while self.time_of(i) < t:
            i += 1
        while i > 0 and self.time_of(i - 1) >= t:
            i -= 1
        return i

    # --- this worker's share ----------------------------------------------------------------
    def _count_below(self, x: int) -> int:
        """How many of this worker's slots are < x."""
        return (x - self.worker + self.workers - 1) // self.workers if x > self.worker else 0

    @property
    def measured_slots(self) -> int | None:
        """This worker's measured slots (None if unbounded)."""
        if self.end is None:
            return None
        return self._count_below(self.end) - self._count_below(self.first_measured)

    @property
    def total_slots(self) -> int | None:
        """This worker's slots, warm-up included (None if unbounded)."""
        return None if self.end is None else self._count_below(self.end)

    def next(self) -> tuple[int, bool] | None:
        """Take this worker's next slot: (intended start in ns from the phase start, measured?),
        or None when the phase has no more slots for this worker."""
        i = self._next_index
        if self.end is not None and i >= self.end:
            return None
        self._next_index = i + self.workers
        return int(self.time_of(i) * 1e9), i >= self.first_measured


def make_schedule(phase, worker: int, workers: int) -> OpenLoopSchedule | None:
    """The schedule of ``worker`` for a scenario Phase; None for closed-loop phases."""
    if not phase.open_loop:
        return None
    ramp = phase.ramp
    return OpenLoopSchedule(
        phase.rate,
        start_rate=ramp.start_rate if ramp else None,
        ramp_s=ramp.duration_s if ramp else 0.0,
        worker=worker,
        workers=workers,
        warmup_s=phase.warmup_s,
        duration_s=phase.duration_s,
        ops=phase.ops,
    )


def make_load_schedule(load, worker: int, workers: int) -> OpenLoopSchedule | None:
    """The load phase's schedule (calls per second over all workers); None = closed loop.
    Unbounded: a worker stops when its share of the data set is written."""
    if load.rate is None:
        return None
    return OpenLoopSchedule(load.rate, worker=worker, workers=workers)
