"""The one way pegload prints a fraction as a percentage (terminal, report.html, compare, check,
validity reasons). ``report/assets/report.js`` mirrors it as ``fmtPct`` for the HTML page; a
test runs both over the same values.

Rules: three significant digits without an exponent at every magnitude (``0.5`` -> ``50%``,
``0.001234`` -> ``0.123%``, ``12.5`` -> ``1,250%``); exactly 0 and exactly 1 print as ``0%`` and
``100%``; a non-zero value that would round to 0 or to 100 says so (``<0.01%``, ``>99.99%``) so
that a few errors never read as none and almost all never as all.
"""
from __future__ import annotations

import math

SMALLEST = 0.0001  # 0.01%: below it (and above 0), "<0.01%"


def format_percent(fraction: float | None, *, signed: bool = False, unit: str = "%") -> str:
    """``fraction`` (1.0 = 100%) as text; ``signed`` adds ``+`` to changes; ``unit=" pp"`` for
    percentage points. ``None`` -> ``-``, NaN -> ``n/a``."""
    if fraction is None:
        return "-"
    if math.isnan(fraction):
        return "n/a"
    sign = "-" if fraction < 0 else ("+" if signed else "")
    f = abs(fraction)
    if math.isinf(f):
        return f"{sign}inf{unit}"
    if f == 0:
        return f"0{unit}"
    if f < SMALLEST:
        return f"{sign}<0.01{unit}"
    if 1 - SMALLEST < f < 1:
        return f"{sign}>99.99{unit}"
    pct = f * 100
    if pct >= 100:
        return f"{sign}{pct:,.0f}{unit}"
    digits = max(0, 2 - math.floor(math.log10(pct)))  # three significant digits
    text = f"{pct:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "100":  # 99.96% rounds up: keep saying it is not all
        return f"{sign}>99.9{unit}"
    return f"{sign}{text}{unit}"
