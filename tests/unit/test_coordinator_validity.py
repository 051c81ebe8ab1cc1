"""The self-check verdict: each rule that makes a run not valid, and the quiet case."""
import textwrap

import pytest

from pegload.coordinator.phases import LOAD_PHASE_INDEX, load_calls, phase_plans
from pegload.coordinator.validity import IntervalCount, PhaseCheck, failure_reasons, judge_run, worker_summary
from pegload.scenario import load_scenario_text


def sample(cpu=0.3, lag=1.0, gc=0.5, wall=1.0):
    return {"cpu": cpu, "wall_s": wall, "loop_lag_max_ms": lag, "loop_lag_mean_ms": lag / 2,
            "gc_pause_total_ms": gc, "gc_pause_max_ms": gc, "gc_collections": 1}


def check(**kw):
    base = dict(name="run", sent=1000, recorded=1000, samples={0: [sample()] * 3, 1: [sample()] * 3})
    base.update(kw)
    return PhaseCheck(**base)


def test_a_healthy_run_is_valid_and_reports_its_self_check():
    validity, section = judge_run([check(open_loop=True, target_rate=500, planned_s=2.0, planned_slots=1000,
                                         on_time=1000, lateness_us={"p99": 90, "p999": 200, "max": 900},
                                         response_us={"p999": 4000, "max": 9000})])
    assert validity.valid and validity.reasons == () and validity.limited_by is None
    phase = section["phases"]["run"]
    assert set(phase["workers"]) == {"0", "1"} and phase["workers"]["0"]["cpu_mean"] == 0.3
    assert phase["figures"]["rate"]["achieved_ops_s"] == 500.0
    assert section["limits"]["cpu"] == 0.9


def test_cpu_mean_is_wall_weighted():
    s = worker_summary([sample(cpu=1.0, wall=1.0), sample(cpu=0.0, wall=3.0)])
    assert s["cpu_mean"] == 0.25 and s["cpu_max"] == 1.0 and s["intervals"] == 2


def test_saturated_worker_cpu_makes_the_run_not_valid():
    validity, _ = judge_run([check(samples={0: [sample(cpu=0.97)] * 4, 1: [sample()] * 4})])
    assert not validity.valid and validity.limited_by == "client"
    assert len(validity.reasons) == 1 and "worker 0 used 97% of a core" in validity.reasons[0]
    assert validity.details[0]["reason"] == "cpu" and validity.details[0]["value"] == 0.97


def test_blocked_event_loop():
    validity, _ = judge_run([check(samples={0: [sample(lag=250.0)]})])
    assert not validity.valid and "blocked for 250 ms" in validity.reasons[0]


def codes(validity):
    return [d["reason"] for d in validity.details]


def test_achieved_rate_short_of_the_target_is_named_with_its_figure():
    """The issue's client-capped run: 18,303 of 20,000 ops/s over 15 s."""
    validity, section = judge_run([check(open_loop=True, target_rate=20_000, planned_s=15.0, planned_slots=300_000,
                                         on_time=274_545, sent=300_000, recorded=300_000, late_sent=25_455)])
    assert "rate" in codes(validity) and "overrun" in codes(validity)
    rate = next(d for d in validity.details if d["reason"] == "rate")
    assert rate["value"] == pytest.approx(0.0848, abs=1e-4) and rate["limit"] == 0.01
    assert "achieved 18,303 of 20,000 ops/s on time (8.5% short" in rate["text"]
    late = check(open_loop=True, planned_s=15.0, planned_slots=300_000, on_time=300_000, sent=300_000,
                 recorded=300_000, measured_s=16.4, timeout_s=1.0)
    assert judge_run([late])[0].valid  # 1.4 s over 15 s: within 10% + the 1 s timeout
    late.measured_s = 18.0
    assert "took 18.0 s of a planned 15.0 s" in judge_run([late])[0].reasons[0]
    assert section["phases"]["run"]["late_sent"] == 25_455


def test_one_percent_short_is_still_valid_and_a_stopped_phase_is_not_judged_on_rate():
    ok = dict(open_loop=True, target_rate=1000, planned_s=10.0, planned_slots=10_000, sent=9_950, recorded=9_950)
    assert judge_run([check(on_time=9_950, **ok)])[0].valid
    assert judge_run([check(on_time=5_000, stopped_early=True, **ok)])[0].valid


def test_an_interval_far_below_its_plan_is_named_even_when_the_phase_catches_up():
    ivs = [IntervalCount(t, t + 1, 1000, 1000.0) for t in range(10)]
    ivs[4] = IntervalCount(4, 5, 600, 1000.0)
    ivs.append(IntervalCount(10, 10.2, 5, 0.0))  # the drain after the planned end is not judged
    validity, section = judge_run([check(open_loop=True, planned_s=10.0, planned_slots=10_000, on_time=10_000,
                                         sent=10_000, recorded=10_000, intervals=ivs)])
    assert codes(validity) == ["interval_rate"]
    assert section["phases"]["run"]["figures"]["worst_interval"]["count"] == 600
    ivs[4] = IntervalCount(4, 5, 960, 1000.0)
    assert judge_run([check(open_loop=True, planned_s=10.0, planned_slots=10_000, on_time=10_000,
                            sent=10_000, recorded=10_000, intervals=ivs)])[0].valid
    # 100 ms replies: the first interval counts ~100 fewer (in flight at its end), not a shortfall
    ivs = [IntervalCount(0, 1, 900, 1000.0)] + [IntervalCount(t, t + 1, 1000, 1000.0) for t in range(1, 10)]
    slow = dict(open_loop=True, planned_s=10.0, planned_slots=10_000, on_time=10_000, sent=10_000,
                recorded=10_000, intervals=ivs)
    assert judge_run([check(service_p50_us=100_000, **slow)])[0].valid
    assert not judge_run([check(service_p50_us=1_000, **slow)])[0].valid


def test_waiting_for_a_free_greenlet_is_a_named_reason():
    busy = [dict(sample(), behind=40, behind_wait_us=40 * 3000)] * 3
    validity, section = judge_run([check(open_loop=True, samples={0: busy, 1: [sample()] * 3})])
    assert codes(validity) == ["greenlets"] and "120 of 1,000 ops (12.0%" in validity.reasons[0]
    assert section["phases"]["run"]["figures"]["behind"]["mean_wait_us"] == 3000.0


def test_client_delays_that_reach_p99_make_the_run_not_valid():
    """The issue's client-capped run: lateness p99 9 ms under a response p99 of 12 ms."""
    validity, _ = judge_run([check(open_loop=True, lateness_us={"p99": 9_000, "p999": 63_700, "max": 101_000},
                                   response_us={"p99": 12_000, "p999": 75_600, "max": 120_000})])
    assert codes(validity) == ["lateness_tail"] and not validity.cautions
    assert "pacing lateness p99 9.0 ms is 75% of response p99 12.0 ms" in validity.reasons[0]


def test_client_delays_only_above_p99_leave_the_run_valid_with_a_scoped_caution():
    """The main job on a 2-core machine: a ~1.5 ms stall once a second is 0.1% of the ops, so
    it fills p99.9 and max while p99 and below are the server's."""
    validity, section = judge_run([check(open_loop=True, lateness_us={"p99": 136, "p999": 1_528, "max": 5_211},
                                         response_us={"p99": 434, "p999": 2_759, "max": 5_675})])
    assert validity.valid and not validity.reasons
    (caution,) = validity.cautions
    assert caution["reason"] == "lateness_tail" and caution["stats"] == ["p999", "max"]
    assert "lateness p99.9 1.5 ms is 55% of response p99.9 2.8 ms" in caution["text"]
    assert section["phases"]["run"]["figures"]["lateness_tail"]["lateness_p99_us"] == 136
    # only the maximum: a single long stall
    validity, _ = judge_run([check(open_loop=True, lateness_us={"p99": 100, "p999": 400, "max": 34_000},
                                   response_us={"p99": 500, "p999": 3_000, "max": 36_000})])
    assert validity.valid and [c["stats"] for c in validity.cautions] == [["max"]]
    # a tail of tens of µs under a millisecond-scale response is the timer, not a bottleneck
    validity, _ = judge_run([check(open_loop=True, lateness_us={"p99": 60, "p999": 300, "max": 4_000},
                                   response_us={"p99": 900, "p999": 2_000, "max": 6_000})])
    assert validity.valid and not validity.cautions


def test_dropped_ops_and_drops_after_a_stop_request():
    validity, _ = judge_run([check(open_loop=True, sent=900, recorded=900, dropped=100)])
    assert codes(validity) == ["dropped"] and "100 of 1,000 scheduled ops never started" in validity.reasons[0]
    assert judge_run([check(open_loop=True, dropped=500, stopped_early=True)])[0].valid


def test_sent_and_recorded_must_match():
    validity, _ = judge_run([check(sent=1000, recorded=998)])
    assert not validity.valid and "sent 1,000 ops but 998 were recorded" in validity.reasons[0]


def test_lost_workers_and_a_lost_target_say_who_limited_the_run():
    crashed = [{"worker_id": 1, "reason": "worker 1 (pid 9) fell silent", "phase": "run", "silent_s": 1.6}]
    validity, _ = judge_run([check()], failure_reasons(crashed, None, {"run": 480}))
    assert codes(validity) == ["worker_lost", "unsent"] and validity.limited_by == "run"
    assert "480 ops assigned to lost worker(s) were never sent" in validity.reasons[1]
    validity, _ = judge_run([check(samples={0: [sample(cpu=0.99)]})],
                            failure_reasons([], "the embedded onebox (pid 7) exited mid-run", {}))
    assert validity.limited_by == "target" and "the target was lost" in validity.reasons[0]


def test_retries_and_reconnects_are_added_per_op_and_cause():
    a = dict(sample(), retries={"get": {"busy": 3, "reset": 1}}, reconnects=1)
    b = dict(sample(), retries={"get": {"busy": 2}, "set": {"timeout": 4}}, reconnects=2)
    _, section = judge_run([check(samples={0: [a, b], 1: [a]})])
    phase = section["phases"]["run"]
    assert phase["retries"] == {"get": {"busy": 8, "reset": 2}, "set": {"timeout": 4}}
    assert phase["retry_count"] == 14 and phase["reconnects"] == 4


def test_phase_plans_put_the_load_phase_first_and_keep_the_shape():
    sc = load_scenario_text(textwrap.dedent("""\
        workers: 3
        data: {hash_keys: 10, sort_keys: 25}
        load: {batch: 10, rate: 50}
        phases:
          - {name: a, duration: 2s, warmup: 1s, rate: 100, ramp: {from: 10, over: 1s}, mix: {get: 1}}
          - {name: b, ops: 500, mix: {set: 1}}
        """), "p.yaml")
    plans = phase_plans(sc)
    assert [(p.index, p.name, p.kind, p.mode) for p in plans] == [
        (LOAD_PHASE_INDEX, "load", "load", "open"), (0, "a", "run", "open"), (1, "b", "run", "closed")]
    assert load_calls(sc) == 10 * 3 and plans[0].ops == 30  # 25 sort keys in calls of 10, 10, 5
    assert plans[1].planned_s == 2.0 and plans[1].ramp == {"from": 10.0, "over": 1.0}
    assert plans[2].planned_s is None and plans[2].ops == 500
