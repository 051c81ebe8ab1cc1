"""Pegasus's routing hash: a reflected CRC-64 that is *not* a catalogued preset.

Polynomial 0x9A6C9329AC4BC9B5 (reflected form), init and final XOR all ones, unsigned result
(protocol doc 3.4). Partition = unsigned CRC mod partition count.
"""
from __future__ import annotations

import sys

_POLY = 0x9A6C9329AC4BC9B5
_MASK = 0xFFFFFFFFFFFFFFFF


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


TABLE = _make_table()
_LITTLE_ENDIAN = sys.byteorder == "little"


_TABLE16: tuple[int, ...] | None = None


def _build_table16() -> tuple[int, ...]:
    """Table for two bytes per step: entry i = the register after shifting in the 16 bits of i
    (low byte first). Built on first use (~35 ms, 64 Ki entries) so importing stays cheap."""
    global _TABLE16
    t = TABLE
    out = []
    for i in range(65536):
        c = t[i & 0xFF] ^ (i >> 8)
        out.append(t[c & 0xFF] ^ (c >> 8))
    _TABLE16 = tuple(out)
    return _TABLE16


def crc64(data: bytes) -> int:
    """Unsigned CRC-64 of ``data`` (0 for empty input, unlike pypegasus3's -2**64 artefact)."""
    crc = _MASK
    n = len(data)
    if n < 8 or not _LITTLE_ENDIAN:
        table = TABLE
        for b in data:
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ _MASK
    # Two bytes per step (the routing hash is on every request's hot path): the reflected CRC
    # consumes the first byte first, which is the low byte of a little-endian u16.
    t16 = _TABLE16 or _build_table16()
    if n & 1:
        crc = TABLE[(crc ^ data[0]) & 0xFF] ^ (crc >> 8)
        data = data[1:]
    for w in memoryview(data).cast("H"):
        crc = t16[(crc ^ w) & 0xFFFF] ^ (crc >> 16)
    return crc ^ _MASK


def hash_key_hash(hash_key: bytes) -> int:
    """Routing hash of a raw hash key (multi-ops, sortkey_count, check_and_*)."""
    return crc64(hash_key)


def key_hash(encoded_key: bytes) -> int:
    """Routing hash of an encoded key ``[u16 len][hash key][sort key]``.

    When the hash key is empty (L == 0) the server hashes the sort key instead, so single-key
    operations with an empty hash key still spread over partitions.
    """
    n = (encoded_key[0] << 8) | encoded_key[1]
    if n:
        return crc64(encoded_key[2 : 2 + n])
    return crc64(encoded_key[2:])


def partition_index(hash_value: int, partition_count: int) -> int:
    """Unsigned modulo; equals ``hash & (count - 1)`` for the power-of-two counts real tables use."""
    return (hash_value & _MASK) % partition_count
