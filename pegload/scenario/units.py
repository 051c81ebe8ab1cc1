"""Durations, sizes and rates as they appear in scenario files and on the command line.

Durations: a number of seconds (``30``, ``0.5``) or a number with a unit: ``500ms``, ``30s``,
``2m``, ``1h`` (also ``us``/``µs``). Sizes: a number of bytes (``100``) or ``4KiB``/``1MiB``
(powers of 1024) or ``4KB``/``1MB`` (powers of 1000), ``B`` allowed. Each parser raises
``ValueError`` with a message that says what was expected.
"""
from __future__ import annotations

import math
import re

from .errors import excerpt

_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_NUM_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Zµ]*)\s*$")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_duration(value) -> float:
    """Seconds as a float, from ``30``, ``2.5``, ``"500ms"``, ``"2m"``..."""
    if _is_number(value):
        seconds = float(value)
    elif isinstance(value, str):
        match = _NUM_UNIT.match(value)
        unit = match.group(2) if match else ""
        if not match or (unit and unit not in _DURATION_UNITS):
            raise ValueError(f"expected a duration like 30, 30s, 500ms, 2m or 1h, got {value!r}")
        seconds = float(match.group(1)) * (_DURATION_UNITS[unit] if unit else 1.0)
    else:
        raise ValueError(f"expected a duration like 30, 30s, 500ms, 2m or 1h, got {describe(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return seconds


def parse_size(value) -> int:
    """Bytes as an int, from ``100``, ``"4KiB"``, ``"1MB"``..."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _NUM_UNIT.match(value)
        unit = match.group(2).lower() if match else ""
        if match and (not unit or unit in _SIZE_UNITS):
            size = float(match.group(1)) * (_SIZE_UNITS[unit] if unit else 1)
            if size == int(size):
                return int(size)
    raise ValueError(f"expected a size in bytes like 100, 4KiB or 1MB, got {describe(value)}")


def describe(value) -> str:
    """A value and its YAML type for error messages: "'abc' (a string)"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value:g} (a number)"
    if isinstance(value, str):
        return f"{excerpt(repr(value))} (a string)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{excerpt(repr(value))} ({type(value).__name__})"
