"""The CI gate behind ``pegload check``: regressions against a baseline, and SLOs.

A regression rule says how much worse a figure may get: latencies and throughput relative to the
baseline (``get.p99=10%``), error rates in absolute percentage points (``errors=0.5%``). A
latency must also be worse by more than ``min_delta_us``: sub-millisecond shifts of a few hundred
µs are scheduler noise on a shared 2-core machine, not a Pegasus regression.

One run on each side: the figures are compared with the limits directly. Repeated runs on either
side: the change is measured between the medians of the per-run figures, and a change beyond the
limit is a *regression* only when a one-sided Mann-Whitney U test on the per-run figures says it
is significant (p <= alpha); otherwise the verdict is *unstable* (the repeats disagree: run more).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pegload.metrics.levels import PERCENTILES
from pegload.report.compare import differences
from pegload.report.figures import LATENCY_STATS, figure, format_figure, format_us, lower_is_better
from pegload.report.percent import format_percent
from pegload.report.runs import LoadedRun, ReportError, merged_scope
from pegload.report.slo import SloResult, evaluate, recovery_result
from pegload.report.stats import p_greater, smallest_p
from pegload.report.summary import ALL_OPS
from pegload.scenario.thresholds import Threshold, ThresholdError, parse_subject

# Defaults, from bench/gate_noise.py on a shared 2-core machine (docs/ci.md): loose enough that
# two identical runs pass, tight enough that +3 ms of server latency fails. Open loop (the rate is
# fixed, so throughput only drops when the schedule is not kept) is far steadier than closed loop
# (throughput and latency both follow whatever CPU the client and server got).
OPEN_LOOP_DEFAULTS = {"p50": 0.50, "p99": 1.50, "throughput": 0.10}
CLOSED_LOOP_DEFAULTS = {"p50": 1.50, "throughput": 0.65}
DEFAULT_ERROR_RATE_LIMIT = 0.005  # absolute: +0.5 percentage points
DEFAULT_MIN_DELTA_US = 250.0
DEFAULT_ALPHA = 0.05
# A percentile is judged only when every run has this many samples beyond it (p99: 1,000 samples):
# the p99 of 50 samples is its 50th largest value's neighbour, not a tail.
MIN_TAIL_SAMPLES = 10

FAILING = ("regression", "missing", "breach", "no data")
VERDICTS = ("pass", "skipped", "regression", "unstable", "missing", "breach", "no data")


@dataclass(frozen=True)
class Rule:
    op: str  # op name or "all"
    kind: str  # latency kind, "" for other figures
    metric: str  # a figures.py name
    limit: float  # fraction: relative for latency/throughput, absolute for *_rate

    @property
    def relative(self) -> bool:
        return not self.metric.endswith("_rate")

    @property
    def name(self) -> str:
        kind = f"{self.kind}." if self.kind and self.kind != "response" else ""
        return f"{self.op}.{kind}{self.metric}"

    @property
    def limit_text(self) -> str:
        sign = "+" if lower_is_better(self.metric) else "-"
        unit = "%" if self.relative else " pp"
        return sign + format_percent(self.limit, unit=unit)


def default_rules(ops: Sequence[str], closed_loop: bool = False) -> list[Rule]:
    """For ``all`` and every op: response p50 (and p99 in open loop) and throughput; the error
    rate for ``all``. Limits: :data:`OPEN_LOOP_DEFAULTS` or :data:`CLOSED_LOOP_DEFAULTS`."""
    limits = CLOSED_LOOP_DEFAULTS if closed_loop else OPEN_LOOP_DEFAULTS
    out = [Rule(ALL_OPS, "", "error_rate", DEFAULT_ERROR_RATE_LIMIT)]
    for op in [ALL_OPS, *sorted(o for o in ops if o != ALL_OPS)]:
        out.extend(Rule(op, "" if m == "throughput" else "response", m, lim) for m, lim in limits.items())
    return out


def is_closed_loop(run: LoadedRun, phase: str | None = None) -> bool:
    """Whether any judged phase ran closed loop (the noisier case: looser default limits)."""
    names = [phase] if phase else run.summary["measured"].get("phases", [])
    return any(p.get("mode") != "open" for p in run.summary["phases"] if p["name"] in names)


def parse_rules(spec: str, ops: Sequence[str], closed_loop: bool = False) -> list[Rule]:
    """``get.p99=10%,throughput=5%,errors=0.5%``; the word ``defaults`` adds the default rules
    (an explicit rule for the same figure replaces the default one). Raises ``ValueError``."""
    explicit: list[Rule] = []
    with_defaults = False
    problems = []
    for item in (x.strip() for x in spec.split(",")):
        if item == "defaults":
            with_defaults = True
            continue
        subject, eq, amount = item.partition("=")
        try:
            if not eq or not amount.strip().endswith("%"):
                raise ValueError(f"{item!r}: expected <[op.][kind.]metric>=<percent>%, e.g. get.p99=10%")
            limit = float(amount.strip()[:-1]) / 100
            if limit < 0:
                raise ValueError(f"{item!r}: the allowed regression must not be negative")
            op, kind, metric = parse_subject(subject)
        except (ThresholdError, ValueError) as exc:
            problems.append(str(exc).replace("could not convert string to float", "not a number"))
            continue
        if metric in ("errors", "verify_errors"):  # a percentage of ops: the rate, in points
            metric = "error_rate" if metric == "errors" else "verify_error_rate"
        explicit.append(Rule(op, kind, metric, limit))
    if problems:
        raise ValueError("--max-regression: " + "; ".join(problems))
    if not with_defaults:
        return explicit
    named = {r.name for r in explicit}
    return [r for r in default_rules(ops, closed_loop) if r.name not in named] + explicit


@dataclass
class Verdict:
    name: str
    kind: str  # "regression" (rule) or "slo"
    verdict: str  # pass | regression | unstable | missing | breach | no data
    metric: str
    baseline: float | None = None
    current: float | None = None
    change: float | None = None  # how much worse (fraction, or points for rates); < 0 = better
    limit: str = ""
    p_value: float | None = None
    detail: str = ""
    baseline_values: list[float] = field(default_factory=list)
    current_values: list[float] = field(default_factory=list)

    def failed(self, allow_unstable: bool = False) -> bool:
        return self.verdict in FAILING or (self.verdict == "unstable" and not allow_unstable)

    def change_text(self) -> str:
        if self.change is None:
            return "-"
        if self.metric.endswith("_rate"):
            return format_percent(self.change, signed=True, unit=" pp")
        sign = 1 if lower_is_better(self.metric) else -1
        return format_percent(sign * self.change, signed=True)


@dataclass
class CheckResult:
    verdicts: list[Verdict]
    current_runs: int
    baseline_runs: int
    phase: str | None

    def exit_code(self, allow_unstable: bool = False) -> int:
        return 1 if any(v.failed(allow_unstable) for v in self.verdicts) else 0

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v.verdict == verdict)


def _per_run(runs: Sequence[LoadedRun], rule: Rule, phase: str | None) -> tuple[list[float], int]:
    """The rule's figure in each run that has it, and the smallest op count among those runs."""
    out, fewest = [], 0
    for run in runs:
        entry = run.op(rule.op, phase)
        value = figure(entry, rule.metric, rule.kind or "response") if entry and entry.get("count") else None
        if value is not None:
            out.append(float(value))
            fewest = min(fewest, entry["count"]) if fewest else entry["count"]
    return out, fewest


def _untrusted(rule: Rule, runs: Sequence[LoadedRun], phase: str | None) -> str | None:
    """Why a latency rule's stat cannot be judged in some run (a caution: the client's own
    delays fill that tail), or None. Service time excludes the client's pacing delays."""
    if rule.metric not in LATENCY_STATS or (rule.kind or "response") == "service":
        return None
    for run in runs:
        why = run.untrusted(phase).get(rule.metric)
        if why is not None:
            return f"{run.path}: {why}"
    return None


def tail_samples_needed(metric: str) -> int:
    """Samples a run needs before its ``metric`` percentile is worth judging (0: always)."""
    pct = PERCENTILES.get(metric)
    return 0 if pct is None else math.ceil(MIN_TAIL_SAMPLES / (1 - pct / 100) - 1e-9)


def _worse_by(rule: Rule, base: float, cur: float) -> float:
    if not rule.relative:
        return cur - base if lower_is_better(rule.metric) else base - cur
    if base == 0:
        return 0.0 if cur == 0 else float("inf")
    delta = (cur - base) / base
    return delta if lower_is_better(rule.metric) else -delta


def judge(rule: Rule, base_vals: list[float], cur_vals: list[float], min_delta_us: float,
          alpha: float) -> Verdict:
    """The verdict of one rule on per-run figures (already known to exist in the baseline)."""
    v = Verdict(rule.name, "regression", "pass", rule.metric, limit=rule.limit_text,
                baseline_values=base_vals, current_values=cur_vals)
    if not cur_vals:
        v.verdict, v.detail = "missing", f"no {rule.op} ops in the current run(s)"
        v.baseline = statistics.median(base_vals)
        return v
    v.baseline, v.current = statistics.median(base_vals), statistics.median(cur_vals)
    v.change = _worse_by(rule, v.baseline, v.current)
    exceeds = v.change > rule.limit
    if rule.metric in LATENCY_STATS and exceeds and v.current - v.baseline <= min_delta_us:
        exceeds = False
        v.detail = f"within the {format_us(min_delta_us)} noise floor"
    if len(base_vals) == 1 and len(cur_vals) == 1:
        v.verdict = "regression" if exceeds else "pass"
        return v
    if not exceeds:
        return v
    sign = 1.0 if lower_is_better(rule.metric) else -1.0
    v.p_value = p_greater([sign * x for x in base_vals], [sign * x for x in cur_vals])
    if v.p_value <= alpha:
        v.verdict = "regression"
    else:
        v.verdict = "unstable"
        floor = smallest_p(len(base_vals), len(cur_vals))
        v.detail = (f"worse by more than {rule.limit_text} but not significant (p={v.p_value:.3g} > {alpha:g})"
                    + (f"; {len(base_vals)} vs {len(cur_vals)} runs can never reach p<={alpha:g}, "
                       f"use at least 3 on each side" if floor > alpha else "; rerun or add repeats"))
    return v


def check_compatible(current: Sequence[LoadedRun], baseline: Sequence[LoadedRun]) -> None:
    """Raise :class:`ReportError` naming what differs when any run is not comparable with the
    first baseline run (a gate on different scenarios would judge nothing)."""
    ref = baseline[0]
    problems = []
    for run in [*baseline[1:], *current]:
        for d in differences(ref, run):
            problems.append(f"{run.path} vs baseline {ref.path}: {d}")
    if problems:
        raise ReportError("incompatible runs (use the same scenario and load shape):\n  "
                          + "\n  ".join(problems))


def check_usable(current: Sequence[LoadedRun], baseline: Sequence[LoadedRun]) -> None:
    """Raise :class:`ReportError` naming every run that is interrupted, crashed, failed or NOT
    VALID: a gate that judges an incomplete or untrustworthy run passes or fails on noise."""
    problems = [f"{side} {run.path}: {why}" for side, runs in (("run", current), ("baseline", baseline))
                for run in runs if (why := run.unusable())]
    if problems:
        raise ReportError("refusing to judge incomplete or invalid runs (--allow-invalid judges them anyway):\n  "
                          + "\n  ".join(problems))


def run_check(current: Sequence[LoadedRun], baseline: Sequence[LoadedRun], *,
              rules: Sequence[Rule] | None = None, slos: Sequence[Threshold] = (),
              phase: str | None = None, min_delta_us: float = DEFAULT_MIN_DELTA_US,
              alpha: float = DEFAULT_ALPHA, allow_invalid: bool = False) -> CheckResult:
    """Judge ``current`` against ``baseline``. Raises :class:`ReportError` for incompatible
    inputs, a rule on an op the baseline never ran, or (unless ``allow_invalid``) a run that
    did not complete or is NOT VALID (:meth:`LoadedRun.unusable`)."""
    if not current or not baseline:
        raise ReportError("need at least one current run and one baseline run")
    if not allow_invalid:
        check_usable(current, baseline)
    check_compatible(current, baseline)
    baseline_ops = sorted({op for run in baseline for op in run.ops(phase)})
    verdicts = []
    if rules is None:
        rules = default_rules(baseline_ops, is_closed_loop(baseline[0], phase))
    for rule in rules:
        base_vals, base_n = _per_run(baseline, rule, phase)
        if not base_vals:
            raise ReportError(f"{rule.name}: the baseline has no {rule.op} ops to compare with "
                              f"(baseline ops: {', '.join(baseline_ops) or 'none'})")
        cur_vals, cur_n = _per_run(current, rule, phase)
        untrusted = _untrusted(rule, [*baseline, *current], phase)
        if untrusted:
            verdicts.append(Verdict(rule.name, "regression", "skipped", rule.metric, limit=rule.limit_text,
                                    detail=f"not judged: {untrusted}"))
            continue
        needed = tail_samples_needed(rule.metric)
        if cur_vals and min(base_n, cur_n) < needed:
            verdicts.append(Verdict(rule.name, "regression", "skipped", rule.metric, limit=rule.limit_text,
                                    detail=f"not judged: {min(base_n, cur_n):,} ops in a run, a {rule.metric} "
                                    f"needs {needed:,} (run longer or faster to check it)"))
            continue
        verdicts.append(judge(rule, base_vals, cur_vals, min_delta_us, alpha))
    plain = [t for t in slos if not t.is_recovery]
    untrusted: dict[str, str] = {}
    for run in current:
        for stat, why in run.untrusted(phase).items():
            untrusted.setdefault(stat, f"{run.path}: {why}")
    for slo in evaluate(merged_scope(list(current), phase), plain, untrusted=untrusted):
        verdicts.append(_slo_verdict(slo))
    for t in slos:
        if t.is_recovery:  # the slowest recovery over the current runs' events
            results = [recovery_result(run.summary.get("events") or [], t, phase) for run in current]
            values = [r.actual for r in results if r.actual is not None]
            unmet = "; ".join(r.unmet for r in results if r.unmet) or None
            verdicts.append(_slo_verdict(SloResult(t, phase, max(values) if values else None, unmet)))
    return CheckResult(verdicts, len(current), len(baseline), phase)


def _slo_verdict(r: SloResult) -> Verdict:
    t = r.threshold
    return Verdict(f"SLO {t.text}", "slo", r.verdict, t.metric, current=r.actual,
                   limit=f"{t.comparator} {format_figure(t.metric, t.value)}",
                   detail=(r.unmet or "") if r.actual is not None else
                   "no event ran" if t.is_recovery else f"no {t.op} ops measured")


def verdict_row(v: Verdict) -> list[Any]:
    p = "-" if v.p_value is None else f"{v.p_value:.3g}"
    return [v.name, format_figure(v.metric, v.baseline), format_figure(v.metric, v.current),
            v.change_text(), v.limit or "-", p, v.verdict.upper() if v.verdict != "pass" else "pass"]
