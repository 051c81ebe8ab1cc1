"""Threshold (SLO) expressions: parsed here, evaluated by the report/gate code.

Used by scenario files (``thresholds:`` at the top level or in a phase) and by the CI gate
(``pegload check --slo 'get.p99<5ms,errors<0.1%'``). One grammar for both.

Grammar (whitespace is allowed between all tokens)::

    list       := threshold ( "," threshold )*
    threshold  := subject comparator quantity
    subject    := [ op "." ] [ kind "." ] metric
    op         := "all" | an operation name (set, get, multi_get, ... see pegload.scenario.ops)
    kind       := "response" | "service" | "lateness"      latency kind; default "response"
    metric     := "p50" | "p90" | "p99" | "p999" | "p99.9" | "max" | "mean"
                | "throughput" | "errors" | "verify_errors"
    comparator := "<" | "<=" | ">" | ">="
    quantity   := number [ unit ]

Meaning and units:

- latency metrics (p50 ... mean) need a time unit: ``us`` (or ``µs``), ``ms``, ``s``; the value is
  kept in microseconds. ``p99.9`` is another spelling of ``p999``. ``kind`` picks the latency:
  ``response`` (from the intended start; coordinated-omission corrected in open loop),
  ``service`` (send to reply) or ``lateness`` (pacing: actual minus intended start).
- ``throughput``: ops/s, written bare or with ``/s`` or ``ops/s``.
- ``errors`` / ``verify_errors`` with ``%``: a rate (errors / ops), kept as a fraction
  (``0.1%`` -> 0.001) and the metric becomes ``error_rate`` / ``verify_error_rate``;
  without a unit: an absolute count (``errors < 10``) and the metric stays ``errors`` /
  ``verify_errors``.
- ``op`` omitted or ``all``: every operation of the phase (or run) together.

Recovery after the scenario's events (``events:``)::

    threshold  := "recovery." ( "p99" | "errors" ) comparator number time-unit

``recovery.p99 < 5s``: after every event of the scope (a phase's own threshold: that phase's
events), the per-interval p99 is back under its limit within 5 s; ``recovery.errors`` the same
for the per-interval error rate (see docs/reports.md, Recovery). The value is kept in seconds
(metric ``recovery_p99`` / ``recovery_errors``, op ``recovery``).

Examples: ``get.p99 < 5ms``, ``all.service.p999 <= 20ms``, ``errors < 0.1%``,
``throughput > 1000``, ``multi_get.p50 < 800us``, ``verify_errors < 1``.

API: ``parse_threshold(text) -> Threshold``, ``parse_thresholds(text_or_list) -> list[Threshold]``,
``parse_subject(text) -> (op, kind, metric)`` (for other expression forms such as
``--max-regression get.p99=10%``), ``Threshold.holds(actual) -> bool``. Errors are
``ThresholdError`` (a ``ValueError``) with a message naming the expression and the problem.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pegload.metrics.levels import ALIASES, LATENCY_STATS

from .errors import suggest
from .ops import OP_NAMES

LATENCY_KINDS = ("response", "service", "lateness")
LATENCY_METRICS = LATENCY_STATS
RATE_METRICS = ("error_rate", "verify_error_rate")
COUNT_METRICS = ("errors", "verify_errors")
RECOVERY = "recovery"  # the subject prefix of recovery thresholds (and their op)
RECOVERY_METRICS = {"p99": "recovery_p99", "errors": "recovery_errors"}
METRICS = LATENCY_METRICS + ("throughput",) + COUNT_METRICS + RATE_METRICS + tuple(RECOVERY_METRICS.values())
COMPARATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

_TIME_UNITS_US = {"us": 1.0, "µs": 1.0, "ms": 1000.0, "s": 1_000_000.0}
_WRITTEN_METRICS = LATENCY_METRICS + tuple(ALIASES) + ("throughput",) + COUNT_METRICS
_EXPR = re.compile(
    r"^\s*(?P<subject>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<cmp><=|>=|<|>|==|=|!=)\s*"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>\S*?)\s*$"
)


class ThresholdError(ValueError):
    """A threshold expression that does not follow the grammar."""


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold. ``value`` is in the canonical unit of ``metric``: microseconds for
    latency, ops/s for throughput, a fraction for ``*_rate``, a count for ``errors``."""

    op: str  # operation name or "all"
    kind: str  # latency kind ("response"/"service"/"lateness"); "" for non-latency metrics
    metric: str  # one of METRICS
    comparator: str  # one of COMPARATORS
    value: float
    text: str  # normalised expression, e.g. "get.p99 < 5ms"

    def holds(self, actual: float) -> bool:
        """True when ``actual`` (same canonical unit) satisfies the threshold."""
        return COMPARATORS[self.comparator](actual, self.value)

    @property
    def is_latency(self) -> bool:
        return self.metric in LATENCY_METRICS

    @property
    def is_recovery(self) -> bool:
        return self.op == RECOVERY

    def __str__(self) -> str:
        return self.text


def parse_subject(text: str) -> tuple[str, str, str]:
    """``"get.service.p99"`` -> ``("get", "service", "p99")``; defaults: op "all", kind
    "response" for latency metrics ("" otherwise). The metric is returned as written
    (``errors`` stays ``errors``; the caller decides rate vs count from the unit)."""
    raw = text.strip()
    parts = raw.split(".")
    # `p99.9` is one metric token although it contains a dot
    if len(parts) >= 2 and re.fullmatch(r"p\d+", parts[-2]) and parts[-1].isdigit():
        parts[-2:] = [parts[-2] + "." + parts[-1]]
    if not raw or any(not p for p in parts) or len(parts) > 3:
        raise ThresholdError(f"{raw!r}: expected [op.][kind.]metric, e.g. get.p99 or errors")
    metric = parts[-1]
    if metric not in _WRITTEN_METRICS:
        raise ThresholdError(
            f"{raw!r}: unknown metric {metric!r}{suggest(metric, _WRITTEN_METRICS)}"
            f" (expected one of {', '.join(_WRITTEN_METRICS)})"
        )
    metric = ALIASES.get(metric, metric)
    op, kind = "all", ""
    rest = parts[:-1]
    if rest and rest[-1] in LATENCY_KINDS:
        kind = rest.pop()
    if rest:
        op = rest.pop()
        if op != "all" and op not in OP_NAMES:
            hint = suggest(op, OP_NAMES + ("all",) + LATENCY_KINDS)
            raise ThresholdError(f"{raw!r}: unknown operation {op!r}{hint}")
    if rest:
        raise ThresholdError(f"{raw!r}: expected [op.][kind.]metric, e.g. get.service.p99")
    if metric in LATENCY_METRICS:
        kind = kind or "response"
    elif kind:
        raise ThresholdError(f"{raw!r}: the latency kind {kind!r} only applies to p50..p999, max and mean")
    return op, kind, metric


def parse_threshold(text: str) -> Threshold:
    """Parse one expression such as ``get.p99 < 5ms``."""
    if not isinstance(text, str):
        raise ThresholdError(f"expected a threshold expression like 'get.p99 < 5ms', got {text!r}")
    match = _EXPR.match(text)
    if not match:
        raise ThresholdError(
            f"{text.strip()!r}: expected <[op.][kind.]metric> <comparator> <number>[unit], e.g. 'get.p99 < 5ms'"
        )
    cmp = match.group("cmp")
    if cmp not in COMPARATORS:
        raise ThresholdError(f"{text.strip()!r}: comparator {cmp!r} is not supported; use <, <=, > or >=")
    number = float(match.group("num"))
    unit = match.group("unit")
    shown = text.strip()
    if match.group("subject").split(".")[0] == RECOVERY:
        return _recovery_threshold(match.group("subject"), cmp, number, match.group("num"), unit, shown)
    op, kind, metric = parse_subject(match.group("subject"))
    if metric in LATENCY_METRICS:
        if unit not in _TIME_UNITS_US:
            got = f"{unit!r}" if unit else "none"
            raise ThresholdError(f"{shown!r}: latency needs a time unit (us, ms or s), got {got}")
        value = number * _TIME_UNITS_US[unit]
    elif metric == "throughput":
        if unit not in ("", "/s", "ops/s"):
            raise ThresholdError(f"{shown!r}: throughput is in ops/s; write it bare or with /s or ops/s, got {unit!r}")
        value = number
    else:  # errors / verify_errors
        if unit == "%":
            metric = "error_rate" if metric == "errors" else "verify_error_rate"
            value = number / 100.0
        elif unit == "":
            value = number
        else:
            raise ThresholdError(f"{shown!r}: {metric} is a count (bare number) or a rate (with %), got unit {unit!r}")
    if value < 0:
        raise ThresholdError(f"{shown!r}: the value must not be negative")
    written_metric = match.group("subject").rsplit(".", 1)[-1] if metric not in LATENCY_METRICS else metric
    subject = ".".join(p for p in (op if op != "all" else "", kind if kind != "response" else "", written_metric) if p)
    norm = f"{subject} {cmp} {match.group('num')}{unit}"
    return Threshold(op=op, kind=kind, metric=metric, comparator=cmp, value=value, text=norm)


def _recovery_threshold(subject: str, cmp: str, number: float, num_text: str, unit: str, shown: str) -> Threshold:
    parts = subject.split(".")
    if len(parts) != 2 or parts[1] not in RECOVERY_METRICS:
        raise ThresholdError(f"{shown!r}: expected recovery.p99 or recovery.errors")
    if unit not in _TIME_UNITS_US:
        got = f"{unit!r}" if unit else "none"
        raise ThresholdError(f"{shown!r}: a recovery time needs a time unit (us, ms or s), got {got}")
    if number < 0:
        raise ThresholdError(f"{shown!r}: the value must not be negative")
    return Threshold(op=RECOVERY, kind="", metric=RECOVERY_METRICS[parts[1]], comparator=cmp,
                     value=number * _TIME_UNITS_US[unit] / 1_000_000.0, text=f"{subject} {cmp} {num_text}{unit}")


def parse_thresholds(spec: str | Iterable[str]) -> list[Threshold]:
    """Parse a comma-separated string (CLI form) or a list of expressions (YAML form). Every
    expression is checked; all problems are reported together in one ThresholdError."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out, problems = [], []
    for item in items:
        if isinstance(item, str) and not item.strip():
            problems.append("empty threshold expression (stray comma?)")
            continue
        try:
            out.append(parse_threshold(item))
        except ThresholdError as exc:
            problems.append(str(exc))
    if problems:
        raise ThresholdError("; ".join(problems))
    return out
