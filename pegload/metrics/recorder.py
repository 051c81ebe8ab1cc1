"""The worker side: one OpRecorder per (phase, op) on the hot path, IntervalRecorder snapshotting
them every interval, and the IntervalSnapshot bytes sent to the coordinator."""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from pegload.metrics.histogram import (_HALF, _HALF_MAG, _SHIFT, _SUB_COUNT, HIGHEST_US, OK,
                                       LatencyHistogram, clamp_us, counts_index)


def _fix_tracking(h: HdrHistogram, total: int) -> None:
    """After raw counts writes: make the wrapper encode the full array (the decoder recomputes
    min, max and total from the counts, so these only need to be safe upper bounds)."""
    h.total_count = total
    h.min_value = 0
    h.max_value = HIGHEST_US


class OpRecorder:
    """Counters and three histograms for one (phase, op) in one worker. Not thread-safe (one
    gevent loop records into it). Get it once from :meth:`IntervalRecorder.op` and keep it."""

    __slots__ = ("phase", "op", "count", "outcomes", "nbytes", "verify_errors", "below", "above",
                 "hists", "_r", "_s", "_l")

    def __init__(self, phase: str, op: str) -> None:
        self.phase, self.op = phase, op
        self.hists = (LatencyHistogram(), LatencyHistogram(), LatencyHistogram())
        self._r, self._s, self._l = (h.hdr.counts for h in self.hists)
        self._clear()

    def _clear(self) -> None:
        self.count = 0
        self.outcomes: dict[str, int] = {}
        self.nbytes = 0
        self.verify_errors = 0
        self.below = [0, 0, 0]
        self.above = [0, 0, 0]

    def record(self, response_us: int, service_us: int, lateness_us: int,
               outcome: str = OK, nbytes: int = 0) -> None:
        """One finished op. Latencies are ``int`` µs (``(t1_ns - t0_ns) // 1000``; other numbers
        take a slower path and are truncated); ``outcome`` is :data:`OK`, :data:`MISS` or a
        Pegasus error code name (``"ERR_TIMEOUT"``). Every finished op, errors included, is a
        latency sample: a timeout is a 1 s response, not a missing point.

        Raises ``TypeError`` for a latency that is not a number, recording nothing."""
        # the three blocks are counts_index() inlined: this runs once per op per kind
        try:
            v = response_us
            if 0 <= v < _SUB_COUNT:
                self._r[v] += 1
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                self._r[((b + 1) << _HALF_MAG) + (v >> b) - _HALF] += 1
            else:
                self._r[self._clamped_index(0, v)] += 1
            v = service_us
            if 0 <= v < _SUB_COUNT:
                self._s[v] += 1
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                self._s[((b + 1) << _HALF_MAG) + (v >> b) - _HALF] += 1
            else:
                self._s[self._clamped_index(1, v)] += 1
            v = lateness_us
            if 0 <= v < _SUB_COUNT:
                self._l[v] += 1
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                self._l[((b + 1) << _HALF_MAG) + (v >> b) - _HALF] += 1
            else:
                self._l[self._clamped_index(2, v)] += 1
        except (TypeError, AttributeError):  # not an int: no exception cost on the int path
            self._finish_record((response_us, service_us, lateness_us))
        # counters last, so that a rejected sample leaves no trace
        self.count += 1
        o = self.outcomes
        o[outcome] = o.get(outcome, 0) + 1
        if nbytes:
            self.nbytes += nbytes

    def _clamped_index(self, kind: int, value: int) -> int:
        value, where = clamp_us(value)
        index = counts_index(value)  # before counting: NaN and junk raise here
        if where < 0:
            self.below[kind] += 1
        elif where > 0:
            self.above[kind] += 1
        return index

    def _finish_record(self, values: tuple) -> None:
        """The hot path stopped at a value it cannot index. Values before it were recorded (ints,
        and floats outside the range, which it clamps); convert the rest, or undo and raise, so
        that counts and histograms always agree."""
        arrays = (self._r, self._s, self._l)
        clampable = lambda v: isinstance(v, int) or (isinstance(v, float) and (v < 0 or v > HIGHEST_US))
        done = 0
        for v in values:
            if not clampable(v):
                break
            done += 1
        try:
            rest = [v if clampable(v) else int(v) for v in values[done:]]
        except (TypeError, ValueError, OverflowError):
            for kind in range(done):
                value, where = clamp_us(values[kind])
                arrays[kind][counts_index(int(value))] -= 1
                if where:
                    (self.below if where < 0 else self.above)[kind] -= 1
            raise TypeError(f"OpRecorder.record({self.phase}/{self.op}): latencies must be numbers of "
                            f"microseconds, got {values!r}") from None
        for kind, v in enumerate(rest, start=done):
            arrays[kind][self._clamped_index(kind, v)] += 1

    def verification_error(self, n: int = 1) -> None:
        """A read returned data that does not match what was written (or lost a write)."""
        self.verify_errors += n

    def take(self) -> OpInterval | None:
        """Encode and reset; ``None`` when nothing happened since the last call."""
        if not self.count and not self.verify_errors:
            return None
        blobs = []
        for h in self.hists:
            if self.count:
                _fix_tracking(h.hdr, self.count)
                blobs.append(h.encode())
                h.reset()
            else:
                blobs.append(b"")
        out = OpInterval(self.count, self.outcomes, self.nbytes, self.verify_errors,
                         tuple(self.below), tuple(self.above), tuple(blobs))
        self._clear()
        return out


@dataclass(frozen=True)
class OpInterval:
    """What one worker did for one (phase, op) in one interval. ``hists`` are encoded
    (:meth:`LatencyHistogram.encode`), one per kind in :data:`KINDS` order, ``b""`` if empty."""

    count: int
    outcomes: dict[str, int]
    nbytes: int
    verify_errors: int
    below: tuple[int, int, int]
    above: tuple[int, int, int]
    hists: tuple[bytes, bytes, bytes]


_SNAP_MAGIC = b"PLI1"
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class IntervalSnapshot:
    """One worker's interval: wall-clock ``t_start``/``t_end`` and its ops keyed (phase, op)."""

    worker_id: int
    t_start: float
    t_end: float
    ops: dict[tuple[str, str], OpInterval] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """``magic | u32 header length | JSON header | histogram blobs``."""
        entries, blobs = [], []
        for (phase, op), e in self.ops.items():
            entries.append([phase, op, e.count, e.outcomes, e.nbytes, e.verify_errors,
                            list(e.below), list(e.above), [len(b) for b in e.hists]])
            blobs.extend(e.hists)
        header = json.dumps({"w": self.worker_id, "t": [self.t_start, self.t_end], "ops": entries},
                            separators=(",", ":")).encode()
        return b"".join([_SNAP_MAGIC, _U32.pack(len(header)), header, *blobs])

    @classmethod
    def from_bytes(cls, data: bytes) -> IntervalSnapshot:
        """Raises ``ValueError`` naming what is wrong with the bytes."""
        if data[:4] != _SNAP_MAGIC:
            raise ValueError(f"interval snapshot: bad magic {bytes(data[:4])!r}, expected {_SNAP_MAGIC!r}")
        try:
            (n,) = _U32.unpack_from(data, 4)
            head = json.loads(data[8:8 + n])
            pos = 8 + n
            ops = {}
            for phase, op, count, outcomes, nbytes, verify, below, above, lens in head["ops"]:
                hists = []
                for length in lens:
                    hists.append(bytes(data[pos:pos + length]))
                    pos += length
                ops[(phase, op)] = OpInterval(count, outcomes, nbytes, verify, tuple(below),
                                              tuple(above), tuple(hists))
            t_start, t_end = head["t"]
            snap = cls(int(head["w"]), float(t_start), float(t_end), ops)
        except (struct.error, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"interval snapshot: malformed header: {exc}") from None
        if pos != len(data):
            raise ValueError(f"interval snapshot: {len(data) - pos} bytes left after the histograms")
        return snap


class IntervalRecorder:
    """A worker's recorder: one :class:`OpRecorder` per (phase, op), snapshotted every interval.

    >>> rec = IntervalRecorder(worker_id=3)
    >>> get = rec.op("run", "get")
    >>> get.record(420, 400, 20)
    >>> snap = rec.snapshot_and_reset(1000.0, 1001.0)
    >>> snap.ops[("run", "get")].count
    1
    """

    def __init__(self, worker_id: int = 0) -> None:
        self.worker_id = worker_id
        self._ops: dict[tuple[str, str], OpRecorder] = {}

    def op(self, phase: str, op: str) -> OpRecorder:
        key = (phase, op)
        rec = self._ops.get(key)
        if rec is None:
            rec = self._ops[key] = OpRecorder(phase, op)
        return rec

    def snapshot_and_reset(self, t_start: float, t_end: float) -> IntervalSnapshot:
        """Everything recorded since the last call; ``t_start``/``t_end`` are wall-clock seconds
        (``time.time()``) of the interval, aligned on the phase's start barrier by the caller."""
        ops = {}
        for key, rec in self._ops.items():
            entry = rec.take()
            if entry is not None:
                ops[key] = entry
        return IntervalSnapshot(self.worker_id, t_start, t_end, ops)


