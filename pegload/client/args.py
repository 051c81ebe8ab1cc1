"""Checking and converting the arguments of client calls (keys, key lists, TTLs)."""
from __future__ import annotations

from collections.abc import Iterable

from .wire.keys import MAX_HASH_KEY_LEN, expire_ts_for_ttl


def to_bytes(v, what: str) -> bytes:
    """Keys and values: bytes as they are, str as UTF-8; anything else is a TypeError."""
    if v.__class__ is bytes:
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise TypeError(f"{what} must be bytes or str, not {type(v).__name__}")


def hash_key_arg(v, op: str) -> bytes:
    hk = to_bytes(v, "hash_key")
    if not hk:
        # The server stores such records by their sort key's hash, so multi-key operations on
        # an empty hash key would look in one partition only (protocol doc 3.5).
        raise ValueError(f"{op}: hash_key must not be empty")
    if len(hk) >= MAX_HASH_KEY_LEN:
        raise ValueError(f"{op}: hash_key is {len(hk)} bytes; Pegasus allows at most {MAX_HASH_KEY_LEN - 1}")
    return hk


def sort_keys_arg(keys, op: str) -> list[bytes]:
    if isinstance(keys, (str, bytes, bytearray)) or not isinstance(keys, Iterable):
        raise TypeError(f"{op}: sort keys must be an iterable of keys (e.g. a set), "
                        f"not {type(keys).__name__}")
    return [to_bytes(k, "sort_key") for k in keys]


def ttl_arg(ttl_seconds: int, op: str) -> int:
    if ttl_seconds < 0:
        raise ValueError(f"{op}: ttl must be >= 0 seconds, not {ttl_seconds}")
    return expire_ts_for_ttl(ttl_seconds)
