"""Per-connection resource bounds of the meta/replica listeners: how big a frame may be, how many
received-but-unframed bytes one connection and all together may hold, how long a started frame
may take to arrive, and decoding of big frames off the event loop.

The real server has no frame size limit of its own (rDSN's thrift parser takes the u32 length
as it comes); what bounds a legitimate request is ``max_allowed_write_size`` (1 MiB of Thrift
body, bigger writes are answered ERR_INVALID_DATA), and reads only carry keys. The default frame
cap is 4 MiB: the biggest write that can succeed with a 4x margin, so a moderately oversized
write still gets the real server's ERR_INVALID_DATA instead of a cut connection, and a multi_get
of 3000 (its count cap) sort keys of 1 KiB fits. A frame over the cap is refused as soon as its
header arrives, so one connection never holds more than one incomplete frame of at most the cap.
"""
from __future__ import annotations

import gc
import socket
from dataclasses import dataclass
from time import monotonic

from pegload.client.wire import RequestFramer, decode_request

from .limits import MAX_ALLOWED_WRITE_SIZE

DEFAULT_MAX_FRAME_BYTES = 4 * MAX_ALLOWED_WRITE_SIZE
DEFAULT_MAX_BUFFERED_BYTES = 64 << 20  # all connections together
DEFAULT_FRAME_TIMEOUT_S = 30.0  # a started frame must be complete within this
DEFAULT_IDLE_TIMEOUT_S = 0.0  # 0 = never: real servers keep idle client sessions, clients pool them
READ_CHUNK = 256 * 1024
# Decoding runs at roughly 5-30 MB/s in pure Python depending on how many small items a frame
# holds (a 4 MiB multi_put of empty values: ~0.6 s). Frames above this size are decoded on a
# worker thread, so the hub keeps serving other connections; below it the worst case is ~2 ms.
OFFLOAD_DECODE_BYTES = 16 * 1024
# While a worker thread decodes, the hub waits for the GIL after each socket call; Python hands
# it over every switch interval (5 ms by default), which would cost a concurrent get ~15 ms.
DECODE_SWITCH_INTERVAL_S = 0.0002


class LimitError(Exception):
    """A connection broke a bound (the message says which, with the figures)."""


@dataclass(frozen=True)
class ConnLimits:
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES
    frame_timeout_s: float = DEFAULT_FRAME_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S


class BufferBudget:
    """Bytes held in incomplete frames by all connections of one onebox process."""

    __slots__ = ("limit", "held")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0


class FrameReader:
    """Reads one connection's socket and returns whole request frames within the bounds.

    ``read()`` returns the frames completed by one ``recv`` (possibly none), ``None`` at end of
    stream, and raises LimitError (bounds) or the codec's FrameError (malformed header).
    Call ``release()`` when the connection ends.
    """

    __slots__ = ("_sock", "_limits", "_budget", "_framer", "held", "_deadline", "_timeout")

    def __init__(self, sock, limits: ConnLimits, budget: BufferBudget) -> None:
        self._sock = sock
        self._limits = limits
        self._budget = budget
        self._framer = RequestFramer(limits.max_frame_bytes)
        self.held = 0  # bytes of the incomplete frame this connection is holding
        self._deadline = 0.0
        self._timeout: float | None = -1.0  # unknown: set on first read

    def read(self) -> list[bytes] | None:
        lim = self._limits
        held = self.held
        if held:
            timeout: float | None = self._deadline - monotonic()
            if timeout <= 0:
                raise self._stalled()
        else:
            timeout = lim.idle_timeout_s or None
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout
        try:
            data = self._sock.recv(READ_CHUNK)
        except socket.timeout:
            if held:
                raise self._stalled() from None
            raise LimitError(f"idle for {lim.idle_timeout_s:g} s (idle timeout)") from None
        if not data:
            return None
        frames = self._framer.feed(data)
        now_held = held + len(data)
        if frames:
            now_held -= sum(map(len, frames))
            if now_held:
                self._deadline = monotonic() + lim.frame_timeout_s  # a new frame started
        elif not held:
            self._deadline = monotonic() + lim.frame_timeout_s
        budget = self._budget
        budget.held += now_held - held
        self.held = now_held
        if now_held > held and budget.held > budget.limit:
            raise LimitError(f"all connections together would hold {budget.held} bytes of "
                             f"incomplete frames, over the {budget.limit}-byte cap")
        return frames

    def _stalled(self) -> LimitError:
        return LimitError(f"incomplete frame: {self.held} bytes received, not completed within "
                          f"{self._limits.frame_timeout_s:g} s (frame timeout)")

    def release(self) -> None:
        self._budget.held -= self.held
        self.held = 0


_pool = None


def decode(frame: bytes):
    """``decode_request(frame)``; big frames on a worker thread (only this greenlet waits)."""
    if len(frame) <= OFFLOAD_DECODE_BYTES:
        return decode_request(frame)
    global _pool
    if _pool is None:
        import sys

        from gevent.threadpool import ThreadPool

        sys.setswitchinterval(DECODE_SWITCH_INTERVAL_S)
        _pool = ThreadPool(2)
    return _pool.apply(_decode_without_gc, (frame,))


def _decode_without_gc(frame: bytes):
    # A big frame allocates up to hundreds of thousands of objects, which would set off full
    # cyclic-GC passes over the whole heap while holding the GIL (tens of ms, every thread
    # stopped). Decoding creates no reference cycles, so nothing is lost by pausing the collector.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return decode_request(frame)
    finally:
        if was_enabled:
            gc.enable()
