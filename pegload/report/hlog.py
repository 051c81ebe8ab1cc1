"""``.hlog``: the HdrHistogram interval log (format version 1.3, tagged lines), written here
because the hdrh package's writer cannot write a start time or tags.

One line per closed interval, op and latency kind, tagged ``phase/op/kind``, timestamps in
seconds relative to ``BaseTime`` (the run start), ``Interval_Max`` in milliseconds, the payload
the standard base64 V2 compressed histogram in µs. Java's ``HistogramLogProcessor -tag
run/get/response -outputValueUnitRatio 1000`` prints it in milliseconds.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TextIO

from pegload import __version__
from pegload.metrics import KINDS, IntervalStats

FORMAT_VERSION = "1.3"
MAX_VALUE_UNIT_RATIO = 1000.0  # Interval_Max column in ms
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
_TAG_DELIMITERS = re.compile(r"[,\s]")  # the Java writer refuses commas, spaces and line breaks


def tag(phase: str, op: str, kind: str) -> str:
    return _TAG_DELIMITERS.sub("_", f"{phase}/{op}/{kind}")


def write_hlog(out: TextIO, intervals: Iterable[IntervalStats], base_time: float) -> int:
    """Write the header and one tagged line per (interval, op, kind); returns the line count."""
    stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(base_time))
    out.write(f"#pegload {__version__}: latencies in microseconds, tags are phase/op/kind\n")
    out.write(f"#[Histogram log format version {FORMAT_VERSION}]\n")
    out.write(f"#[StartTime: {base_time:.3f} (seconds since epoch), {stamp}]\n")
    out.write(f"#[BaseTime: {base_time:.3f} (seconds since epoch)]\n")
    out.write(LEGEND + "\n")
    lines = 0
    for s in sorted(intervals, key=lambda s: (s.t_start, s.phase)):
        start = max(s.t_start - base_time, 0.0)
        for op, o in s.ops.items():
            for kind in KINDS:
                k = o.kinds.get(kind)
                if k is None:
                    continue
                out.write(f"Tag={tag(s.phase, op, kind)},{start:.3f},{s.duration:.3f},"
                          f"{k.max / MAX_VALUE_UNIT_RATIO:.3f},{k.encoded}\n")
                lines += 1
    return lines
