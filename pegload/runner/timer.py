"""How a worker waits for an open-loop slot: the event-loop backend and the last microseconds.

Lateness (slot to send) starts with the event loop's timer precision. libev's epoll and poll
backends, gevent's default on Linux, take their timeout in whole milliseconds and round it up, so
a 300 µs wait oversleeps by ~0.8 ms; select waits in microseconds (~90 µs late here) and io_uring
in nanoseconds (~40 µs). A worker therefore asks libev for io_uring with select as the fallback
(libev tries them in that order; a kernel or sandbox that refuses io_uring_setup gets select).

A strategy is a backend list plus an optional final spin: the greenlet sleeps until ``spin_us``
before its slot and busy-waits the rest, trading that much CPU per op for the timer's oversleep.
Chosen with ``PEGLOAD_TIMER`` (default ``precise``); ``bench/pacing.py`` measures them all.
An explicit ``GEVENT_BACKEND`` in the environment wins over the strategy's backend list.

``configure()`` must run before gevent's hub exists (``python -m pegload.runner`` calls it before
monkeypatching); ``describe()`` names what actually runs, for ``selfcheck["timer"]``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

ENV = "PEGLOAD_TIMER"


@dataclass(frozen=True)
class Strategy:
    name: str
    backend: str | None  # libev backend list, tried in libev's order; None = gevent's default
    spin_us: int = 0  # busy-wait this long before a slot instead of trusting the timer


STRATEGIES = {s.name: s for s in (
    Strategy("precise", "linux_iouring,select", spin_us=0),
    Strategy("precise+spin", "linux_iouring,select", spin_us=60),
    Strategy("select", "select"),
    Strategy("epoll", None),  # gevent's default backend: the strategy before issue 8
)}
DEFAULT = "precise"

_active: Strategy = STRATEGIES[DEFAULT]
_backend_from_env = False  # GEVENT_BACKEND chose the backend, not the strategy


def strategy(environ=os.environ) -> Strategy:
    name = environ.get(ENV, "") or DEFAULT
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"{ENV}={name!r}: expected one of {', '.join(STRATEGIES)}") from None


def configure(environ=os.environ) -> Strategy:
    """Pick the strategy (before the hub exists): sets gevent's libev backend list."""
    global _active, _backend_from_env
    _active = strategy(environ)
    _backend_from_env = bool(environ.get("GEVENT_BACKEND"))
    if _active.backend is not None and not _backend_from_env:
        import gevent

        gevent.config.libev_backend = _active.backend
    return _active


def active() -> Strategy:
    return _active


def describe() -> str:
    """What runs: the backend libev chose (``linux_iouring``, ``select``, ``epoll``), with the
    final spin if any, and why it is not the strategy's first choice when it is not
    (``select (linux_iouring refused)``, ``poll (GEVENT_BACKEND)``)."""
    import gevent

    backend = getattr(gevent.get_hub().loop, "backend", "?")
    wanted = _active.backend.split(",")[0] if _active.backend else None
    name = f"{backend}"
    if _active.spin_us:
        name += f"+spin{_active.spin_us}us"
    if _backend_from_env:
        name += " (GEVENT_BACKEND)"
    elif wanted is not None and backend != wanted:
        name += f" ({wanted} refused)"
    return name


class SlotWaiter:
    """``waiter(due_ns) -> stopped?`` blocks the calling greenlet until ``perf_counter_ns()``
    reaches ``due_ns``; ``waiter.stop()`` wakes every greenlet waiting (they return True) and
    makes later waits return True at once. Never returns early: a timer that fires before the
    slot (rounding, libev's cached clock) is waited again.

    A bare libev timer that switches straight back to the greenlet: an ``Event.wait(timeout)``
    costs an Event link and a Timeout exception thrown into the greenlet per wait (measured here
    at 2,000 slots/s: 30% more CPU and twice the median oversleep)."""

    def __init__(self, spin_us: int | None = None) -> None:
        import gevent

        self._hub = gevent.get_hub()
        self._loop = self._hub.loop
        self._spin_ns = (_active.spin_us if spin_us is None else spin_us) * 1000
        self._waiting: dict = {}  # greenlet -> the token of the wait it is in
        self.stopped = False

    def __call__(self, due_ns: int) -> bool:
        from gevent import getcurrent

        perf_ns, spin_ns, loop, hub = time.perf_counter_ns, self._spin_ns, self._loop, self._hub
        g = getcurrent()
        while not self.stopped:
            remaining = due_ns - perf_ns()
            if remaining <= spin_ns:
                while perf_ns() < due_ns:  # the final spin, if any
                    pass
                return self.stopped
            t = loop.timer((remaining - spin_ns) * 1e-9)
            token = object()
            self._waiting[g] = token
            try:
                t.start(g.switch, update=True)  # against a fresh clock, not the last loop turn's
                hub.switch()
            finally:
                t.stop()
                t.close()
                del self._waiting[g]
        return True

    def stop(self) -> None:
        self.stopped = True
        for g, token in list(self._waiting.items()):
            self._loop.run_callback(self._wake, g, token)

    def _wake(self, g, token) -> None:
        if self._waiting.get(g) is token:  # still in the same wait (not already woken by its timer)
            g.switch()
