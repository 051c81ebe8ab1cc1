"""The onebox process's event-loop backend: chosen before gevent's hub exists.

Injected reply delays are timers, and libev's default backend here (epoll) takes its wait in
whole milliseconds, so a 0.25 ms timer sleeps ~1.1 ms and every sub-ms or fractional delay is
rounded up. libev's io_uring backend waits with a nanosecond timeout (measured: a 0.25 ms timer
oversleeps 33 us p50 against 849 us with epoll); where the kernel refuses io_uring (old kernels,
seccomp), libev falls back to the next backend listed, select, whose timeout is in microseconds.
``GEVENT_BACKEND`` set by the user wins over this choice.
"""
from __future__ import annotations

import os

PREFERRED_BACKENDS = "linux_iouring,select"


def choose_backend() -> None:
    """Call before anything creates gevent's hub (i.e. before the first gevent I/O or sleep)."""
    if os.environ.get("GEVENT_BACKEND"):
        return
    import gevent

    gevent.config.libev_backend = PREFERRED_BACKENDS


def backend_name() -> str:
    import gevent

    return str(getattr(gevent.get_hub().loop, "backend", "unknown"))
