"""The phases of a run as the coordinator schedules them: the load phase, then the scenario's.

Phase ``-1`` is the load phase (its name, ``load``, is reserved by the scenario schema); phases
``0..n-1`` are ``scenario.phases``. Workers build the same list from the same scenario, so the
index in ``StartPhase`` is all they need.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pegload.scenario import Scenario
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

    @property
    def open_loop(self) -> bool:
        return self.mode == "open"

    @property
    def planned_s(self) -> float | None:
        """How long the phase should last after its warm-up (None: as long as its ops take)."""
        if self.duration_s is not None:
            return self.duration_s
        if self.ops is not None and self.rate and not self.ramp:
            return self.ops / self.rate
        return None


def load_calls(scenario: Scenario) -> int:
    """How many calls the load phase makes in total (over all workers)."""
    d, w = scenario.data, scenario.workers
    return sum(load_share(d.hash_keys, d.sort_keys, scenario.load.batch, w, i)[1] for i in range(w))


def phase_plans(scenario: Scenario) -> list[PhasePlan]:
    plans = []
    if scenario.load.enabled:
        rate = scenario.load.rate
        plans.append(PhasePlan(LOAD_PHASE_INDEX, LOAD_PHASE_NAME, "load", "open" if rate else "closed",
                               rate, None, load_calls(scenario), 0.0, None))
    for i, p in enumerate(scenario.phases):
        plans.append(PhasePlan(i, p.name, "run", p.mode, p.rate, p.duration_s, p.ops, p.warmup_s,
                               p.ramp.to_dict() if p.ramp else None))
    return plans
