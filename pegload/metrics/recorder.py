"""The worker side: one OpRecorder per (phase, op) on the hot path, IntervalRecorder snapshotting
them every interval, and the IntervalSnapshot bytes sent to the coordinator."""
from __future__ import annotations

import ctypes
import json
import struct
from array import array
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from pegload.metrics.histogram import (
    _HALF,
    _HALF_MAG,
    _SHIFT,
    _SUB_COUNT,
    COUNTS_LEN,
    HIGHEST_US,
    OK,
    LatencyHistogram,
    clamp_us,
    counts_index,
)


def _fix_tracking(h: HdrHistogram, total: int) -> None:
    """After raw counts writes: make the wrapper encode the full array (the decoder recomputes
    min, max and total from the counts, so these only need to be safe upper bounds)."""
    h.total_count = total
    h.min_value = 0
    h.max_value = HIGHEST_US


# Counts slots below _HOT (values below 131,072 µs, where nearly every sample lands) are counted
# in a plain list: incrementing a list item costs a third of a ctypes array item. The rarer
# slower samples go straight into the HdrHistogram's own counts array. take() copies the lists
# in (one C-level conversion of 8,192 slots, ~70 µs) once per interval.
_HOT = 8192
_HOT_BYTES = _HOT * ctypes.sizeof(ctypes.c_uint64)
assert _HOT <= COUNTS_LEN and _SUB_COUNT <= _HOT


def _new_hot() -> list[int]:
    return [0] * _HOT


def _stage(hot: list[int]) -> array:
    return array("Q", hot)


def _load_hot(h: HdrHistogram, staged: array) -> None:
    """Put the staged hot slots into the histogram's counts (slots the recorder never writes)."""
    ctypes.memmove(h.counts, staged.buffer_info()[0], _HOT_BYTES)


class OpRecorder:
    """Counters and three histograms for one (phase, op) in one worker. Not thread-safe (one
    gevent loop records into it). Get it once from :meth:`IntervalRecorder.op` and keep it.

    Two ways to record an op: :meth:`record` (any op) and :meth:`record_closed` (a closed-loop
    op, whose response time is its service time and whose lateness is 0 by definition: one
    bucket index for both histograms, and the lateness zeros and ``ok`` outcomes are counted in
    bulk when the interval is taken). Both give the same snapshot for the same samples."""

    __slots__ = ("phase", "op", "nbytes", "verify_errors", "below", "above", "hists",
                 "_r", "_s", "_l", "_rc", "_sc", "_lc", "_n", "_closed", "_not_ok")

    def __init__(self, phase: str, op: str) -> None:
        self.phase, self.op = phase, op
        self.hists = (LatencyHistogram(), LatencyHistogram(), LatencyHistogram())
        # per kind (response, service, lateness): hot slots in a list, all others in the histogram
        self._r, self._s, self._l = _new_hot(), _new_hot(), _new_hot()
        self._rc, self._sc, self._lc = (h.hdr.counts for h in self.hists)
        self._clear()

    def _clear(self) -> None:
        self._n = 0  # ops recorded by record()
        self._closed = 0  # ops recorded by record_closed(): their lateness zeros are not counted yet
        self._not_ok: dict[str, int] = {}  # outcomes other than OK (OK = the rest of the count)
        self.nbytes = 0
        self.verify_errors = 0
        self.below = [0, 0, 0]
        self.above = [0, 0, 0]

    @property
    def count(self) -> int:
        """Ops recorded since the last :meth:`take`."""
        return self._n + self._closed

    @property
    def outcomes(self) -> dict[str, int]:
        """Ops per outcome since the last :meth:`take`."""
        ok = self._n + self._closed - sum(self._not_ok.values())
        return {OK: ok, **self._not_ok} if ok else dict(self._not_ok)

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
                i = ((b + 1) << _HALF_MAG) + (v >> b) - _HALF
                if i < _HOT:
                    self._r[i] += 1
                else:
                    self._rc[i] += 1
            else:
                self._count(0, self._clamped_index(0, v))
            v = service_us
            if 0 <= v < _SUB_COUNT:
                self._s[v] += 1
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                i = ((b + 1) << _HALF_MAG) + (v >> b) - _HALF
                if i < _HOT:
                    self._s[i] += 1
                else:
                    self._sc[i] += 1
            else:
                self._count(1, self._clamped_index(1, v))
            v = lateness_us
            if 0 <= v < _SUB_COUNT:
                self._l[v] += 1
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                i = ((b + 1) << _HALF_MAG) + (v >> b) - _HALF
                if i < _HOT:
                    self._l[i] += 1
                else:
                    self._lc[i] += 1
            else:
                self._count(2, self._clamped_index(2, v))
        except (TypeError, AttributeError):  # not an int: no exception cost on the int path
            self._finish_record((response_us, service_us, lateness_us))
        # counters last, so that a rejected sample leaves no trace
        self._n += 1
        if outcome != OK:
            o = self._not_ok
            o[outcome] = o.get(outcome, 0) + 1
        if nbytes:
            self.nbytes += nbytes

    def record_closed(self, service_us: int, outcome: str = OK, nbytes: int = 0) -> None:
        """A closed-loop op: the same as ``record(service_us, service_us, 0, outcome, nbytes)``,
        in about half the time (the runner's hot path)."""
        v = service_us
        try:
            if 0 <= v < _SUB_COUNT:
                i = v
            elif 0 < v <= HIGHEST_US:
                b = v.bit_length() - _SHIFT
                i = ((b + 1) << _HALF_MAG) + (v >> b) - _HALF
            else:
                i = None  # out of range: record() clamps and counts it
            if i is None:
                pass
            elif i < _HOT:
                self._r[i] += 1  # a float raises here, before anything is counted
                self._s[i] += 1
            else:
                self._rc[i] += 1
                self._sc[i] += 1
        except (TypeError, AttributeError):
            i = None  # not an int: record() converts or rejects it
        if i is None:
            return self.record(v, v, 0, outcome, nbytes)
        self._closed += 1
        if outcome != OK:
            o = self._not_ok
            o[outcome] = o.get(outcome, 0) + 1
        if nbytes:
            self.nbytes += nbytes

    def _count(self, kind: int, index: int, n: int = 1) -> None:
        """Slow path: add ``n`` to slot ``index`` of ``kind``, wherever that slot is kept."""
        if index < _HOT:
            (self._r, self._s, self._l)[kind][index] += n
        else:
            (self._rc, self._sc, self._lc)[kind][index] += n

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
                self._count(kind, counts_index(int(value)), -1)
                if where:
                    (self.below if where < 0 else self.above)[kind] -= 1
            raise TypeError(f"OpRecorder.record({self.phase}/{self.op}): latencies must be numbers of "
                            f"microseconds, got {values!r}") from None
        for kind, v in enumerate(rest, start=done):
            self._count(kind, self._clamped_index(kind, v))

    def verification_error(self, n: int = 1) -> None:
        """A read returned data that does not match what was written (or lost a write)."""
        self.verify_errors += n

    def take(self) -> OpInterval | None:
        """Encode and reset; ``None`` when nothing happened since the last call."""
        count = self.count
        if not count and not self.verify_errors:
            return None
        if not count:
            out = OpInterval(0, {}, self.nbytes, self.verify_errors, tuple(self.below), tuple(self.above),
                             (b"", b"", b""))
            self._clear()
            return out
        response, service, lateness = (h.hdr for h in self.hists)
        staged = _stage(self._r)
        _load_hot(response, staged)
        # only closed-loop ops: the service slots are the response slots, and lateness is all 0
        _load_hot(service, staged if not self._n else _stage(self._s))
        if self._n:
            _load_hot(lateness, _stage(self._l))
            self._l = _new_hot()
        lateness.counts[0] += self._closed  # the closed-loop ops' lateness samples, all 0 µs
        self._r, self._s = _new_hot(), _new_hot()
        blobs: list[bytes] = []
        for h in self.hists:
            _fix_tracking(h.hdr, count)
            blobs.append(h.encode())
            h.reset()
        out = OpInterval(count, self.outcomes, self.nbytes, self.verify_errors,
                         tuple(self.below), tuple(self.above), tuple(blobs))
        self._clear()
        return out


@dataclass(frozen=True)
class OpInterval:
    """What one worker did for one (phase, op) in one interval. ``hists`` are encoded
    (:meth:`LatencyHistogram.encode`), one per kind in :data:`KINDS` order, ``b""`` if empty;
    ``below``/``above`` count the clamped samples, also one per kind. The tuples are typed by
    element, not length: the recorder builds them from its per-kind lists and ``from_bytes``
    from JSON lists."""

    count: int
    outcomes: dict[str, int]
    nbytes: int
    verify_errors: int
    below: tuple[int, ...]
    above: tuple[int, ...]
    hists: tuple[bytes, ...]


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
        entries: list[list[object]] = []
        blobs: list[bytes] = []
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


