"""The plan a worker receives: the coordinator's validated Scenario itself, not text to parse."""
import os

import pytest

import pegload.scenario.build
import pegload.scenario.load
from pegload.runner.protocol import FrameReader, Plan, encode
from pegload.scenario import load_scenario

SCENARIOS = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios")


@pytest.mark.parametrize("name", ["mixed.yaml", "ycsb-e.yaml"])
def test_the_worker_gets_the_same_typed_scenario_without_validating_it_again(name, monkeypatch):
    scenario = load_scenario(os.path.join(SCENARIOS, name), {"workers": 3, "rate": 500})
    plan = Plan.of(scenario, ["127.0.0.1:34601"], "temp")

    def no_second_validation(*args, **kwargs):
        raise AssertionError("the worker validated the scenario again")

    for module in (pegload.scenario.build, pegload.scenario.load):
        monkeypatch.setattr(module, "build_scenario", no_second_validation)
    (received,) = FrameReader().feed(encode(plan))
    assert received == plan
    assert received.scenario() == scenario
    assert (received.meta_addrs, received.table, received.timeout_ms) == (["127.0.0.1:34601"], "temp",
                                                                         scenario.timeout_ms)


class _Forged:
    """Pickles as a call of os.getpid: what a peer posing as the coordinator might send."""

    def __reduce__(self):
        return (os.getpid, ())


def test_a_plan_that_names_anything_but_a_scenario_type_is_refused_unread():
    from pegload.runner.protocol import ProtocolError

    forged = Plan(["127.0.0.1:34601"], "temp", 1000, 1.0, __import__("pickle").dumps(_Forged()))
    (received,) = FrameReader().feed(encode(forged))
    with pytest.raises(ProtocolError, match="posix.getpid|os.getpid"):
        received.scenario()
