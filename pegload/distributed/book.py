"""What the coordinator learns per agent while the run goes: the ops its workers say they sent,
the ops in its snapshots per interval (throughput by agent), its own histograms per phase, op
and kind, and the clock-corrected timestamps.

Every snapshot still reaches the run's accumulator exactly once, as today. The agent's book
adds each snapshot's *lateness* histograms once more into the agent's per-phase totals (one
allocation per agent, phase and op for the whole run): lateness is what shows a load host that
could not keep its schedule, and the merged lateness can be checked against the sum of the
agents'. Response and service histograms per agent are not kept, nor per-interval histograms
per agent: decoding every histogram twice (or closing 64 agents x 6 ops x 3 kinds histograms
every second) would cost the coordinator more than the merge itself (bench/coordinator_merge.py);
per-agent op counts per interval are kept for the throughput by agent.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from pegload.metrics import KINDS, IntervalSnapshot, LatencyHistogram

LOAD_PHASE = "load"  # the runner's name for the data-loading phase (not measured load)
_LATENESS = KINDS.index("lateness")


def shift_snapshot(blob: bytes, delta_s: float) -> tuple[IntervalSnapshot, bytes]:
    """The snapshot in ``blob`` with its wall-clock stamps moved by ``delta_s``, decoded and
    re-encoded (the histogram blobs are copied, not decoded). Raises ``ValueError``."""
    snap = IntervalSnapshot.from_bytes(blob)
    if delta_s:
        snap = replace(snap, t_start=snap.t_start + delta_s, t_end=snap.t_end + delta_s)
    return snap, snap.to_bytes()


class PhaseGrid:
    """The interval grid per phase, shared by every agent so their intervals line up: anchored
    on the first snapshot of the phase (workers align their intervals on the common start)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.anchors: dict[str, float] = {}

    def index(self, phase: str, t_start: float, t_end: float) -> int:
        anchor = self.anchors.setdefault(phase, t_start)
        return max(int(((t_start + t_end) / 2 - anchor) // self.interval_s), 0)


class AgentBook:
    """One agent's share of the run, seen from the coordinator."""

    def __init__(self, index: int, worker_ids: tuple[int, ...], grid: PhaseGrid) -> None:
        self.index = index
        self.worker_ids = worker_ids
        self.grid = grid
        self.sent: dict[int, int] = {}  # phase index -> ops its workers reported sent
        self.dropped = 0
        # (phase, interval index) -> [first t_start, last t_end, ops]
        self.intervals: dict[tuple[str, int], list[float]] = {}
        # (phase, op) -> lateness histogram, ops recorded; the span the phase's snapshots covered
        self.hists: dict[tuple[str, str], LatencyHistogram] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.spans: dict[str, list[float]] = {}

    def add_snapshot(self, snap: IntervalSnapshot) -> None:
        ops = 0
        for (phase, op), e in snap.ops.items():
            ops += e.count
            self.counts[(phase, op)] = self.counts.get((phase, op), 0) + e.count
            blob = e.hists[_LATENESS]
            if blob:
                h = self.hists.get((phase, op))
                if h is None:
                    h = self.hists[(phase, op)] = LatencyHistogram()
                h.add_encoded(blob)
            span = self.spans.setdefault(phase, [snap.t_start, snap.t_end])
            span[0], span[1] = min(span[0], snap.t_start), max(span[1], snap.t_end)
            key = (phase, self.grid.index(phase, snap.t_start, snap.t_end))
            slot = self.intervals.get(key)
            if slot is None:
                self.intervals[key] = [snap.t_start, snap.t_end, e.count]
            else:
                slot[0], slot[1], slot[2] = min(slot[0], snap.t_start), max(slot[1], snap.t_end), slot[2] + e.count

    def phase_done(self, phase_index: int, sent: dict[str, int], dropped: int) -> None:
        self.sent[phase_index] = self.sent.get(phase_index, 0) + sum(sent.values())
        if phase_index >= 0:
            self.dropped += dropped

    @property
    def measured_sent(self) -> int:
        """Measured ops its workers reported sent (the load phase, index -1, excluded)."""
        return sum(n for k, n in self.sent.items() if k >= 0)

    @property
    def measured_recorded(self) -> int:
        """Measured ops in its snapshots."""
        return sum(n for (phase, _op), n in self.counts.items() if phase != LOAD_PHASE)

    def recorded(self, phase: str, op: str) -> int:
        return self.counts.get((phase, op), 0)

    def lateness_totals(self, phase: str, op: str) -> LatencyHistogram:
        return self.hists.get((phase, op)) or LatencyHistogram()

    def lateness(self) -> dict[str, Any] | None:
        """Lateness over its measured phases: p50/p99/max µs and the count, None without samples
        (closed loop records none)."""
        merged = LatencyHistogram()
        for (phase, _op), h in self.hists.items():
            if phase != LOAD_PHASE:
                merged.add(h)
        if not merged.total:
            return None
        p = merged.percentiles([50.0, 99.0, 100.0])
        return {"p50_us": p[50.0], "p99_us": p[99.0], "max_us": p[100.0], "count": merged.total}

    def throughput(self, t0: float) -> list[list[float]]:
        """``[[seconds since t0, ops/s], ...]`` per interval of its measured phases."""
        out = []
        for (phase, _index), (start, end, ops) in sorted(self.intervals.items(), key=lambda kv: kv[1][0]):
            if phase != LOAD_PHASE:
                out.append([round(start - t0, 3), round(ops / max(end - start, 1e-3), 1)])
        return out

    def hlog_lines(self) -> list[tuple[str, str, str, float, float, LatencyHistogram]]:
        """``(phase, op, "lateness", start, end, histogram)`` per phase and op with samples: the
        agent's lines of ``latency.hlog`` (one interval spanning what it measured of the phase)."""
        out = []
        for (phase, op), h in sorted(self.hists.items()):
            start, end = self.spans.get(phase, [math.nan, math.nan])
            if h.total:
                out.append((phase, op, "lateness", start, end, h))
        return out
