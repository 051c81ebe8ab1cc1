"""Open-loop schedules: exact totals, ramps, warm-up, and the worker split."""
import time

import pytest

from pegload.scenario import load_scenario_text
from pegload.workload.pacing import OpenLoopSchedule, make_load_schedule, worker_schedule


def take_all(schedule, limit=10**6):
    out = []
    while len(out) < limit:
        slot = schedule.next()
        if slot is None:
            break
        out.append(slot)
    return out


def test_constant_rate_slots_are_evenly_spaced():
    sched = OpenLoopSchedule(1000, duration_s=1.0)
    slots = take_all(sched)
    assert len(slots) == 1000
    assert [t for t, _ in slots[:4]] == [0, 1_000_000, 2_000_000, 3_000_000]
    assert slots[-1][0] == 999_000_000
    assert all(measured for _, measured in slots)


def test_workers_interleave_and_their_union_is_the_global_schedule():
    whole = [t for t, _ in take_all(OpenLoopSchedule(3000, duration_s=0.5))]
    parts = [take_all(OpenLoopSchedule(3000, duration_s=0.5, worker=w, workers=4)) for w in range(4)]
    assert sorted(t for part in parts for t, _ in part) == whole
    assert [len(p) for p in parts] == [375, 375, 375, 375]
    # worker w gets global slots w, w+4, ...: its first slot is at w/rate
    assert [p[0][0] for p in parts] == [int(w / 3000 * 1e9) for w in range(4)]


def test_intended_times_do_not_depend_on_when_slots_are_taken():
    # coordinated omission: taking a slot late (slow previous op) must not move later slots
    a = OpenLoopSchedule(500, duration_s=1.0)
    b = OpenLoopSchedule(500, duration_s=1.0)
    fast = take_all(a)
    slow = []
    for _ in range(5):
        slow.append(b.next())
        time.sleep(0.002)
    slow += take_all(b)
    assert slow == fast


def test_ops_phase_splits_exactly_and_warmup_is_not_counted():
    for workers in (1, 2, 3, 7):
        measured_total = 0
        for w in range(workers):
            sched = OpenLoopSchedule(200, worker=w, workers=workers, warmup_s=0.5, ops=1001)
            slots = take_all(sched)
            measured = sum(1 for _, m in slots if m)
            assert measured == sched.measured_slots
            assert len(slots) == sched.total_slots
            assert all((t >= 500_000_000) == m for t, m in slots)
            measured_total += measured
        assert measured_total == 1001
    # warm-up slots: 0.5 s at 200/s = 100 slots before the measured ones
    assert OpenLoopSchedule(200, warmup_s=0.5, ops=10).first_measured == 100


def test_duration_phase_ends_at_the_right_slot():
    sched = OpenLoopSchedule(333, warmup_s=0.25, duration_s=2.0)
    slots = take_all(sched)
    assert slots[-1][0] < 2_250_000_000
    assert sched.time_of(sched.end) >= 2.25
    assert len(slots) == sched.end == sched.index_at(2.25)
    assert sum(1 for _, m in slots if m) == pytest.approx(333 * 2.0, abs=1)


def test_ramp_up_follows_the_integral_of_the_rate():
    sched = OpenLoopSchedule(1000, start_rate=100, ramp_s=10.0, duration_s=20.0)
    # ops during the ramp: (100 + 1000) / 2 * 10 = 5500; after it 1000/s for 10 s
    assert sched.cumulative(10.0) == pytest.approx(5500)
    assert sched.end == 15500
    times = [t / 1e9 for t, _ in take_all(sched)]
    assert len(times) == 15500
    assert all(b > a for a, b in zip(times, times[1:]))
    for i in (1, 10, 777, 5499, 5500, 5501, 12000):
        assert sched.cumulative(sched.time_of(i)) == pytest.approx(i, rel=1e-9)
    # local rate at the start ~ start_rate, at the end of the ramp ~ rate, after it exactly rate
    assert 1 / (times[2] - times[1]) == pytest.approx(100, rel=0.02)
    assert 1 / (times[5499] - times[5498]) == pytest.approx(1000, rel=0.01)
    assert times[9000] - times[8999] == pytest.approx(0.001, abs=1e-9)
    # slots per second of the ramp rise linearly: second k has ~ 100 + 90*(k + 0.5) slots
    per_second = [sum(1 for t in times if k <= t < k + 1) for k in range(10)]
    for k, count in enumerate(per_second):
        assert count == pytest.approx(100 + 90 * (k + 0.5), abs=1)


def test_ramp_down_and_ramp_from_zero():
    down = OpenLoopSchedule(100, start_rate=1000, ramp_s=2.0, duration_s=4.0)
    assert down.end == 1100 + 200
    times = [t for t, _ in take_all(down)]
    assert all(b > a for a, b in zip(times, times[1:]))
    zero = OpenLoopSchedule(100, start_rate=0, ramp_s=1.0, duration_s=1.0)
    times = [t / 1e9 for t, _ in take_all(zero)]
    assert len(times) == 50 and times[0] == 0.0
    assert times[1] == pytest.approx((1 / 50) ** 0.5)  # Λ(t) = 50 t² reaches 1 at sqrt(1/50)


def test_ramp_split_among_workers_is_exact():
    whole = [t for t, _ in take_all(OpenLoopSchedule(900, start_rate=10, ramp_s=3, warmup_s=1, duration_s=3))]
    union = sorted(t for w in range(3)
                   for t, _ in take_all(OpenLoopSchedule(900, start_rate=10, ramp_s=3, warmup_s=1, duration_s=3,
                                                         worker=w, workers=3)))
    assert union == whole


def test_unbounded_schedule_and_bad_arguments():
    sched = OpenLoopSchedule(10)
    assert sched.end is None and sched.measured_slots is None
    assert len(take_all(sched, limit=50)) == 50
    with pytest.raises(ValueError):
        OpenLoopSchedule(0)
    with pytest.raises(ValueError):
        OpenLoopSchedule(10, worker=2, workers=2)


def test_worker_schedule_from_scenario_phases():
    sc = load_scenario_text("""\
workers: 2
load: {rate: 100}
phases:
  - {name: closed, ops: 10, mix: {get: 1}}
  - {name: open, duration: 2s, warmup: 1s, rate: 100, ramp: {from: 10, over: 1s}, mix: {get: 1}}
""", "s.yaml")
    assert worker_schedule(sc, 0, 0, 2) is None
    sched = worker_schedule(sc, 1, 1, 2)
    assert (sched.rate, sched.start_rate, sched.ramp_s, sched.warmup_s, sched.worker) == (100, 10, 1.0, 1.0, 1)
    assert sched.end == 55 + 200
    load = make_load_schedule(sc.load, 0, 2)
    assert load.rate == 100 and load.end is None
