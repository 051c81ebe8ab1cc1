"""The coordinator side: RunAccumulator adds worker snapshots into per-(phase, op) totals and a
per-interval series (percentiles for the time charts, encoded histograms for the .hlog)."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pegload.metrics.histogram import KINDS, MISS, OK, LatencyHistogram
from pegload.metrics.levels import LEVELS, PERCENTILES
from pegload.metrics.recorder import IntervalSnapshot

STAT_PERCENTILES = tuple(PERCENTILES.values())


@dataclass
class OpTotals:
    """Counters and merged histograms for one (phase, op), or for one op in one interval."""

    count: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    nbytes: int = 0
    verify_errors: int = 0
    below: list[int] = field(default_factory=lambda: [0, 0, 0])
    above: list[int] = field(default_factory=lambda: [0, 0, 0])
    hists: tuple[LatencyHistogram, ...] = field(
        default_factory=lambda: (LatencyHistogram(), LatencyHistogram(), LatencyHistogram()))

    @property
    def ok(self) -> int:
        return self.outcomes.get(OK, 0)

    @property
    def misses(self) -> int:
        return self.outcomes.get(MISS, 0)

    @property
    def errors(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.outcomes.items()) if k not in (OK, MISS)}

    @property
    def error_count(self) -> int:
        return self.count - self.ok - self.misses

    def hist(self, kind: str) -> LatencyHistogram:
        return self.hists[KINDS.index(kind)]

    def add_counters(self, count: int, outcomes: dict[str, int], nbytes: int, verify: int,
                     below: Sequence[int], above: Sequence[int]) -> None:
        self.count += count
        for k, v in outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + v
        self.nbytes += nbytes
        self.verify_errors += verify
        for i in range(3):
            self.below[i] += below[i]
            self.above[i] += above[i]

    def add(self, other: OpTotals) -> None:
        self.add_counters(other.count, other.outcomes, other.nbytes, other.verify_errors,
                          other.below, other.above)
        for mine, theirs in zip(self.hists, other.hists):
            mine.add(theirs)


@dataclass(frozen=True)
class KindStats:
    """Percentiles of one interval histogram plus its standard encoding (for the .hlog). The
    fields are the names of :data:`pegload.metrics.levels.LEVELS` (a test keeps them equal)."""

    p50: int
    p90: int
    p99: int
    p999: int
    max: int
    encoded: str  # LatencyHistogram.to_base64()


@dataclass(frozen=True)
class IntervalOpStats:
    count: int
    ok: int
    misses: int
    errors: dict[str, int]
    verify_errors: int
    kinds: dict[str, KindStats]  # only kinds with samples

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class IntervalStats:
    """One closed interval of one phase, all workers merged."""

    phase: str
    index: int  # interval number within the phase
    t_start: float
    t_end: float
    ops: dict[str, IntervalOpStats]

    @property
    def duration(self) -> float:
        return max(self.t_end - self.t_start, 1e-9)

    @property
    def count(self) -> int:
        return sum(o.count for o in self.ops.values())

    @property
    def error_count(self) -> int:
        return sum(o.error_count for o in self.ops.values())


def kind_stats(h: LatencyHistogram) -> KindStats:
    p = h.percentiles(tuple(LEVELS.values()))
    return KindStats(**{name: p[level] for name, level in LEVELS.items()}, encoded=h.to_base64())


class _Slot:
    __slots__ = ("phase", "index", "t_start", "t_end", "ops")

    def __init__(self, phase: str, index: int) -> None:
        self.phase, self.index = phase, index
        self.t_start, self.t_end = math.inf, -math.inf
        self.ops: dict[str, OpTotals] = {}


class RunAccumulator:
    """Merges worker snapshots into per-(phase, op) totals and a per-interval series.

    Intervals of a phase sit on a grid anchored at the phase's start (:meth:`begin_phase`, or the
    first snapshot seen); a snapshot lands in the slot holding its midpoint. A slot closes (its
    percentiles computed, encoded for the .hlog, added to the totals) once every live worker has
    reported past its end, or on :meth:`end_phase` / :meth:`finish`. A snapshot arriving for a
    closed slot re-opens it, so nothing is ever lost from the series or the totals.

    >>> acc = RunAccumulator(interval_s=1.0, workers=[0])
    >>> rec = IntervalRecorder(0); rec.op("run", "get").record(300, 280, 0)
    >>> acc.add(rec.snapshot_and_reset(100.0, 101.0))
    >>> acc.totals("run", "get").count, len(acc.intervals)
    (1, 1)
    """

    def __init__(self, interval_s: float = 1.0, workers: Iterable[int] = ()) -> None:
        self.interval_s = float(interval_s)
        self._tolerance = 0.25 * self.interval_s
        self._live: set[int] = set(workers)
        self._covered: dict[int, float] = {}
        self._anchors: dict[str, float] = {}
        self._open: dict[tuple[str, int], _Slot] = {}
        self._closed: dict[tuple[str, int], int] = {}  # slot key -> position in self.intervals
        self.intervals: list[IntervalStats] = []
        self._totals: dict[tuple[str, str], OpTotals] = {}
        self.phase_spans: dict[str, list[float]] = {}  # phase -> [first t_start, last t_end]
        self.worker_ops: dict[int, int] = {}  # ops reported per worker (for exactness checks)
        # (phase, op, worker) -> that worker's own totals: the per-worker histograms a merge can
        # be audited with (each snapshot is decoded once and added here and to its interval)
        self._by_worker: dict[tuple[str, str, int], OpTotals] = {}
        self.snapshots = 0

    # -- feeding --
    def begin_phase(self, phase: str, start_at: float) -> None:
        """Anchor the interval grid of ``phase`` on its start barrier (wall clock)."""
        self._anchors[phase] = start_at

    def add(self, snapshot: IntervalSnapshot | bytes) -> None:
        if not isinstance(snapshot, IntervalSnapshot):
            snapshot = IntervalSnapshot.from_bytes(snapshot)
        self.snapshots += 1
        w = snapshot.worker_id
        self._live.add(w)
        mid = (snapshot.t_start + snapshot.t_end) / 2
        for (phase, op), e in snapshot.ops.items():
            anchor = self._anchors.setdefault(phase, snapshot.t_start)
            index = max(int((mid - anchor) // self.interval_s), 0)
            slot = self._open.get((phase, index))
            if slot is None:
                slot = self._open[(phase, index)] = _Slot(phase, index)
            slot.t_start = min(slot.t_start, snapshot.t_start)
            slot.t_end = max(slot.t_end, snapshot.t_end)
            totals = slot.ops.get(op)
            if totals is None:
                totals = slot.ops[op] = OpTotals()
            totals.add_counters(e.count, e.outcomes, e.nbytes, e.verify_errors, e.below, e.above)
            mine = self._by_worker.get((phase, op, w))
            if mine is None:
                mine = self._by_worker[(phase, op, w)] = OpTotals()
            mine.add_counters(e.count, e.outcomes, e.nbytes, e.verify_errors, e.below, e.above)
            for h, wh, blob in zip(totals.hists, mine.hists, e.hists):
                if blob:
                    decoded = LatencyHistogram.decode(blob)
                    h.add(decoded)
                    wh.add(decoded)
            span = self.phase_spans.setdefault(phase, [snapshot.t_start, snapshot.t_end])
            span[0], span[1] = min(span[0], snapshot.t_start), max(span[1], snapshot.t_end)
            self.worker_ops[w] = self.worker_ops.get(w, 0) + e.count
        self._covered[w] = max(self._covered.get(w, -math.inf), snapshot.t_end)
        self._close_covered()

    def worker_gone(self, worker_id: int) -> None:
        """Stop waiting for a worker (crashed or finished) before closing intervals."""
        self._live.discard(worker_id)
        self._close_covered()

    def end_phase(self, phase: str) -> None:
        """Close every open interval of ``phase`` (all its workers are done with it)."""
        for key in sorted(k for k in self._open if k[0] == phase):
            self._close(self._open.pop(key))

    def finish(self) -> None:
        """Close everything still open (end of run, Ctrl-C, crash)."""
        for key in sorted(self._open, key=lambda k: (self._open[k].t_start, k)):
            self._close(self._open.pop(key))

    def _close_covered(self) -> None:
        if not self._open:
            return
        if self._live:
            covered = min(self._covered.get(w, -math.inf) for w in self._live)
        else:
            covered = math.inf
        for key in list(self._open):
            phase, index = key
            slot_end = self._anchors[phase] + (index + 1) * self.interval_s
            if covered >= slot_end - self._tolerance:
                self._close(self._open.pop(key))

    def _close(self, slot: _Slot) -> None:
        key = (slot.phase, slot.index)
        for op, t in slot.ops.items():
            total = self._totals.get((slot.phase, op))
            if total is None:
                total = self._totals[(slot.phase, op)] = OpTotals()
            total.add(t)
        position = self._closed.get(key)
        if position is not None:  # late snapshot: fold the interval already published back in
            self._reopen(slot, self.intervals[position])
        stats = IntervalStats(slot.phase, slot.index, slot.t_start, slot.t_end,
                              {op: _interval_op_stats(t) for op, t in sorted(slot.ops.items())})
        if position is None:
            self._closed[key] = len(self.intervals)
            self.intervals.append(stats)
        else:
            self.intervals[position] = stats

    @staticmethod
    def _reopen(slot: _Slot, old: IntervalStats) -> None:
        slot.t_start, slot.t_end = min(slot.t_start, old.t_start), max(slot.t_end, old.t_end)
        for op, s in old.ops.items():
            t = slot.ops.setdefault(op, OpTotals())
            outcomes = {**s.errors, OK: s.ok, MISS: s.misses}
            t.add_counters(s.count, {k: v for k, v in outcomes.items() if v}, 0, s.verify_errors,
                           (0, 0, 0), (0, 0, 0))
            for kind, ks in s.kinds.items():
                t.hist(kind).add_encoded(ks.encoded)

    # -- queries --
    def phases(self) -> list[str]:
        """Phases in the order their data first arrived."""
        return list(self.phase_spans)

    def ops(self, phase: str) -> list[str]:
        return sorted(op for (p, op) in self._totals if p == phase)

    def totals(self, phase: str, op: str) -> OpTotals:
        """Merged totals of closed intervals (call :meth:`finish` first for the final figures)."""
        return self._totals.get((phase, op)) or OpTotals()

    def workers(self, phase: str) -> list[int]:
        """Workers that reported data for ``phase``."""
        return sorted({w for (p, _op, w) in self._by_worker if p == phase})

    def worker_totals(self, phase: str, op: str, worker: int) -> OpTotals:
        """One worker's own totals of ``(phase, op)``: adding every worker's gives
        :meth:`totals` (what a report keeps so that the merge can be checked)."""
        return self._by_worker.get((phase, op, worker)) or OpTotals()

    def latest(self) -> IntervalStats | None:
        """The most recently closed interval (what the live progress line shows)."""
        if not self.intervals:
            return None
        return max(self.intervals, key=lambda s: s.t_end)

    def series(self) -> list[IntervalStats]:
        """Closed intervals in time order."""
        return sorted(self.intervals, key=lambda s: (s.t_start, s.phase))

    @property
    def open_intervals(self) -> int:
        return len(self._open)


def _interval_op_stats(t: OpTotals) -> IntervalOpStats:
    kinds = {kind: kind_stats(h) for kind, h in zip(KINDS, t.hists) if h.total}
    return IntervalOpStats(t.count, t.ok, t.misses, t.errors, t.verify_errors, kinds)
