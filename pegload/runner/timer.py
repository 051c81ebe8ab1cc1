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


def strategy(environ=os.environ) -> Strategy:
    name = environ.get(ENV, "") or DEFAULT
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"{ENV}={name!r}: expected one of {', '.join(STRATEGIES)}") from None


def configure(environ=os.environ) -> Strategy:
    """Pick the strategy (before the hub exists): sets gevent's libev backend list."""
    global _active
    _active = strategy(environ)
    if _active.backend is not None and not environ.get("GEVENT_BACKEND"):
        import gevent

        gevent.config.libev_backend = _active.backend
    return _active


def active() -> Strategy:
    return _active


def describe() -> str:
    """What runs, e.g. ``linux_iouring`` or ``select (precise)``: the backend libev chose, and the
    strategy's name when the backend alone does not say it."""
    import gevent

    backend = getattr(gevent.get_hub().loop, "backend", "?")
    wanted = _active.backend.split(",")[0] if _active.backend else None
    name = f"{backend}"
    if _active.spin_us:
        name += f"+spin{_active.spin_us}us"
    if wanted is not None and backend != wanted:
        name += f" ({wanted} refused)"
    return name


def make_waiter(stop, spin_us: int | None = None):
    """``wait(due_ns) -> stopped?``: block the calling greenlet until ``perf_counter_ns()`` reaches
    ``due_ns`` or ``stop`` (a gevent Event) is set. Never returns early: a timer that fires before
    the slot (libev's cached clock, rounding) is waited again."""
    spin_ns = (_active.spin_us if spin_us is None else spin_us) * 1000
    perf_ns = time.perf_counter_ns
    stop_wait = stop.wait
    is_set = stop.is_set

    def wait(due_ns: int) -> bool:
        while True:
            remaining = due_ns - perf_ns()
            if remaining <= spin_ns:
                break
            # Event.wait arms its timer after refreshing libev's clock (update=True)
            if stop_wait((remaining - spin_ns) * 1e-9):
                return True
        if spin_ns:
            while perf_ns() < due_ns:
                pass
        return is_set()

    return wait
