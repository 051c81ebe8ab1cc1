"""The capacity SLO: parsed with the threshold grammar (``get.p99<5ms,errors<0.1%``), judged on
one step's measured phase, and turned into the step's verdict for the search.

A capacity search always judges errors: without an ``errors`` term the SLO gains
``errors < 1%`` (a rate that fails one request in a hundred is not "sustained", however fast
its replies). The effective SLO is what ``summary.json`` records.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pegload.capacity import search
from pegload.report.slo import SloResult, evaluate
from pegload.scenario.thresholds import Threshold, ThresholdError, parse_threshold, parse_thresholds

DEFAULT_ERRORS = "errors < 1%"
ERROR_METRICS = ("errors", "error_rate")


def parse_slo(text: str, ops: Sequence[str]) -> list[Threshold]:
    """The SLO terms, checked against the ops the measured phase runs. Raises ThresholdError."""
    terms = parse_thresholds(text)
    for t in terms:
        if t.op != "all" and t.op not in ops:
            raise ThresholdError(f"{t.text!r}: the measured phase runs no {t.op!r} ops "
                                 f"(it runs {', '.join(ops)}); the SLO could never be judged")
        if t.metric == "throughput":
            raise ThresholdError(f"{t.text!r}: throughput is what the search varies; give latency and "
                                 "errors terms only")
    if not any(t.metric in ERROR_METRICS for t in terms):
        terms.append(parse_threshold(DEFAULT_ERRORS))
    return terms


def slo_text(terms: Sequence[Threshold]) -> str:
    return ", ".join(t.text for t in terms)


def _as_service(t: Threshold) -> Threshold:
    return Threshold(t.op, "service", t.metric, t.comparator, t.value, t.text + " (service)")


@dataclass(frozen=True)
class StepJudgement:
    verdict: str  # a pegload.capacity.search verdict
    results: list[SloResult]
    note: str = ""  # why a client-limited step still counts as an SLO failure, for example


# validity reasons (coordinator.validity) that mean the planned load was not offered: the step
# says nothing about the target at this rate. The other client reasons (lateness_tail, greenlets,
# cpu, loop_lag) mean the client added its own delays to the latencies: that can only make them
# worse, so a step that meets the SLO despite them has met it.
NOT_OFFERED = ("rate", "interval_rate", "overrun", "dropped")


def judge_step(scope: dict[str, Any], terms: Sequence[Threshold], *, valid: bool, limited_by: str | None,
               reasons: Sequence[str] = (), interrupted: bool = False) -> StepJudgement:
    """The verdict of one step from its phase scope (a summary phase entry) and validity
    (``reasons``: the codes of its validity details).

    A step the client limited is normally the client's verdict (``client``: the search stops).
    Two exceptions. When the load was offered as planned and the SLO holds although the client's
    own delays are in the latencies, the step passes (they only add latency). When a latency term
    is breached on *service* latency too (send to reply, no wait for the client's greenlets in
    it), the target was already too slow at this rate and the client's shortage followed from
    that (Little's law); the step is then an SLO failure like any other. The note says which."""
    results = evaluate(scope, terms)
    breached = [r for r in results if not r.passed]
    errors = any(r.threshold.metric in ERROR_METRICS for r in breached)
    if interrupted:
        return StepJudgement(search.INTERRUPTED, results)
    if not valid and limited_by != "client":
        return StepJudgement(search.INVALID, results)
    offered = not any(code in NOT_OFFERED for code in reasons)
    if not valid and offered and not breached:
        return StepJudgement(search.PASS, results, "met the SLO although the client's own delays ("
                             + ", ".join(sorted(set(reasons))) + ") are in the latencies")
    if not valid:
        if errors:
            return StepJudgement(search.ERRORS, results, "errors over the limit (the client was short too)")
        slow = [r for r in breached if r.threshold.is_latency and r.threshold.kind == "response"]
        served = [s for s in evaluate(scope, [_as_service(r.threshold) for r in slow]) if not s.passed]
        if served:
            return StepJudgement(search.SLO, results, f"{served[0].threshold.text} breached too: the target was "
                                 "too slow, the client's shortage followed from it")
        return StepJudgement(search.CLIENT, results)
    if errors:
        return StepJudgement(search.ERRORS, results)
    if breached:
        return StepJudgement(search.SLO, results)
    return StepJudgement(search.PASS, results)


def live_value(latest: Any, term: Threshold) -> float | None:
    """The term's figure in one live interval (``RunAccumulator.latest()``), for the progress
    line: a percentile of that op (for ``all``: the worst op), or its error rate."""
    if latest is None:
        return None
    ops = latest.ops if term.op == "all" else {term.op: latest.ops[term.op]} if term.op in latest.ops else {}
    if not ops:
        return None
    if term.metric in ERROR_METRICS:
        count = sum(o.count for o in ops.values())
        errs = sum(o.error_count for o in ops.values())
        return (errs / count if count else 0.0) if term.metric == "error_rate" else float(errs)
    vals = [getattr(o.kinds[term.kind], term.metric) for o in ops.values()
            if term.kind in o.kinds and hasattr(o.kinds[term.kind], term.metric)]
    return float(max(vals)) if vals else None
