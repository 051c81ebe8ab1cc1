"""The slot wait: never before the slot, woken by stop, strategies named by PEGLOAD_TIMER."""
import time

import gevent
import gevent.event
import pytest
from pegload.runner.timer import STRATEGIES, SlotWaiter

from pegload.runner import timer


def test_a_slot_wait_never_returns_before_the_slot():
    wait = SlotWaiter(spin_us=0)
    early = []

    def one(k):
        for i in range(20):
            due = time.perf_counter_ns() + (k * 37 + i * 113) % 700 * 1000
            assert wait(due) is False
            early.append(due - time.perf_counter_ns())

    gevent.joinall([gevent.spawn(one, k) for k in range(8)], raise_error=True)
    assert len(early) == 160 and max(early) <= 0


def test_the_final_spin_also_ends_at_the_slot():
    wait = SlotWaiter(spin_us=200)
    for _ in range(10):
        due = time.perf_counter_ns() + 500_000
        assert wait(due) is False and time.perf_counter_ns() >= due


def test_stop_wakes_every_waiting_greenlet_and_later_waits_return_at_once():
    wait = SlotWaiter(spin_us=0)
    far = time.perf_counter_ns() + 60 * 10**9
    results = []
    greenlets = [gevent.spawn(lambda: results.append(wait(far))) for _ in range(5)]
    gevent.sleep(0.01)
    assert results == []
    t = time.perf_counter()
    wait.stop()
    gevent.joinall(greenlets, timeout=5)
    assert results == [True] * 5 and time.perf_counter() - t < 5
    assert wait(far) is True


def test_a_stop_after_the_timer_fired_does_not_wake_the_greenlet_elsewhere():
    # the stop callback must not switch into a greenlet that has left its wait (e.g. it is now
    # blocked on a socket): here it waits on an event that only the test sets
    wait = SlotWaiter(spin_us=0)
    ev = gevent.event.Event()
    out = []

    def body():
        out.append(wait(time.perf_counter_ns() + 1_000_000))
        out.append(ev.wait(5))

    g = gevent.spawn(body)
    gevent.sleep(0.05)
    wait.stop()
    gevent.sleep(0.05)
    assert out == [False]  # still in ev.wait, not woken by the stop
    ev.set()
    g.join()
    assert out == [False, True]


def test_strategies_by_name():
    assert timer.strategy({}).name == timer.DEFAULT == "precise"
    assert STRATEGIES["precise"].backend == "linux_iouring,select"
    assert timer.strategy({"PEGLOAD_TIMER": "epoll"}).backend is None
    assert timer.strategy({"PEGLOAD_TIMER": "precise+spin"}).spin_us > 0
    with pytest.raises(ValueError, match="PEGLOAD_TIMER='fast'.*precise"):
        timer.strategy({"PEGLOAD_TIMER": "fast"})


DESCRIBE = """\
from pegload.runner import timer
timer.configure()
from gevent import monkey; monkey.patch_all()
print(timer.describe())
"""


def describe_in_child(env=None, prefix=()):
    import os
    import subprocess
    import sys

    out = subprocess.run([*prefix, sys.executable, "-c", DESCRIBE], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **(env or {})})
    return out.returncode, out.stdout.strip(), out.stderr


def test_a_worker_names_the_backend_libev_chose():
    assert describe_in_child({"PEGLOAD_TIMER": "epoll"})[1] == "epoll"
    assert describe_in_child({"PEGLOAD_TIMER": "select"})[1] == "select"
    assert describe_in_child({"PEGLOAD_TIMER": "precise", "GEVENT_BACKEND": "poll"})[1] == "poll (GEVENT_BACKEND)"
    assert describe_in_child({"PEGLOAD_TIMER": "precise"})[1] in ("linux_iouring", "select (linux_iouring refused)")


def test_select_is_the_fallback_where_io_uring_is_refused():
    import shutil

    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (it injects the io_uring_setup failure)")
    code, out, err = describe_in_child({"PEGLOAD_TIMER": "precise"}, prefix=(
        "strace", "-f", "-o", "/dev/null", "-e", "trace=io_uring_setup", "-e", "inject=io_uring_setup:error=EPERM"))
    if code != 0 and "ptrace" in err:
        pytest.skip(f"strace cannot trace here: {err.strip()[:200]}")
    assert out == "select (linux_iouring refused)", err
