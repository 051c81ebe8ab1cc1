"""The worker's self-check: loop lag read against a known stall, behind counters, client retry
deltas per interval, the timer strategy's name."""
import time

import gevent

from pegload.runner.selfcheck import LAG_PROBE_PERIOD_S, SelfCheck


class FakeCounters:
    def __init__(self):
        self.retries, self.reconnects = {}, 0

    def snapshot(self):
        return {"retries": {op: dict(c) for op, c in self.retries.items()}, "reconnects": self.reconnects}


def block_loop(ms: float) -> None:
    """Hold the event loop without yielding (what a long GC pause or a blocking call does)."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def test_loop_lag_reads_the_whole_length_of_a_known_stall():
    sc = SelfCheck()
    sc.start()
    try:
        gevent.sleep(0.02)
        sc.take()
        lags = []
        for _ in range(3):
            # the former 50 ms greenlet probe read a stall from its own due time on: on average half
            gevent.sleep(0.01)
            block_loop(30)
            gevent.sleep(0.01)
            lags.append(sc.take()["loop_lag_max_ms"])
        assert all(lag >= 30 - LAG_PROBE_PERIOD_S * 1000 for lag in lags), lags
    finally:
        sc.stop()


def test_idle_loop_lag_is_small_and_the_probe_stops():
    sc = SelfCheck()
    sc.start()
    gevent.sleep(0.05)
    out = sc.take()
    assert out["loop_lag_mean_ms"] < out["loop_lag_max_ms"] + 1e-9
    sc.stop()
    block_loop(20)
    gevent.sleep(0.01)
    assert sc.take()["loop_lag_max_ms"] == 0  # no probe ran after stop()


def test_behind_counters_and_timer_name_reset_per_interval():
    sc = SelfCheck(timer="linux_iouring")
    sc.record_behind(1_500_000)
    sc.record_behind(250_000)
    first = sc.take()
    assert (first["behind"], first["behind_wait_us"], first["timer"]) == (2, 1750, "linux_iouring")
    assert (sc.take()["behind"], sc.take()["behind_wait_us"]) == (0, 0)


def test_retry_deltas_come_from_the_client_counters():
    counters = FakeCounters()
    counters.retries = {"get": {"busy": 2, "timeout": 0, "reset": 0, "route": 0}}
    counters.reconnects = 1
    sc = SelfCheck(counters=counters)  # what happened before the self-check existed is not counted
    counters.retries["get"]["busy"] += 3
    counters.retries["set"] = {"busy": 0, "timeout": 0, "reset": 1, "route": 2}
    counters.reconnects += 2
    out = sc.take()
    assert out["retries"] == {"get": {"busy": 3}, "set": {"reset": 1, "route": 2}} and out["reconnects"] == 2
    again = sc.take()
    assert again["retries"] == {} and again["reconnects"] == 0
    assert SelfCheck().take()["retries"] == {}  # no counter source: nothing to report
