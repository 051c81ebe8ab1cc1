"""Pegasus storage keys and TTL arithmetic (protocol doc 3.3 and 6)."""
from __future__ import annotations

import time

MAX_HASH_KEY_LEN = 65535  # exclusive: the server aborts on hash keys of 65535 bytes or more

# Pegasus stores expiry times as seconds since 2016-01-01 00:00:00 UTC.
PEGASUS_EPOCH = 1451606400


def encode_key(hash_key: bytes, sort_key: bytes) -> bytes:
    """``[u16 big-endian len(hash_key)][hash_key][sort_key]``; bytewise order = Pegasus order."""
    n = len(hash_key)
    if n >= MAX_HASH_KEY_LEN:
        raise ValueError(f"hash key is {n} bytes; Pegasus allows at most {MAX_HASH_KEY_LEN - 1}")
    return bytes((n >> 8, n & 0xFF)) + hash_key + sort_key


def decode_key(encoded: bytes) -> tuple[bytes, bytes]:
    """Inverse of :func:`encode_key`; raises ValueError when the length prefix does not fit."""
    if len(encoded) < 2:
        raise ValueError(f"encoded key of {len(encoded)} bytes has no 2-byte length prefix")
    n = (encoded[0] << 8) | encoded[1]
    if n == 0xFFFF or 2 + n > len(encoded):
        raise ValueError(f"encoded key declares a {n}-byte hash key but holds {len(encoded) - 2} bytes")
    return bytes(encoded[2 : 2 + n]), bytes(encoded[2 + n :])


def next_prefix(b: bytes) -> bytes:
    """Smallest byte string greater than every string starting with ``b``.

    Increments the last byte that is not 0xFF and drops what follows; ``b''`` when there is
    none (no upper bound).
    """
    i = len(b) - 1
    while i >= 0 and b[i] == 0xFF:
        i -= 1
    if i < 0:
        return b""
    return bytes(b[:i]) + bytes((b[i] + 1,))


def hash_key_upper_bound(hash_key: bytes) -> bytes:
    """Exclusive encoded upper bound of all keys under ``hash_key``."""
    return next_prefix(encode_key(hash_key, b""))


def epoch_now(now: float | None = None) -> int:
    """Seconds since the Pegasus epoch."""
    return int(time.time() if now is None else now) - PEGASUS_EPOCH


def expire_ts_for_ttl(ttl_seconds: int, now: float | None = None) -> int:
    """Absolute ``expire_ts_seconds`` a client sends for a TTL; 0 means no TTL."""
    if ttl_seconds <= 0:
        return 0
    return epoch_now(now) + ttl_seconds


def is_expired(expire_ts: int, epoch_now_value: int) -> bool:
    """A record is expired when ``0 < expire_ts <= now`` (the boundary second is already expired)."""
    return 0 < expire_ts <= epoch_now_value
