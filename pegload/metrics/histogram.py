"""The fixed histogram layout (µs, 1 µs..1 h, 3 digits), clamping, and LatencyHistogram: one
latency distribution with exact percentiles and the standard V2 encodings."""
from __future__ import annotations

import base64
import ctypes
import math
import struct
import sys
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

import pyhdrh
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3

KINDS = ("response", "service", "lateness")
OK = "ok"  # outcome of a successful op (for reads: a hit)
MISS = "miss"  # a read that found nothing (Pegasus "not found"); not an error

# Layout constants of the fixed histogram, taken from the library so they cannot drift.
_PROTO = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
COUNTS_LEN: int = _PROTO.counts_len
_SUB_COUNT: int = _PROTO.sub_bucket_count  # values below this map to index == value
_HALF_MAG: int = _PROTO.sub_bucket_half_count_magnitude
_HALF: int = _PROTO.sub_bucket_half_count
_SHIFT: int = _HALF_MAG + 1
_COUNTS_BYTES = COUNTS_LEN * ctypes.sizeof(ctypes.c_uint64)
assert _PROTO.unit_magnitude == 0, "the fast index below assumes lowest == 1"
del _PROTO

# V2 "compressed histogram" external header (cookie + payload length), then base64: "HISTF..."
_V2_COMPRESSED_COOKIE = 0x1C849314
_EXT_HEADER = struct.Struct(">II")


def counts_index(value: int) -> int:
    """Index of ``value`` (already in range) in the counts array of the fixed layout."""
    if value < _SUB_COUNT:
        return value
    b = value.bit_length() - _SHIFT
    return ((b + 1) << _HALF_MAG) + (value >> b) - _HALF


def lowest_equivalent(index: int) -> int:
    """Smallest value that lands in counts slot ``index``."""
    bucket = (index >> _HALF_MAG) - 1
    sub = (index & (_HALF - 1)) + _HALF
    if bucket < 0:
        return sub - _HALF
    return sub << bucket


def slot_width(index: int) -> int:
    """How many distinct values share counts slot ``index``."""
    return 1 << max((index >> _HALF_MAG) - 1, 0)


def highest_equivalent(index: int) -> int:
    """Largest value that lands in counts slot ``index`` (HdrHistogram reports this for p > 0)."""
    return lowest_equivalent(index) + slot_width(index) - 1


def median_equivalent(index: int) -> int:
    """Representative value of slot ``index`` for means (HdrHistogram's convention)."""
    return lowest_equivalent(index) + (slot_width(index) >> 1)


def clamp_us(value: int) -> tuple[int, int]:
    """``(clamped value, -1 below / 0 in range / 1 above)``."""
    if value < 0:
        return 0, -1
    if value > HIGHEST_US:
        return HIGHEST_US, 1
    return value, 0


def percentile_rank(p: float, total: int) -> int:
    """The 1-based rank of the sample reported as the ``p`` th percentile of ``total`` samples:
    HdrHistogram's reference rule (Java ``AbstractHistogram.getValueAtPercentile``): ``p`` is
    nudged one ulp down (so that ``p/100 x total`` landing a rounding error above a whole number
    does not skip a rank), then ``ceil(p/100 x total)``, at least 1. A reported percentile is
    never below the requested one (rounding to nearest, as the hdrh package does, can be)."""
    requested = min(max(math.nextafter(p, -math.inf), 0.0), 100.0)
    return max(math.ceil(requested / 100.0 * total), 1)


class HistogramFormatError(ValueError):
    """Encoded histogram bytes that are corrupt or use another layout than pegload's."""


class LatencyHistogram:
    """One latency distribution in pegload's fixed layout, wrapping an ``HdrHistogram``.

    >>> h = LatencyHistogram(); h.record(250); h.record(-3)
    -1
    >>> h.total, h.percentiles([50, 100])
    (2, {50: 0, 100: 250})
    """

    __slots__ = ("hdr",)

    def __init__(self, hdr: HdrHistogram | None = None) -> None:
        self.hdr = hdr or HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS, b64_wrap=False)

    # -- recording (slow path; OpRecorder has the inlined hot path) --
    def record(self, value_us: int, count: int = 1) -> int:
        """Record ``count`` samples; returns -1/0/1 when clamped below / in range / above."""
        value, clamped = clamp_us(int(value_us))
        self.hdr.counts[counts_index(value)] += count
        self._note(value, count)
        return clamped

    def _note(self, value: int, count: int) -> None:
        h = self.hdr
        h.total_count += count
        if value < h.min_value:
            h.min_value = value
        if value > h.max_value:
            h.max_value = value

    @property
    def counts(self) -> ctypes.Array:
        return self.hdr.counts

    @property
    def total(self) -> int:
        return self.hdr.total_count

    def __len__(self) -> int:
        return self.hdr.total_count

    # -- merging --
    def add(self, other: LatencyHistogram) -> None:
        if other.hdr.total_count:
            self.hdr.add(other.hdr)

    def add_encoded(self, data: bytes | str) -> None:
        """Add an encoded histogram (either form of :meth:`decode`). The compact pipe form, what
        workers send every interval, is decoded into a reused scratch array and only the span
        of non-zero counts is added: no histogram is allocated per snapshot (this is most of the
        coordinator's merge cost; bench/coordinator_merge.py)."""
        if isinstance(data, str) or data[:4] == b"HIST" or not _fast_add(self, data):
            self.add(LatencyHistogram.decode(data))

    def reset(self) -> None:
        ctypes.memset(ctypes.addressof(self.hdr.counts), 0, _COUNTS_BYTES)
        h = self.hdr
        h.total_count = 0
        h.min_value = sys.maxsize
        h.max_value = 0

    def copy(self) -> LatencyHistogram:
        out = LatencyHistogram()
        out.add(self)
        return out

    # -- encoding: raw compressed V2 payload (pipe) or the standard base64 form (files) --
    def encode(self) -> bytes:
        """The zlib-compressed V2 payload (no base64, no external header): compact for pipes."""
        return self.hdr.encode()

    def to_base64(self) -> str:
        """The standard ``HISTF...`` string that HdrHistogram tools (Java, C, Python) decode."""
        payload = self.hdr.encode()
        return base64.b64encode(_EXT_HEADER.pack(_V2_COMPRESSED_COOKIE, len(payload)) + payload).decode()

    @classmethod
    def decode(cls, data: bytes | str) -> LatencyHistogram:
        """Decode either form produced above. Raises :class:`HistogramFormatError`."""
        try:
            if isinstance(data, str) or data[:4] == b"HIST":
                raw = base64.b64decode(data, validate=True)
                cookie, length = _EXT_HEADER.unpack_from(raw, 0)
                if cookie != _V2_COMPRESSED_COOKIE or length != len(raw) - _EXT_HEADER.size:
                    raise HistogramFormatError("not a V2 compressed histogram (bad cookie or length)")
                data = raw[_EXT_HEADER.size:]
            hdr = HdrHistogram.decode(data, b64_wrap=False)
            hdr.b64_wrap = hdr.encoder.b64_wrap = False  # decode() leaves the wrapper's default on
        except HistogramFormatError:
            raise
        except Exception as exc:  # zlib.error, binascii.Error, struct.error, hdrh's own classes
            raise HistogramFormatError(f"corrupt encoded histogram: {exc}") from None
        layout = (hdr.lowest_trackable_value, hdr.highest_trackable_value, hdr.significant_figures)
        if layout != (LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS):
            raise HistogramFormatError(
                f"histogram layout (lowest, highest, digits) = {layout}; pegload records "
                f"{(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)} (µs, 1 µs..1 h, 3 digits)")
        return cls(hdr)

    # -- statistics --
    def nonzero(self) -> tuple[int, list[int]]:
        """``(first index, counts from there to the last non-zero slot)``; ``(0, [])`` if empty."""
        h = self.hdr
        if not h.total_count:
            return 0, []
        lo = counts_index(min(max(h.min_value, 0), HIGHEST_US))
        hi = counts_index(min(h.max_value, HIGHEST_US))
        return lo, h.counts[lo:hi + 1]

    def percentiles(self, ps: Sequence[float]) -> dict[float, int]:
        """HdrHistogram's ``getValueAtPercentile`` for each level: the highest equivalent value
        of the slot holding the sample of rank :func:`percentile_rank` (lowest for 0)."""
        total = self.hdr.total_count
        if not total:
            return {p: 0 for p in ps}
        lo, counts = self.nonzero()
        cumulative = list(accumulate(counts))
        out = {}
        for p in ps:
            index = lo + bisect_left(cumulative, percentile_rank(p, total))
            out[p] = highest_equivalent(index) if p else lowest_equivalent(index)
        return out

    def max(self) -> int:
        return self.percentiles([100.0])[100.0]

    def min(self) -> int:
        return self.percentiles([0.0])[0.0]

    def mean(self) -> float:
        total = self.hdr.total_count
        if not total:
            return 0.0
        lo, counts = self.nonzero()
        return sum(c * median_equivalent(lo + i) for i, c in enumerate(counts) if c) / total

    def stddev(self) -> float:
        total = self.hdr.total_count
        if not total:
            return 0.0
        mean = self.mean()
        lo, counts = self.nonzero()
        return math.sqrt(sum(c * (median_equivalent(lo + i) - mean) ** 2
                             for i, c in enumerate(counts) if c) / total)


# The V2 payload header (hdrh.codec.PayloadHeader): cookie, payload length, normalizing index
# offset, significant figures, lowest and highest trackable value, conversion ratio.
_PAYLOAD_HEADER = struct.Struct(">IIIIQQd")
_V2_PAYLOAD_COOKIE_BASE = 0x1C849303  # the cookie without its word-size nibble
# Scratch counts for _fast_add, zeroed again after each use. The coordinator merges from one
# thread; a second merging thread would need its own.
_SCRATCH = (ctypes.c_int64 * COUNTS_LEN)()


def _fast_add(h: LatencyHistogram, data: bytes) -> bool:
    """Add the compressed V2 payload ``data`` to ``h`` without allocating a histogram; False
    (nothing added) when it is not a plain payload in pegload's layout (the caller then takes
    the general path, which names the problem)."""
    try:
        raw = zlib.decompress(data)
        cookie, length, normalizing, digits, lowest, highest, _ratio = _PAYLOAD_HEADER.unpack_from(raw, 0)
    except (zlib.error, struct.error):
        return False
    if (cookie & ~0xF0) != _V2_PAYLOAD_COOKIE_BASE or length != len(raw) - _PAYLOAD_HEADER.size \
            or normalizing or (lowest, highest, digits) != (LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS):
        return False
    got = pyhdrh.decode(raw, _PAYLOAD_HEADER.size, ctypes.addressof(_SCRATCH), COUNTS_LEN, 8)
    first, last, total = got["min_nonzero_index"], got["max_nonzero_index"], got["total"]
    if total <= 0 or first < 0:
        if last >= 0:  # zero counts written: leave the scratch clean
            ctypes.memset(ctypes.addressof(_SCRATCH), 0, _COUNTS_BYTES)
        return True
    offset, span = first * 8, last - first + 1
    pyhdrh.add_array(ctypes.addressof(h.hdr.counts) + offset, ctypes.addressof(_SCRATCH) + offset, span, 8)
    ctypes.memset(ctypes.addressof(_SCRATCH) + offset, 0, span * 8)
    hdr = h.hdr
    hdr.total_count += total
    hdr.min_value = min(hdr.min_value, lowest_equivalent(first))
    hdr.max_value = max(hdr.max_value, highest_equivalent(last))
    return True
