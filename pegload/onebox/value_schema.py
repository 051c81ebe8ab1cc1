"""How a record is stored: the real server's value schema version 1.

``u32be expire_ts | u64be timetag | user bytes``. ``expire_ts`` is absolute Pegasus-epoch seconds
(0 = never expires). The timetag (56-bit microsecond timestamp, 7-bit cluster id, 1-bit delete
flag) only matters to cross-cluster duplication; it is filled like the real server does so a store
written by the onebox has the same layout, but nothing reads it back.
"""
from __future__ import annotations

import struct
import time

_HEADER = struct.Struct(">IQ")
HEADER_LEN = _HEADER.size  # 12
_EXPIRE = struct.Struct(">I")

CLUSTER_ID = 1  # the onebox is "cluster 1"; only duplication would care


def timetag(now_us: int | None = None) -> int:
    us = time.time_ns() // 1000 if now_us is None else now_us
    return ((us & ((1 << 56) - 1)) << 8) | (CLUSTER_ID << 1)


def pack(user_value: bytes, expire_ts: int) -> bytes:
    """Stored form of ``user_value``. ``expire_ts`` is kept as the u32 the server stores: a
    negative i32 from the wire wraps to a huge value (never expires in practice), as upstream."""
    return _HEADER.pack(expire_ts & 0xFFFFFFFF, timetag()) + user_value


def expire_ts(raw: bytes) -> int:
    return _EXPIRE.unpack_from(raw, 0)[0]


def user_value(raw: bytes) -> bytes:
    return raw[HEADER_LEN:]
