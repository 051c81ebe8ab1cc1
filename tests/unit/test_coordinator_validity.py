"""The self-check verdict: each rule that makes a run not valid, and the quiet case."""
import textwrap

from pegload.coordinator.phases import LOAD_PHASE_INDEX, load_calls, phase_plans
from pegload.coordinator.validity import PhaseCheck, judge_run, worker_summary
from pegload.scenario import load_scenario_text


def sample(cpu=0.3, lag=1.0, gc=0.5, wall=1.0):
    return {"cpu": cpu, "wall_s": wall, "loop_lag_max_ms": lag, "loop_lag_mean_ms": lag / 2,
            "gc_pause_total_ms": gc, "gc_pause_max_ms": gc, "gc_collections": 1}


def check(**kw):
    base = dict(name="run", sent=1000, recorded=1000, samples={0: [sample()] * 3, 1: [sample()] * 3})
    base.update(kw)
    return PhaseCheck(**base)


def test_a_healthy_run_is_valid_and_reports_its_self_check():
    validity, section = judge_run([check(open_loop=True, target_rate=500, lateness_p99_us=1500)])
    assert validity.valid and validity.reasons == ()
    workers = section["phases"]["run"]["workers"]
    assert set(workers) == {"0", "1"} and workers["0"]["cpu_mean"] == 0.3
    assert section["limits"]["cpu"] == 0.9


def test_cpu_mean_is_wall_weighted():
    s = worker_summary([sample(cpu=1.0, wall=1.0), sample(cpu=0.0, wall=3.0)])
    assert s["cpu_mean"] == 0.25 and s["cpu_max"] == 1.0 and s["intervals"] == 2


def test_saturated_worker_cpu_makes_the_run_not_valid():
    validity, _ = judge_run([check(samples={0: [sample(cpu=0.97)] * 4, 1: [sample()] * 4})])
    assert not validity.valid
    assert len(validity.reasons) == 1 and "worker 0 used 97% of a core" in validity.reasons[0]


def test_blocked_event_loop():
    validity, _ = judge_run([check(samples={0: [sample(lag=250.0)]})])
    assert not validity.valid and "blocked for 250 ms" in validity.reasons[0]


def test_open_loop_lateness_and_shortfall():
    validity, _ = judge_run([check(open_loop=True, target_rate=1000, lateness_p99_us=25_000,
                                   sent=900, recorded=900, dropped=100)])
    text = "\n".join(validity.reasons)
    assert "pacing lateness p99 25.0 ms" in text and "100 of 1,000 scheduled ops never started" in text


def test_drops_after_a_stop_request_are_not_a_shortfall():
    validity, _ = judge_run([check(open_loop=True, target_rate=1000, dropped=500, stopped_early=True)])
    assert validity.valid


def test_op_count_phase_that_took_far_longer_than_its_schedule():
    validity, _ = judge_run([check(open_loop=True, target_rate=100, planned_ops=1000, planned_s=10.0, measured_s=15.0)])
    assert not validity.valid and "took 15.0 s" in validity.reasons[0]
    validity, _ = judge_run([check(open_loop=True, target_rate=100, planned_ops=1000, measured_s=10.4)])
    assert validity.valid


def test_sent_and_recorded_must_match():
    validity, _ = judge_run([check(sent=1000, recorded=998)])
    assert not validity.valid and "sent 1,000 ops but 998 were recorded" in validity.reasons[0]


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
