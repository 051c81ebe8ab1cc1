"""Open-loop pacing, one worker's side: its share of a phase's global schedule.

The schedule itself (slot times, ramps, uniform or Poisson arrivals, warm-up, planned end) is
owned by :class:`pegload.workload.schedule.PhaseSchedule`; this module only walks a worker's
slots. Worker w of W takes the global slots i ≡ w (mod W), so the workers' schedules interleave
and their union is exactly the global schedule (no rounding of per-worker rates). Inside a worker
the greenlets take the next free slot (``next()``), wait until it is due, and measure response
time from it; a slot is never moved because the previous op was slow (coordinated-omission
correct).
"""
from __future__ import annotations

from pegload.workload.schedule import PhaseSchedule, phase_schedule


class OpenLoopSchedule:
    """One worker's share of an open-loop phase's global schedule (``plan``). Built either from a
    :class:`PhaseSchedule` (``OpenLoopSchedule.share(plan, worker, workers)``) or, for
    convenience, from the same arguments as one."""

    __slots__ = ("plan", "worker", "workers", "first_measured", "end", "_next_index", "_time_of")

    def __init__(self, rate: float | None = None, *, worker: int = 0, workers: int = 1,
                 plan: PhaseSchedule | None = None, **plan_args) -> None:
        if plan is None:
            if rate is None:
                raise ValueError("give a rate or a plan")
            plan = PhaseSchedule(rate, **plan_args)
        if not 0 <= worker < workers:
            raise ValueError(f"worker {worker} is not in [0, {workers})")
        self.plan = plan
        self.worker, self.workers = worker, workers
        self.first_measured, self.end = plan.first_measured, plan.end
        self._next_index = worker
        self._time_of = plan.time_of

    @classmethod
    def share(cls, plan: PhaseSchedule, worker: int, workers: int) -> OpenLoopSchedule:
        return cls(worker=worker, workers=workers, plan=plan)

    # the plan's figures, for callers that hold only the worker's share
    def __getattr__(self, name: str):
        if name in ("rate", "start_rate", "ramp_s", "warmup_s", "arrivals", "cumulative", "time_of", "index_at",
                    "rate_at"):
            return getattr(self.plan, name)
        raise AttributeError(name)

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
        return int(self._time_of(i) * 1e9), i >= self.first_measured


def worker_schedule(scenario, index: int, worker: int, workers: int) -> OpenLoopSchedule | None:
    """Worker ``worker``'s share of ``scenario.phases[index]``'s plan (None: closed loop)."""
    plan = phase_schedule(scenario, index)
    return None if plan is None else OpenLoopSchedule.share(plan, worker, workers)


def make_load_schedule(load, worker: int, workers: int) -> OpenLoopSchedule | None:
    """The load phase's schedule (calls per second over all workers); None = closed loop.
    Unbounded: a worker stops when its share of the data set is written."""
    if load.rate is None:
        return None
    return OpenLoopSchedule(load.rate, worker=worker, workers=workers)
