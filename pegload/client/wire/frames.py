"""Request and response frames (protocol doc 1.1-1.6).

Requests: ``THFT`` header (v0: 48 bytes; v1: 16 bytes + a meta struct) then a strict binary
Thrift CALL message whose args struct has exactly one field. Responses: i32 total length (which
counts itself), the error name, a REPLY message header with the request's seqid and, for
``ERR_OK``, the result struct in field 0.
"""
from __future__ import annotations

import struct
from typing import Any, NamedTuple

from .messages import RequestMetaV1
from .rpc import BLOB, BY_ACK, I64, RPCS
from .thrift import TType, WireError, Writer, _read_str, skip

MAGIC = b"THFT"
REQUEST_V0_HEADER_LEN = 48
REQUEST_V1_HEADER_LEN = 16
# Sanity cap on one frame: far above the server's 1 MiB write limit, low enough that a garbage
# length cannot make us buffer gigabytes.
MAX_FRAME = 64 << 20

MSG_CALL = 1
MSG_REPLY = 2
MSG_ONEWAY = 4
_VERSION_1 = 0x80010000

_V0 = struct.Struct(">4sIIIIIiiiiQ")
_V1 = struct.Struct(">4sIII")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")


class FrameError(WireError):
    """A frame that makes a real server drop the connection (bad magic, version, length)."""


def thread_hash(app_id: int, partition_index: int) -> int:
    """``app_id * 7919 + partition_index`` in signed 32-bit arithmetic, as every client sends.

    The one definition; ``fastpath.py``'s encoders inline it (unsigned, same bytes) for speed.
    """
    v = (app_id * 7919 + partition_index) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class RequestHeader(NamedTuple):
    version: int
    app_id: int
    partition_index: int
    client_timeout: int
    thread_hash: int
    partition_hash: int  # unsigned 64-bit
    is_backup_request: bool = False


class Request(NamedTuple):
    header: RequestHeader
    msg_type: int
    name: str
    seqid: int
    args: object  # message object, bytes (blob RPCs), int (CLEAR_SCANNER), None (unknown name)


class Response(NamedTuple):
    error_name: str
    name: str
    seqid: int
    result: object  # decoded response struct for ERR_OK, else None


def _message_header(w: bytearray, msg_type: int, name: str, seqid: int) -> None:
    nb = name.encode()
    w += _U32.pack(_VERSION_1 | msg_type)
    w += _I32.pack(len(nb))
    w += nb
    w += _I32.pack(seqid)


def encode_request_body(rpc_name: str, seqid: int, args: Any) -> bytes:
    """The Thrift CALL message: header, args struct with one field (id 1), STOP."""
    w = Writer()
    _message_header(w, MSG_CALL, rpc_name, seqid)
    spec = RPCS.get(rpc_name)
    kind = spec.args if spec else None
    if kind == I64 or (kind is None and isinstance(args, int)):
        w += b"\x0a\x00\x01"
        w += struct.pack(">q", args)
    elif kind == BLOB or (kind is None and isinstance(args, (bytes, bytearray))):
        w += b"\x0c\x00\x01"
        w += _I32.pack(len(args))
        w += args
    else:
        w += b"\x0c\x00\x01"
        args.encode(w)
    w.append(TType.STOP)
    return bytes(w)


def encode_request(rpc_name: str, seqid: int, args: Any, *, app_id: int = 0, partition_index: int = 0,
                   client_timeout: int = 0, partition_hash: int = 0, version: int = 0,
                   is_backup_request: bool = False) -> bytes:
    """A complete request frame. ``partition_hash`` must be 0 or the exact routing hash."""
    body = encode_request_body(rpc_name, seqid, args)
    if version == 0:
        head = _V0.pack(MAGIC, 0, REQUEST_V0_HEADER_LEN, 0, len(body), 0, app_id, partition_index,
                        client_timeout, thread_hash(app_id, partition_index),
                        partition_hash & 0xFFFFFFFFFFFFFFFF)
        return head + body
    if version == 1:
        ph = partition_hash & 0xFFFFFFFFFFFFFFFF
        meta = RequestMetaV1(app_id, partition_index, client_timeout,
                             ph - (1 << 64) if ph >= 1 << 63 else ph, is_backup_request).to_bytes()
        return _V1.pack(MAGIC, 1, len(meta), len(body)) + meta + body
    raise ValueError(f"request header version must be 0 or 1, not {version}")


class RequestFramer:
    """Splits a server's inbound byte stream into whole request frames (v0 or v1)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames = []
        pos = 0
        n = len(buf)
        while n - pos >= REQUEST_V1_HEADER_LEN:
            if buf[pos : pos + 4] != MAGIC:
                raise FrameError(f"bad magic {bytes(buf[pos:pos + 4])!r} (expected b'THFT')")
            version = _U32.unpack_from(buf, pos + 4)[0]
            if version == 0:
                if n - pos < 20:
                    break
                hdr_len = _U32.unpack_from(buf, pos + 8)[0]
                if hdr_len != REQUEST_V0_HEADER_LEN:
                    raise FrameError(f"v0 header length {hdr_len} (must be 48)")
                body_len = _U32.unpack_from(buf, pos + 16)[0]
                total = REQUEST_V0_HEADER_LEN + body_len
            elif version == 1:
                meta_len = _U32.unpack_from(buf, pos + 8)[0]
                body_len = _U32.unpack_from(buf, pos + 12)[0]
                total = REQUEST_V1_HEADER_LEN + meta_len + body_len
            else:
                raise FrameError(f"unsupported header version {version}")
            if total > self.max_frame:
                raise FrameError(f"frame of {total} bytes exceeds the {self.max_frame}-byte limit")
            if n - pos < total:
                break
            frames.append(bytes(buf[pos : pos + total]))
            pos += total
        if pos:
            del buf[:pos]
        return frames


def decode_request_header(frame: bytes) -> tuple[RequestHeader, int]:
    """The header and the offset where the Thrift body starts."""
    version = _U32.unpack_from(frame, 4)[0]
    if version == 0:
        (_, _, _, _, _, _, app_id, pidx, timeout, th, ph) = _V0.unpack_from(frame, 0)
        return RequestHeader(0, app_id, pidx, timeout, th, ph), REQUEST_V0_HEADER_LEN
    meta_len = _U32.unpack_from(frame, 8)[0]
    meta, _ = RequestMetaV1._decode_at(frame, REQUEST_V1_HEADER_LEN)
    return (RequestHeader(1, meta.app_id, meta.partition_index, meta.client_timeout,
                          thread_hash(meta.app_id, meta.partition_index),
                          meta.partition_hash & 0xFFFFFFFFFFFFFFFF, bool(meta.is_backup_request)),
            REQUEST_V1_HEADER_LEN + meta_len)


def decode_request(frame: bytes) -> Request:
    """Decode a whole request frame. Raises FrameError for a message type the server drops and
    WireError for a malformed body. Unknown RPC names decode with ``args=None``."""
    header, p = decode_request_header(frame)
    b = frame
    try:
        mt = _U32.unpack_from(b, p)[0]
        if mt & 0xFFFF0000 != _VERSION_1:
            raise FrameError(f"not a strict binary message (0x{mt:08x})")
        msg_type = mt & 0xFF
        if msg_type not in (MSG_CALL, MSG_ONEWAY):
            raise FrameError(f"message type {msg_type} (only CALL and ONEWAY are accepted)")
        name, p = _read_str(b, p + 4)
        seqid = _I32.unpack_from(b, p)[0]
        p += 4
        spec = RPCS.get(name)
        if spec is None:
            return Request(header, msg_type, name, seqid, None)
        # The server ignores the args field's id and type; it decodes what the RPC expects.
        t = b[p]
        if t == TType.STOP:
            raise WireError(f"{name}: args struct is empty")
        p += 3
        if spec.args == BLOB:
            n = _I32.unpack_from(b, p)[0]
            if n < 0 or p + 4 + n > len(b):
                raise WireError(f"{name}: bad blob length {n}")
            args = b[p + 4 : p + 4 + n]
            p += 4 + n
        elif spec.args == I64:
            args = struct.unpack_from(">q", b, p)[0]
            p += 8
        else:
            args, p = spec.args._decode_at(b, p)
        if p >= len(b) or b[p] != TType.STOP:
            raise WireError(f"{name}: args struct must hold exactly one field, then STOP")
        return Request(header, msg_type, name, seqid, args)
    except (IndexError, struct.error) as e:
        raise WireError(f"truncated request body: {e}") from None


def encode_response(error_name: str, rpc_name_ack: str, seqid: int, result: Any = None,
                    body_on_error: bool = False) -> bytes:
    """A response frame; the result struct is written for ERR_OK (or when ``body_on_error``)."""
    w = Writer(b"\0\0\0\0")
    en = error_name.encode()
    w += _I32.pack(len(en))
    w += en
    _message_header(w, MSG_REPLY, rpc_name_ack, seqid)
    if result is not None and (error_name == "ERR_OK" or body_on_error):
        w += b"\x0c\x00\x00"
        result.encode(w)
        w.append(TType.STOP)
    _I32.pack_into(w, 0, len(w))
    return bytes(w)


class ResponseFramer:
    """Splits a client's inbound byte stream into whole response frames by the length prefix."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        if not buf and len(data) >= 4:
            # fast path: frames aligned with the read, nothing buffered
            n = _I32.unpack_from(data, 0)[0]
            if n == len(data) and 18 <= n <= self.max_frame:
                return [bytes(data)]
        buf += data
        frames = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            n = _I32.unpack_from(buf, pos)[0]
            if n < 18 or n > self.max_frame:
                raise FrameError(f"response frame length {n} out of range")
            if end - pos < n:
                break
            frames.append(bytes(buf[pos : pos + n]))
            pos += n
        if pos:
            del buf[:pos]
        return frames


def decode_response_head(frame: bytes) -> tuple[str, str, int, int]:
    """``(error_name, rpc_name, seqid, body_offset)`` without decoding the body."""
    try:
        err, p = _read_str(frame, 4)
        mt = _U32.unpack_from(frame, p)[0]
        if mt & 0xFFFF0000 != _VERSION_1:
            raise WireError(f"reply is not a strict binary message (0x{mt:08x})")
        name, p = _read_str(frame, p + 4)
        seqid = _I32.unpack_from(frame, p)[0]
    except (IndexError, struct.error) as e:
        raise WireError(f"truncated response header: {e}") from None
    return err, name, seqid, p + 4


def decode_result(frame: bytes, name: str, offset: int) -> Any:
    """Decode the result struct (field 0) of an ERR_OK reply to ``name``."""
    spec = BY_ACK.get(name)
    if spec is None or spec.response is None:
        raise WireError(f"no response type known for {name!r}")
    try:
        p = offset
        result = None
        while True:
            t = frame[p]
            if t == TType.STOP:
                break
            fid = struct.unpack_from(">h", frame, p + 1)[0]
            p += 3
            if fid == 0 and t == TType.STRUCT:
                result, p = spec.response._decode_at(frame, p)
            else:
                p = skip(frame, p, t)
    except (IndexError, struct.error) as e:
        raise WireError(f"truncated {name} result: {e}") from None
    if result is None:
        raise WireError(f"{name} reply has no result struct")
    return result


def decode_response(frame: bytes) -> Response:
    err, name, seqid, p = decode_response_head(frame)
    result = decode_result(frame, name, p) if err == "ERR_OK" else None
    return Response(err, name, seqid, result)
