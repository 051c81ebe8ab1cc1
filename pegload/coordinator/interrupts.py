"""Ctrl-C as a request, not an exception: the first SIGINT asks the run to stop after writing
what it measured; a second one stops waiting for workers and kills them.

The coordinator's loop polls :attr:`Interrupts.count` between short waits, so a SIGINT never
lands in the middle of merging a histogram or writing a report.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class Interrupts:
    """Counts SIGINTs (and SIGTERMs) while installed; restores the previous handlers on exit."""

    def __init__(self) -> None:
        self.count = 0
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.count > 0

    @property
    def forced(self) -> bool:
        return self.count > 1
