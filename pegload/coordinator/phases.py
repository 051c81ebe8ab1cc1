"""The phases of a run as the coordinator schedules them: the load phase, then the scenario's.

Phase ``-1`` is the load phase (its name, ``load``, is reserved by the scenario schema); phases
``0..n-1`` are ``scenario.phases``. Workers build the same list from the same scenario, so the
index in ``StartPhase`` is all they need.

A phase's plan (planned length, slot counts, rate at t) is not computed here: ``PhasePlan`` asks
the one schedule owner, :class:`pegload.workload.schedule.PhaseSchedule`, which the workers pace by.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pegload.scenario import Scenario
from pegload.workload.schedule import PhaseSchedule, phase_schedule
from pegload.workload.split import load_share

LOAD_PHASE_INDEX = -1
LOAD_PHASE_NAME = "load"


@dataclass(frozen=True)
class PhasePlan:
    index: int
    name: str
    kind: str  # "load" or "run"
    mode: str  # "closed" or "open"
    rate: float | None
    duration_s: float | None
    ops: int | None
    warmup_s: float
    ramp: dict[str, Any] | None
    arrivals: str = "uniform"
    # the global open-loop plan (None: closed loop); the source of every figure below
    schedule: PhaseSchedule | None = field(default=None, compare=False, repr=False)

    @property
    def open_loop(self) -> bool:
        return self.mode == "open"

    @property
    def planned_s(self) -> float | None:
        """How long the phase should last after its warm-up: the duration, or for an open-loop
        op-count phase the schedule's measured length (ramp included); None when it lasts as long
        as its ops take (closed loop with an op count)."""
        if self.schedule is not None:
            return self.schedule.planned_s
        return self.duration_s

    @property
    def measured_slots(self) -> int | None:
        """Open loop: measured slots over all workers (None: closed loop)."""
        return self.schedule.measured_slots if self.schedule is not None else None

    def expected_ops(self, t0_s: float, t1_s: float) -> float | None:
        """Open loop: measured slots due in [t0_s, t1_s) seconds from the measured start (None:
        closed loop, which has no plan to compare with)."""
        return self.schedule.expected_ops(t0_s, t1_s) if self.schedule is not None else None

    def rate_at(self, t_s: float) -> float | None:
        """Open loop: the target rate at ``t_s`` seconds from the phase start (warm-up included)."""
        return self.schedule.rate_at(t_s) if self.schedule is not None else None


def load_calls(scenario: Scenario) -> int:
    """How many calls the load phase makes in total (over all workers)."""
    d, w = scenario.data, scenario.workers
    return sum(load_share(d.hash_keys, d.sort_keys, scenario.load.batch, w, i)[1] for i in range(w))


def phase_plans(scenario: Scenario) -> list[PhasePlan]:
    plans = []
    if scenario.load.enabled:
        rate, calls = scenario.load.rate, load_calls(scenario)
        plans.append(PhasePlan(LOAD_PHASE_INDEX, LOAD_PHASE_NAME, "load", "open" if rate else "closed",
                               rate, None, calls, 0.0, None,
                               schedule=PhaseSchedule(rate, ops=calls) if rate else None))
    for i, p in enumerate(scenario.phases):
        plans.append(PhasePlan(i, p.name, "run", p.mode, p.rate, p.duration_s, p.ops, p.warmup_s,
                               p.ramp.to_dict() if p.ramp else None, p.arrivals,
                               schedule=phase_schedule(scenario, i)))
    return plans
