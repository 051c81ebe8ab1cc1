"""The live progress display: one line per second, rewritten in place on a terminal.

The line itself comes from :func:`pegload.report.progress_line` (ops/s, p50/p99 per op, errors
from the latest merged interval); this module only decides when and how to show it. On a
terminal the line is redrawn in place every second; in a log file (not a TTY) a line is
appended every ``log_every_s`` seconds so CI logs stay readable.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from pegload.metrics import RunAccumulator
from pegload.report import progress_line
from pegload.report.terminal import format_clock


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False, log_every_s: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = 1.0 if self.tty else log_every_s
        self._next = 0.0
        self._drawn = False

    def say(self, text: str) -> None:
        """An informational line (phase start, target header); hidden when ``quiet`` (use
        :meth:`warn` for problems). Ends any in-place progress line first."""
        if self.quiet:
            return
        self._end_line()
        print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """Always shown, quiet or not: something the user must know."""
        self._end_line()
        print(text, file=self.stream, flush=True)

    def tick(self, acc: RunAccumulator, phase: str, elapsed_s: float, total_s: float | None,
             warming_up: bool = False, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.every_s
        latest = acc.latest()
        if warming_up or latest is None or latest.phase != phase:
            clock = format_clock(elapsed_s) + (f"/{format_clock(total_s)}" if total_s else "")
            line = f"{phase} {clock} " + ("warming up (not measured)" if warming_up else "starting")
        else:
            line = self.measured_line(acc, elapsed_s, total_s, phase)
        line = self.decorate(line)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def measured_line(self, acc: RunAccumulator, elapsed_s: float, total_s: float | None, phase: str) -> str:
        """The line once the phase has a measured interval (a subclass adds its own figures)."""
        return progress_line(acc, elapsed_s, total_s, phase)

    def decorate(self, line: str) -> str:
        """The whole line as drawn (a subclass may prefix its context)."""
        return line

    def _end_line(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False

    def done(self) -> None:
        if not self.quiet:
            self._end_line()
            self.stream.flush()
