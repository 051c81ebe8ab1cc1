"""Precomputed request encoding and reply splitting for the client's hot path.

Byte-identical to ``frames.encode_request`` / ``frames.decode_response`` (the unit tests compare
them), but with everything that depends only on the RPC name computed once: one ``struct`` call
writes the 48-byte v0 header, the message header and the seqid; the body is appended after.
"""
from __future__ import annotations

import struct
from typing import Any

from .frames import MAGIC, MSG_CALL, REQUEST_V0_HEADER_LEN, decode_result
from .rpc import RPCS
from .thrift import WireError, Writer, _read_str

_I32 = struct.Struct(">i")
_pack_i32 = _I32.pack
_unpack_i32 = _I32.unpack_from
_unpack_i64 = struct.Struct(">q").unpack_from
_OK_HEAD = b"\x00\x00\x00\x06ERR_OK"
_ARGS_FIELD = b"\x0c\x00\x01"  # args struct, field 1, STRUCT-typed (blobs and structs alike)
_RESULT_FIELD = b"\x0c\x00\x00"  # result struct, field 0 ("success")
_U64 = 0xFFFFFFFFFFFFFFFF


class RequestEncoder:
    """Encodes v0 request frames of one RPC.

    ``partition_hash`` must be 0 or the exact routing hash (protocol doc 1.5); it is written as
    an unsigned 64-bit value.
    """

    __slots__ = ("rpc_name", "_head", "_head_size", "_fixed")

    def __init__(self, rpc_name: str) -> None:
        if rpc_name not in RPCS:
            raise ValueError(f"unknown RPC {rpc_name!r}")
        self.rpc_name = rpc_name
        name = rpc_name.encode()
        prefix = struct.pack(">I", 0x80010000 | MSG_CALL) + _pack_i32(len(name)) + name
        # v0 header, then the message header (CALL, name), then the seqid. The thread hash slot
        # is packed unsigned: ``(app_id * 7919 + pidx) & 0xFFFFFFFF`` written as a u32 is the
        # same four bytes as ``frames.thread_hash`` (its signed wrap) written as an i32. The
        # encoders below compute it inline on purpose: calling ``thread_hash`` costs ~30 ns per
        # request, 2% of the client's own path (``bench/client.py --no-io``); the unit tests
        # check the bytes against ``encode_request`` for app ids that wrap.
        self._head = struct.Struct(f">4sIIIIIiiiIQ{len(prefix)}si")
        self._head_size = self._head.size
        self._fixed = prefix

    def blob(self, seqid: int, blob: bytes, app_id: int, partition_index: int,
             client_timeout: int, partition_hash: int) -> bytes:
        """Frame of an RPC whose single argument is one rDSN blob (GET, TTL, REMOVE, ...)."""
        n = len(blob)
        body_len = self._head_size - REQUEST_V0_HEADER_LEN + 8 + n
        th = (app_id * 7919 + partition_index) & 0xFFFFFFFF  # frames.thread_hash, inlined
        return b"".join((
            self._head.pack(MAGIC, 0, REQUEST_V0_HEADER_LEN, 0, body_len, 0, app_id, partition_index,
                            client_timeout, th, partition_hash & _U64, self._fixed, seqid),
            _ARGS_FIELD, _pack_i32(n), blob, b"\x00"))

    def update(self, seqid: int, key: bytes, value: bytes, expire_ts: int, app_id: int,
               partition_index: int, client_timeout: int, partition_hash: int) -> bytes:
        """PUT frame: ``update_request{key, value, expire_ts_seconds}`` written directly (the
        same bytes as ``struct`` with an ``UpdateRequest`` whose optional fields are unset)."""
        body_len = self._head_size - REQUEST_V0_HEADER_LEN + 26 + len(key) + len(value)
        th = (app_id * 7919 + partition_index) & 0xFFFFFFFF  # frames.thread_hash, inlined
        return b"".join((
            self._head.pack(MAGIC, 0, REQUEST_V0_HEADER_LEN, 0, body_len, 0, app_id, partition_index,
                            client_timeout, th, partition_hash & _U64, self._fixed, seqid),
            b"\x0c\x00\x01\x0c\x00\x01", _pack_i32(len(key)), key, b"\x0c\x00\x02",
            _pack_i32(len(value)), value, b"\x08\x00\x03", _pack_i32(expire_ts), b"\x00\x00"))

    def struct(self, seqid: int, args: Any, app_id: int, partition_index: int,
               client_timeout: int, partition_hash: int) -> bytearray:
        """Frame of an RPC whose single argument is a message object (``args.encode(w)``)."""
        w = Writer(self._head_size)
        w += _ARGS_FIELD
        args.encode(w)
        w.append(0)
        th = (app_id * 7919 + partition_index) & 0xFFFFFFFF  # frames.thread_hash, inlined
        self._head.pack_into(w, 0, MAGIC, 0, REQUEST_V0_HEADER_LEN, 0, len(w) - REQUEST_V0_HEADER_LEN,
                             0, app_id, partition_index, client_timeout, th, partition_hash & _U64,
                             self._fixed, seqid)
        return w

    def i64(self, seqid: int, value: int, app_id: int, partition_index: int,
            client_timeout: int, partition_hash: int) -> bytes:
        """Frame of an RPC whose single argument is one I64 (CLEAR_SCANNER)."""
        body_len = self._head_size - REQUEST_V0_HEADER_LEN + 12
        th = (app_id * 7919 + partition_index) & 0xFFFFFFFF  # frames.thread_hash, inlined
        return b"".join((
            self._head.pack(MAGIC, 0, REQUEST_V0_HEADER_LEN, 0, body_len, 0, app_id, partition_index,
                            client_timeout, th, partition_hash & _U64, self._fixed, seqid),
            b"\x0a\x00\x01", struct.pack(">q", value), b"\x00"))


def reply_error(frame: bytes) -> tuple[str | None, int]:
    """``(None, body_offset)`` for an ERR_OK reply, else ``(error_name, -1)``.

    The body offset points at the result wrapper (just after the seqid).
    """
    if frame[4:14] == _OK_HEAD and len(frame) >= 22:
        return None, 26 + _unpack_i32(frame, 18)[0]
    try:
        name, _ = _read_str(frame, 4)
    except (struct.error, IndexError) as e:
        raise WireError(f"truncated reply header: {e}") from None
    return name, -1


def reply_result(frame: bytes, offset: int, cls: type[Any], ack_name: str) -> Any:
    """Decode the result struct of an ERR_OK reply whose body starts at ``offset``."""
    if frame[offset : offset + 3] == _RESULT_FIELD:
        try:
            obj, p = cls._decode_at(frame, offset + 3)
        except (struct.error, IndexError) as e:
            raise WireError(f"truncated {ack_name} result: {e}") from None
        if p < len(frame) and frame[p] == 0:
            return obj
    return decode_result(frame, ack_name, offset)


def response_error(frame: bytes, offset: int) -> int | None:
    """The ``error`` field (field 1, i32) of a reply's response struct when it comes first, as
    every server writes it; None otherwise (then decode the struct normally)."""
    if frame[offset : offset + 6] == b"\x0c\x00\x00\x08\x00\x01" and len(frame) >= offset + 10:
        return _unpack_i32(frame, offset + 6)[0]
    return None


def read_response_value(frame: bytes, offset: int) -> tuple[int, bytes] | None:
    """``(error, value)`` of a GET reply laid out as every server writes it (error, then value,
    first), or None when the layout differs (then decode the struct normally)."""
    if frame[offset : offset + 6] != b"\x0c\x00\x00\x08\x00\x01" or \
            frame[offset + 10 : offset + 13] != b"\x0c\x00\x02" or len(frame) < offset + 17:
        return None
    n = _unpack_i32(frame, offset + 13)[0]
    start = offset + 17
    if n < 0 or start + n > len(frame):
        return None
    return _unpack_i32(frame, offset + 6)[0], frame[start : start + n]


def error_and_pairs(frame: bytes, offset: int) -> tuple[int, list[tuple[bytes, bytes]], int] | None:
    """``(error, [(key, value), ...], position after the list)`` of a multi_get or scan reply
    written the way servers write it (error as field 1, the key_value list as field 2, first),
    without building message objects; None when the layout differs (decode it normally)."""
    if frame[offset : offset + 6] != b"\x0c\x00\x00\x08\x00\x01" or \
            frame[offset + 10 : offset + 14] != b"\x0f\x00\x02\x0c":
        return None
    try:
        return _error_and_pairs(frame, offset)
    except (struct.error, IndexError):
        return None  # truncated: the struct decoder will say where


def _error_and_pairs(frame: bytes, offset: int) -> tuple[int, list[tuple[bytes, bytes]], int] | None:
    error = _unpack_i32(frame, offset + 6)[0]
    n = _unpack_i32(frame, offset + 14)[0]
    p = offset + 18
    end = len(frame)
    if n < 0 or n > end:
        return None
    pairs: list[tuple[bytes, bytes]] = []
    append = pairs.append
    for _ in range(n):
        # key_value: 0c 0001 <key blob> 0c 0002 <value blob> [08 0003 <i32 expire>] 00
        if frame[p] != 12 or frame[p + 2] != 1:
            return None
        kl = _unpack_i32(frame, p + 3)[0]
        p += 7
        key = frame[p : p + kl]
        p += kl
        if kl < 0 or p + 7 > end or frame[p] != 12 or frame[p + 2] != 2:
            return None
        vl = _unpack_i32(frame, p + 3)[0]
        p += 7
        value = frame[p : p + vl]
        p += vl
        if vl < 0 or p >= end:
            return None
        if frame[p] == 8:
            p += 7
            if p >= end:
                return None
        if frame[p] != 0:
            return None
        p += 1
        append((key, value))
    return error, pairs, p


def scan_context(frame: bytes, p: int) -> int | None:
    """The scan reply's context_id (field 3, i64) when it directly follows the kvs list."""
    if frame[p : p + 3] == b"\x0a\x00\x03" and len(frame) >= p + 11:
        return _unpack_i64(frame, p + 3)[0]
    return None
