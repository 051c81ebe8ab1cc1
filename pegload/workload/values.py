"""Values: sizes, payloads, and the verification format.

Sizes: ``ValueSizer(value_size, random).next()`` draws from the scenario's fixed / uniform /
weighted size distribution.

Payloads without verification: slices of one random buffer made once per worker
(``PayloadSource``) - cheap, incompressible, not checkable.

Verification format (``make_value`` / ``check_value``): every value written in verification
mode is a pure function of (hash key, sort key, version, size)::

    offset  size  field
    0       4     magic b"PLV1" (pegload value, format 1)
    4       8     version, unsigned big-endian (1 = written by the load phase)
    12      4     total value size in bytes, unsigned big-endian
    16      4     CRC-32 of (len(hk) u16, len(sk) u16, hk, sk, version, size)
    20      ...   filler: an 8-byte pattern derived from that CRC, repeated

``check_value(hk, sk, value)`` re-derives the whole value from the header and compares all the
bytes, so it tells a correct value (and its version) from a corrupt one: wrong magic,
truncated/extended, a value that belongs to another key, or damaged bytes. Whether a correct
version is also *fresh* needs the writer's knowledge; see ``verify.py``.
"""
from __future__ import annotations

import bisect
import random as _random_module
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

MAGIC = b"PLV1"
HEADER_SIZE = 20
_HEADER = struct.Struct(">4sQII")
_CRC_INPUT = struct.Struct(">HH")
_TAIL = struct.Struct(">QI")
_PATTERN = struct.Struct(">II")

# Verification outcomes (VerifyResult.status)
CORRECT = "correct"  # a value this reader may see now (or an absence it may see)
STALE = "stale"  # an intact value older than a write acknowledged before the read: a lost write
CORRUPT = "corrupt"  # bytes that no writer produced for this key (or a version never written)
MISSING = "missing"  # no record although an acknowledged write put one there: a lost write
STATUSES = (CORRECT, STALE, CORRUPT, MISSING)


@dataclass(frozen=True)
class VerifyResult:
    status: str  # one of STATUSES
    version: int | None = None  # the version read, when the header was intact
    reason: str = ""  # why, for anything but CORRECT

    @property
    def ok(self) -> bool:
        return self.status == CORRECT


_OK_ABSENT = VerifyResult(CORRECT)


def _crc(hash_key: bytes, sort_key: bytes, version: int, size: int) -> int:
    return zlib.crc32(_CRC_INPUT.pack(len(hash_key), len(sort_key)) + hash_key + sort_key + _TAIL.pack(version, size))


def _filler(crc: int, length: int) -> bytes:
    pattern = _PATTERN.pack(crc, crc ^ 0x9E3779B9)
    return (pattern * (length // 8 + 1))[:length]


def make_value(hash_key: bytes, sort_key: bytes, version: int, size: int) -> bytes:
    """The verification value of (hash_key, sort_key) at ``version``, ``size`` bytes long
    (size >= HEADER_SIZE)."""
    if size < HEADER_SIZE:
        raise ValueError(f"verification values need at least {HEADER_SIZE} bytes, got {size}")
    crc = _crc(hash_key, sort_key, version, size)
    return _HEADER.pack(MAGIC, version, size, crc) + _filler(crc, size - HEADER_SIZE)


def check_value(hash_key: bytes, sort_key: bytes, value: bytes | None) -> VerifyResult:
    """Integrity of a value read from (hash_key, sort_key): CORRECT with its version, CORRUPT
    with the reason, or MISSING when ``value`` is None. Freshness is not judged here."""
    if value is None:
        return VerifyResult(MISSING, None, "no record")
    if len(value) < HEADER_SIZE or value[:4] != MAGIC:
        return VerifyResult(CORRUPT, None, f"no pegload header ({len(value)} bytes: {bytes(value[:8])!r}...)")
    _, version, size, crc = _HEADER.unpack_from(value)
    if size != len(value):
        return VerifyResult(CORRUPT, version, f"header says {size} bytes, read {len(value)}")
    if crc != _crc(hash_key, sort_key, version, size):
        return VerifyResult(CORRUPT, version,
                            "checksum does not match this key (value of another key, or damaged header)")
    if value[HEADER_SIZE:] != _filler(crc, size - HEADER_SIZE):
        return VerifyResult(CORRUPT, version, "damaged value bytes")
    return VerifyResult(CORRECT, version)


class ValueSizer:
    """Draws value sizes from a scenario ValueSize."""

    __slots__ = ("next",)

    def __init__(self, value_size, random: Callable[[], float]):
        kind, sizes = value_size.kind, value_size.sizes
        if kind == "fixed":
            n = sizes[0]
            self.next = lambda: n
        elif kind == "uniform":
            lo, span = sizes[0], sizes[1] - sizes[0] + 1
            self.next = lambda: lo + int(random() * span)
        else:
            cumulative, total = [], 0.0
            for w in value_size.weights:
                total += w
                cumulative.append(total)
            choices = tuple(sizes)
            last = len(choices) - 1

            def weighted() -> int:
                i = bisect.bisect_right(cumulative, random() * total)
                return choices[i if i <= last else last]

            self.next = weighted


class PayloadSource:
    """Random, incompressible payload bytes without per-op generation cost: slices of one
    buffer of ``max_size + 4096`` random bytes (made once, from the seed)."""

    __slots__ = ("_buf", "_span")

    def __init__(self, max_size: int, seed: int):
        rng = _random_module.Random(seed)
        self._span = 4096
        self._buf = rng.randbytes(max_size + self._span)

    def payload(self, size: int, u: float) -> bytes:
        """``size`` bytes starting at an offset picked by ``u`` in [0, 1)."""
        start = int(u * self._span)
        return self._buf[start:start + size]
