"""Fault rules and per-request decisions."""
import random

import pytest

from pegload.onebox.faults import BUSY, CLOSE, DROP, SERVE, FaultError, Faults


class Clock:
    t = 100.0

    def __call__(self):
        return self.t


def test_no_rules_is_inactive_and_serves():
    f = Faults(random.Random(1))
    assert not f.active
    assert f.decide(0, (1, 0)) == (SERVE, 0.0)


def test_fractions_are_exact_marginals():
    f = Faults(random.Random(7))
    f.set(busy_fraction=0.2, drop_fraction=0.1, close_fraction=0.05)
    n = 20000
    counts = {SERVE: 0, BUSY: 0, DROP: 0, CLOSE: 0}
    for _ in range(n):
        counts[f.decide(0, None)[0]] += 1
    assert abs(counts[BUSY] / n - 0.2) < 0.015
    assert abs(counts[DROP] / n - 0.1) < 0.01
    assert abs(counts[CLOSE] / n - 0.05) < 0.01


def test_scopes_add_delays_and_take_the_largest_fraction():
    f = Faults(random.Random(3))
    f.set(delay_ms=1)
    f.set(replica=2, delay_ms=10, busy_fraction=1.0)
    f.set(partition=(1, 5), delay_ms=100)
    assert f.decide(0, (1, 0)) == (SERVE, 0.001)
    assert f.decide(2, (1, 0)) == (BUSY, 0.011)
    assert f.decide(0, (1, 5)) == (SERVE, pytest.approx(0.101))
    assert f.decide(2, (1, 5)) == (BUSY, pytest.approx(0.111))


def test_setting_back_to_zero_deactivates():
    f = Faults()
    f.set(replica=1, drop_fraction=0.5)
    assert f.active
    f.set(replica=1, drop_fraction=0)
    assert not f.active and f.by_replica == {}
    f.set(partition=(1, 1), delay_ms=5)
    f.clear()
    assert not f.active


@pytest.mark.parametrize("kw, msg", [
    ({"busy_fraction": 1.5}, "within 0..1"), ({"delay_ms": -1}, "delay_ms"),
    ({"busy_fraction": 0.6, "drop_fraction": 0.6}, "must not exceed 1"),
    ({"latency": 3}, "unknown fault setting"), ({"delay_ms": "x"}, "must be a number"),
])
def test_validation_leaves_state_unchanged(kw, msg):
    f = Faults()
    with pytest.raises(FaultError, match=msg):
        f.set(**kw)
    assert not f.active


def test_stall_per_replica():
    clock = Clock()
    f = Faults(clock=clock)
    f.stall([0, 2], 1.5)
    assert f.stall_remaining(0) == 1.5 and f.stall_remaining(1) == 0.0
    clock.t += 1.0
    assert f.stall_remaining(2) == pytest.approx(0.5)
    clock.t += 1.0
    assert f.stall_remaining(0) == 0.0 and f.stalled_until == {2: 101.5}
    with pytest.raises(FaultError):
        f.stall([0], -1)
