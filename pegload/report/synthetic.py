"""Runs made from known latency samples, through the real recorder and accumulator.

For tests (every number in a report can be asserted exactly) and for trying the report, compare
and check tools without a cluster. Samples are spread round-robin over the workers and evenly
over the phase's intervals, each worker snapshotting every interval as a real worker does.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pegload.metrics import OK, IntervalRecorder, RunAccumulator
from pegload.report.model import PhaseInfo, RunResult, RunStatus, TargetFingerprint, Validity

# a bare int is a response time (service = response, lateness 0); a tuple is
# (response_us, service_us, lateness_us, outcome)
Sample = int | tuple[int, int, int, str]


@dataclass
class SyntheticPhase:
    name: str
    ops: dict[str, Sequence[Sample]]
    duration_s: float = 3.0
    kind: str = "run"
    mode: str = "closed"
    target_rate: float | None = None
    verify_errors: dict[str, int] = field(default_factory=dict)


def latency_samples(n: int, median_us: float, sigma: float = 0.3, seed: int = 0,
                    shift_us: int = 0) -> list[int]:
    """``n`` lognormal latencies around ``median_us`` (deterministic for a seed), plus ``shift_us``."""
    rng = random.Random(seed)
    return [max(int(math.exp(rng.gauss(math.log(median_us), sigma))), 1) + shift_us for _ in range(n)]


def _parts(sample: Sample) -> tuple[int, int, int, str]:
    if isinstance(sample, int):
        return sample, sample, 0, OK
    return sample


def synthetic_run(phases: Sequence[SyntheticPhase], *, workers: int = 2, t0: float = 1_700_000_000.0,
                  scenario: dict[str, Any] | None = None, target: TargetFingerprint | None = None,
                  validity: Validity | None = None, status: RunStatus | None = None,
                  interval_s: float = 1.0, gap_s: float = 0.5, seed: int | None = 42,
                  self_check: dict[str, Any] | None = None) -> RunResult:
    acc = RunAccumulator(interval_s=interval_s, workers=range(workers))
    recorders = [IntervalRecorder(w) for w in range(workers)]
    infos, start = [], t0
    for phase in phases:
        acc.begin_phase(phase.name, start)
        n_intervals = max(math.ceil(phase.duration_s / interval_s - 1e-9), 1)
        for op in phase.ops:
            for w in range(workers):
                recorders[w].op(phase.name, op)  # every worker knows every op
        for k in range(n_intervals):
            t_start = start + k * interval_s
            t_end = min(start + (k + 1) * interval_s, start + phase.duration_s)
            for w, rec in enumerate(recorders):
                for op, samples in phase.ops.items():
                    r = rec.op(phase.name, op)
                    mine = samples[w::workers]  # spread evenly over time, not over intervals
                    lo = int(len(mine) * (t_start - start) / phase.duration_s)
                    hi = int(len(mine) * (t_end - start) / phase.duration_s)
                    for sample in mine[lo:hi]:
                        r.record(*_parts(sample))
                    if k == 0 and w == 0 and phase.verify_errors.get(op):
                        r.verification_error(phase.verify_errors[op])
                acc.add(rec.snapshot_and_reset(t_start, t_end).to_bytes())
        acc.end_phase(phase.name)
        infos.append(PhaseInfo(phase.name, kind=phase.kind, start=start, end=start + phase.duration_s,
                               mode=phase.mode, target_rate=phase.target_rate,
                               planned_duration_s=phase.duration_s))
        start += phase.duration_s + gap_s
    acc.finish()
    scenario = scenario if scenario is not None else {
        "name": "synthetic", "phases": [{"name": p.name, "duration": p.duration_s, "mode": p.mode,
                                         "rate": p.target_rate, "mix": sorted(p.ops)} for p in phases]}
    # a stand-in for pegload.scenario.scenario_hash, which needs a validated Scenario
    shape = json.dumps({k: v for k, v in scenario.items() if k != "name"}, sort_keys=True, default=str)
    return RunResult(
        acc, scenario=scenario, scenario_name=str(scenario.get("name", "synthetic")),
        scenario_hash=hashlib.sha256(shape.encode()).hexdigest()[:16],
        target=target or TargetFingerprint(kind="onebox", meta=("127.0.0.1:34601",), table="temp",
                                           app_id=1, partition_count=8,
                                           replica_servers=("127.0.0.1:34801",)),
        phases=infos, started_at=t0, ended_at=start - gap_s, workers=workers, concurrency=8,
        seed=seed, validity=validity or Validity(), status=status or RunStatus(),
        self_check=self_check or {}, environment={"pegload_version": "test", "host": "synthetic", "cores": 2})
