"""The one owner of a phase's plan: planned length, slot counts per window, Poisson arrivals
(seeded, split exactly over workers, at the right mean rate), and the coordinator's PhasePlan
asking it instead of computing its own figures."""
import math
import statistics

import pytest
from pegload.workload.schedule import BLOCK, SUB, PhaseSchedule

from pegload.coordinator.phases import phase_plans
from pegload.coordinator.validity import PhaseCheck, judge_run
from pegload.scenario import load_scenario_text
from pegload.workload.pacing import OpenLoopSchedule, worker_schedule


def slots(schedule):
    out = []
    while (slot := schedule.next()) is not None:
        out.append(slot)
    return out


def test_ops_plus_ramp_planned_length_is_where_the_schedule_ends():
    # 1,000 ops starting with a ramp 100 -> 1000 over 2 s after a 0.5 s warm-up
    plan = PhaseSchedule(1000, start_rate=100, ramp_s=2.0, warmup_s=0.5, ops=1000)
    times = [t / 1e9 for t, m in slots(OpenLoopSchedule.share(plan, 0, 1)) if m]
    assert len(times) == 1000 == plan.measured_slots
    # the measured window ends where the slot after the last measured one is due: it holds the
    # last measured slot, and exactly the measured slots
    assert plan.warmup_s + plan.planned_s > times[-1]
    assert plan.planned_s == pytest.approx(plan.time_of(plan.end) - 0.5)
    assert plan.expected_ops(0, plan.planned_s) == 1000
    # ops / rate (the rule that disagreed with the ramp) would have been 1.0 s; the ramp makes it longer
    assert plan.planned_s > 1.2


def test_ops_phase_without_ramp_plans_ops_over_rate():
    plan = PhaseSchedule(200, ops=1000)
    assert plan.planned_s == pytest.approx(5.0)
    assert plan.expected_ops(0, 5.0) == 1000 and plan.expected_ops(1.0, 2.0) == 200


def test_duration_phase_planned_length_and_windows():
    plan = PhaseSchedule(1000, warmup_s=1.0, duration_s=3.0)
    assert plan.planned_s == 3.0 and plan.measured_slots == 3000
    assert [plan.expected_ops(k, k + 1) for k in range(3)] == [1000.0, 1000.0, 1000.0]
    assert plan.expected_ops(2.5, 10) == 500  # clipped at the planned end
    assert plan.expected_ops(-1, 0) == 0  # the warm-up is not measured


def test_rate_at_follows_the_ramp():
    plan = PhaseSchedule(1000, start_rate=0, ramp_s=10, duration_s=20)
    assert [plan.rate_at(t) for t in (0, 5, 10, 15)] == [0, 500, 1000, 1000]
    # the slots planned per second of the ramp follow the rate: ~ 100 * (k + 0.5)
    for k in range(10):
        assert plan.expected_ops(k, k + 1) == pytest.approx(100 * (k + 0.5), abs=1)


@pytest.mark.parametrize("ramp", [None, (50.0, 4.0)])
def test_poisson_schedule_split_over_workers_is_the_global_one(ramp):
    kw = dict(start_rate=ramp[0], ramp_s=ramp[1]) if ramp else {}
    whole_plan = PhaseSchedule(3000, warmup_s=0.5, duration_s=2.0, arrivals="poisson", seed=7, **kw)
    whole = slots(OpenLoopSchedule.share(whole_plan, 0, 1))
    parts = [slots(OpenLoopSchedule.share(PhaseSchedule(3000, warmup_s=0.5, duration_s=2.0, arrivals="poisson",
                                                        seed=7, **kw), w, 3)) for w in range(3)]
    assert sorted(s for part in parts for s in part) == sorted(whole)
    assert sum(m for part in parts for _, m in part) == whole_plan.measured_slots
    # worker w holds global slots w, w + 3, ...
    assert [p[0] for p in parts] == whole[:3]


def test_poisson_schedule_is_reproducible_and_seeded():
    a = PhaseSchedule(500, duration_s=10, arrivals="poisson", seed=1)
    b = PhaseSchedule(500, duration_s=10, arrivals="poisson", seed=1)
    c = PhaseSchedule(500, duration_s=10, arrivals="poisson", seed=2)
    ta = [a.time_of(i) for i in range(3000)]
    assert ta == [b.time_of(i) for i in range(3000)]
    assert ta != [c.time_of(i) for i in range(3000)]
    assert a.end == b.end != c.end
    # the order of queries does not matter (blocks are generated on demand)
    d = PhaseSchedule(500, duration_s=10, arrivals="poisson", seed=1)
    assert d.time_of(2999) == ta[2999] and d.time_of(5) == ta[5]
    assert all(y > x for x, y in zip(ta, ta[1:]))


def test_poisson_gaps_are_exponential_at_the_mean_rate():
    rate = 2000.0
    plan = PhaseSchedule(rate, duration_s=100, arrivals="poisson", seed=3)
    n = plan.measured_slots
    # 200,000 expected; a Poisson count has sd sqrt(200,000) ~ 447
    assert abs(n - 200_000) < 5 * math.sqrt(200_000)
    times = [plan.time_of(i) for i in range(n)]
    gaps = [y - x for x, y in zip(times, times[1:])]
    assert statistics.fmean(gaps) == pytest.approx(1 / rate, rel=0.01)
    # exponential: sd == mean, and P(gap > mean) = 1/e
    assert statistics.pstdev(gaps) == pytest.approx(1 / rate, rel=0.02)
    assert sum(g > 1 / rate for g in gaps) / len(gaps) == pytest.approx(math.exp(-1), abs=0.005)
    # block and sub-block boundaries are invisible: gaps across them look like the others
    across = [gaps[k * BLOCK - 1] for k in range(1, n // BLOCK)]
    assert statistics.fmean(across) == pytest.approx(1 / rate, rel=0.15)
    across_sub = [gaps[k * SUB - 1] for k in range(1, n // SUB) if k * SUB % BLOCK]
    assert statistics.fmean(across_sub) == pytest.approx(1 / rate, rel=0.05)
    assert statistics.pstdev(across_sub) == pytest.approx(1 / rate, rel=0.1)


def test_poisson_windows_count_the_actual_slots():
    plan = PhaseSchedule(1000, warmup_s=0.3, duration_s=5, arrivals="poisson", seed=11)
    times = [plan.time_of(i) for i in range(plan.end + 10)]
    for t0, t1 in ((0, 1), (1, 2), (0.25, 3.75), (4.5, 9)):
        actual = sum(1 for i, t in enumerate(times) if 0.3 + t0 <= t < 0.3 + t1 and i < plan.end)
        assert plan.expected_ops(t0, t1) == actual
    assert plan.expected_ops(0, 5) == plan.measured_slots
    assert sum(plan.expected_ops(k, k + 1) for k in range(5)) == plan.measured_slots


def test_poisson_op_count_phase_has_exactly_its_ops():
    plan = PhaseSchedule(400, warmup_s=1.0, ops=777, arrivals="poisson", seed=5)
    parts = [OpenLoopSchedule.share(plan, w, 4) for w in range(4)]
    assert sum(p.measured_slots for p in parts) == 777
    assert sum(m for p in parts for _, m in slots(p)) == 777
    assert plan.expected_ops(0, plan.planned_s) == 777


def test_bad_arguments():
    with pytest.raises(ValueError, match="arrivals"):
        PhaseSchedule(10, arrivals="bursty")
    with pytest.raises(ValueError, match="rate"):
        PhaseSchedule(0)
    with pytest.raises(ValueError):
        PhaseSchedule(10, duration_s=1, ops=5)


SCENARIO = """\
seed: 42
workers: 2
load: {rate: 500}
data: {hash_keys: 100, sort_keys: 10}
phases:
  - {name: closed, ops: 10, mix: {get: 1}}
  - {name: ramped, ops: 3000, warmup: 1s, rate: 1000, ramp: {from: 100, over: 3s}, mix: {get: 1}}
  - {name: poisson, duration: 2s, rate: 800, arrivals: poisson, mix: {get: 1}}
"""


def test_phase_plans_ask_the_schedule_owner():
    sc = load_scenario_text(SCENARIO, "s.yaml")
    plans = {p.name: p for p in phase_plans(sc)}
    assert plans["closed"].planned_s is None and plans["closed"].measured_slots is None
    assert plans["closed"].expected_ops(0, 1) is None
    ramped = plans["ramped"]
    parts = [worker_schedule(sc, 1, w, 2) for w in range(2)]
    assert ramped.measured_slots == sum(p.measured_slots for p in parts) == 3000
    assert ramped.planned_s == pytest.approx(parts[0].plan.planned_s)
    assert ramped.rate_at(0) == 100 and ramped.rate_at(5) == 1000
    poisson = plans["poisson"]
    assert poisson.arrivals == "poisson"
    # the workers' schedules (built from the same scenario) are the coordinator's plan
    shares = [worker_schedule(sc, 2, w, 2) for w in range(2)]
    assert sum(s.measured_slots for s in shares) == poisson.measured_slots
    assert [s.plan.time_of(i) for s in shares for i in range(5)] == [poisson.schedule.time_of(i) for i in range(5)] * 2
    assert plans["load"].planned_s == pytest.approx(100 / 500)  # 100 multi_set calls at 500/s


def test_ops_plus_ramp_on_schedule_is_judged_valid():
    sc = load_scenario_text(SCENARIO, "s.yaml")
    ramped = {p.name: p for p in phase_plans(sc)}["ramped"]
    on_time = PhaseCheck(name="ramped", open_loop=True, target_rate=ramped.rate, planned_ops=ramped.ops,
                         planned_s=ramped.planned_s, measured_s=ramped.planned_s + 0.05, sent=3000, recorded=3000)
    validity, _ = judge_run([on_time])
    assert validity.valid, validity.reasons
    late = PhaseCheck(name="ramped", open_loop=True, target_rate=ramped.rate, planned_ops=ramped.ops,
                      planned_s=ramped.planned_s, measured_s=ramped.planned_s * 1.5 + 1, sent=3000, recorded=3000)
    assert not judge_run([late])[0].valid
