"""What the coordinator learns per agent while the run goes: its own interval histograms (a
second :class:`RunAccumulator` per agent, fed the same snapshots as the run's), the ops its
workers say they sent, and the clock-corrected timestamps.

Every snapshot reaches the run's accumulator exactly once, as today; the per-agent accumulators
only add a second, separable copy, so the merged report can be checked against the sum of the
agents' own histograms and a slow host shows up in its own row.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from pegload.metrics import IntervalSnapshot, LatencyHistogram, RunAccumulator

LOAD_PHASE = "load"  # the runner's name for the data-loading phase (not measured load)


def shift_snapshot(blob: bytes, delta_s: float) -> tuple[IntervalSnapshot, bytes]:
    """The snapshot in ``blob`` with its wall-clock stamps moved by ``delta_s``, decoded and
    re-encoded (the histogram blobs are copied, not decoded). Raises ``ValueError``."""
    snap = IntervalSnapshot.from_bytes(blob)
    if delta_s:
        snap = replace(snap, t_start=snap.t_start + delta_s, t_end=snap.t_end + delta_s)
    return snap, snap.to_bytes()


class AgentBook:
    """One agent's share of the run, seen from the coordinator."""

    def __init__(self, index: int, worker_ids: tuple[int, ...], interval_s: float = 1.0) -> None:
        self.index = index
        self.worker_ids = worker_ids
        self.acc = RunAccumulator(interval_s=interval_s, workers=worker_ids)
        self.sent: dict[str, int] = {}  # phase index (as text) -> ops its workers reported sent
        self.recorded: dict[str, int] = {}  # phase name -> ops in its snapshots
        self.dropped = 0

    def add_snapshot(self, snap: IntervalSnapshot) -> None:
        for (phase, _op), e in snap.ops.items():
            self.recorded[phase] = self.recorded.get(phase, 0) + e.count
        self.acc.add(snap)

    def phase_done(self, phase_index: int, sent: dict[str, int], dropped: int) -> None:
        key = str(phase_index)
        self.sent[key] = self.sent.get(key, 0) + sum(sent.values())
        if phase_index >= 0:
            self.dropped += dropped

    @property
    def measured_sent(self) -> int:
        """Measured ops its workers reported sent (the load phase, index -1, excluded)."""
        return sum(n for k, n in self.sent.items() if int(k) >= 0)

    @property
    def measured_recorded(self) -> int:
        return sum(n for p, n in self.recorded.items() if p != LOAD_PHASE)

    def lateness(self) -> dict[str, Any] | None:
        """Open-loop lateness over its measured phases: p50/p99/max µs, None without samples."""
        self.acc.finish()
        merged = LatencyHistogram()
        for phase in self.acc.phases():
            if phase == LOAD_PHASE:
                continue
            for op in self.acc.ops(phase):
                merged.add(self.acc.totals(phase, op).hist("lateness"))
        if not merged.total:
            return None
        p = merged.percentiles([50.0, 99.0, 100.0])
        return {"p50_us": p[50.0], "p99_us": p[99.0], "max_us": p[100.0], "count": merged.total}

    def throughput(self, t0: float) -> list[list[float]]:
        """``[[seconds since t0, ops/s], ...]`` per closed interval of its measured phases."""
        self.acc.finish()
        return [[round(s.t_start - t0, 3), round(s.count / s.duration, 1)]
                for s in sorted(self.acc.intervals, key=lambda s: s.t_start) if s.phase != LOAD_PHASE]
