"""The onebox process's event-loop backend: chosen before gevent's hub exists.

Injected reply delays are timers, and libev's default backend here (epoll) waits in whole
milliseconds, so a 0.25 ms timer sleeps ~1.1 ms and every sub-ms or fractional delay is rounded
up. libev's select backend waits with a microsecond timeout (measured on the development machine:
a 0.25 ms timer oversleeps 83 us p50, against 849 us with epoll). Its per-poll cost grows with the
number of connections, which for a onebox on loopback stays in the tens to hundreds.

libev's io_uring backend is more precise still (33 us) but not usable: under connection churn
(the close_fraction fault) it aborted the whole process with "libev: io_uring_enter did not consume
all sqes" (gevent 26.9.0's bundled libev). ``GEVENT_BACKEND`` set by the user wins over this choice.

Linux also lets a sleeping thread's timer fire up to its "timer slack" late (50 us by default);
the onebox asks for 1 us, which halves select's oversleep (83 -> 40 us p50 for a 0.25 ms timer).
"""
from __future__ import annotations

import os
import sys

PREFERRED_BACKEND = "select"
PR_SET_TIMERSLACK = 29  # linux/prctl.h
TIMER_SLACK_NS = 1000


def choose_backend() -> None:
    """Call before anything creates gevent's hub (i.e. before the first gevent I/O or sleep)."""
    _reduce_timer_slack()
    if os.environ.get("GEVENT_BACKEND"):
        return
    import gevent

    gevent.config.libev_backend = PREFERRED_BACKEND


def backend_name() -> str:
    import gevent

    return str(getattr(gevent.get_hub().loop, "backend", "unknown"))


def _reduce_timer_slack() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # precision is a goal, not a precondition
