"""A main-job-like run on the onebox: every worker reports the timer strategy it paced with, the
per-interval pacing figures (behind, retries), and PhaseDone's plan figures agree with the one
schedule owner (slots, arrivals), also for Poisson arrivals and another strategy."""
import pytest

from pegload.coordinator.phases import phase_plans
from pegload.coordinator.session import RunSession
from pegload.runner.protocol import PhaseDone
from pegload.scenario import Target, load_scenario_text

pytestmark = pytest.mark.integration

SCENARIO = """\
workers: 2
concurrency: 16
timeout_ms: 1000
data: {hash_keys: 200, sort_keys: 10, value_size: 100}
load: {batch: 10}
phases:
  - name: run
    warmup: 0.5s
    duration: 2s
    rate: 1000
    keys: {distribution: zipfian, theta: 0.99}
    mix: {get: 95, set: 5}
  - name: bursts
    duration: 1s
    rate: 600
    arrivals: poisson
    mix: {get: 1}
"""


def run_session(onebox, worker_env=None):
    sc = load_scenario_text(SCENARIO, "pacing.yaml")
    target = Target(name="onebox", meta=tuple(onebox.meta_addrs), table="temp")
    session = RunSession(sc, target, worker_env=worker_env)
    result = session.execute()
    assert result.status.exit_code == 0
    return sc, {st.plan.name: st for st in session.phases}


@pytest.fixture(scope="module")
def private_onebox():
    """Its own onebox: the load phase writes keys other tests may use."""
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}) as ob:
        yield ob


def test_main_job_like_run_reports_its_timer_and_keeps_the_plan(private_onebox):
    sc, phases = run_session(private_onebox)
    plans = {p.name: p for p in phase_plans(sc)}
    for name in ("run", "bursts"):
        st = phases[name]
        samples = [s for w in (0, 1) for s in st.samples[w]]
        assert samples
        # the default strategy: io_uring where the kernel allows it, select otherwise
        assert {s["timer"] for s in samples} <= {"linux_iouring", "select (linux_iouring refused)"}
        for s in samples:
            assert s["behind"] >= 0 and s["behind_wait_us"] >= 0
            assert isinstance(s["retries"], dict) and s["reconnects"] >= 0
            assert s["loop_lag_max_ms"] >= s["loop_lag_mean_ms"] >= 0
        done: dict[int, PhaseDone] = st.done
        assert sum(d.slots for d in done.values()) == plans[name].measured_slots
        assert sum(sum(d.sent.values()) for d in done.values()) == plans[name].measured_slots
        assert all(d.dropped == 0 for d in done.values())
    assert {d.arrivals for d in phases["run"].done.values()} == {"uniform"}
    assert {d.arrivals for d in phases["bursts"].done.values()} == {"poisson"}


def test_the_strategy_is_chosen_by_the_environment(private_onebox):
    _, phases = run_session(private_onebox, worker_env={"PEGLOAD_TIMER": "epoll"})
    assert {s["timer"] for w in (0, 1) for s in phases["run"].samples[w]} == {"epoll"}


RAMPED = """\
workers: 2
concurrency: 8
load: false
data: {hash_keys: 200, sort_keys: 10}
phases:
  - name: ramped
    ops: 3000
    rate: 1000
    ramp: {from: 100, over: 4s}
    mix: {get: 1}
"""


def test_ops_plus_ramp_runs_as_long_as_its_plan_says(private_onebox):
    # 2,200 ops during the ramp (4 s), 800 more at 1,000/s: 4.8 s, where ops / rate says 3 s
    sc = load_scenario_text(RAMPED, "ramped.yaml")
    plan = phase_plans(sc)[0]
    assert plan.planned_s == pytest.approx(4.8, abs=0.01)
    session = RunSession(sc, Target(name="onebox", meta=tuple(private_onebox.meta_addrs), table="temp"))
    result = session.execute()
    assert result.status.exit_code == 0
    st = session.phases[0]
    span = session.acc.phase_spans["ramped"]
    assert span[1] - span[0] == pytest.approx(plan.planned_s, abs=0.5)
    assert sum(sum(d.sent.values()) for d in st.done.values()) == 3000
    assert not [r for r in result.validity.reasons if "schedule" in str(r)], result.validity.reasons
