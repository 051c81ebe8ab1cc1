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
import sys
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
FREE_STEP = 2048  # objects freed per step when a big request is dropped


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
    """Reads one connection's socket and splits whole request frames, within the bounds.

    ``recv()`` then ``feed(data)``; both raise LimitError for a broken bound, ``feed`` also the
    codec's FrameError for a malformed header. Call ``release()`` when the connection ends.
    """

    __slots__ = ("_sock", "_limits", "_budget", "_framer", "held", "_deadline", "_timeout", "_big",
                 "_clock")

    def __init__(self, sock, limits: ConnLimits, budget: BufferBudget, clock=monotonic) -> None:
        self._clock = clock
        self._sock = sock
        self._limits = limits
        self._budget = budget
        self._framer = RequestFramer(limits.max_frame_bytes)
        self.held = 0  # bytes of the incomplete frame this connection is holding
        self._deadline = 0.0
        self._timeout: float | None = -1.0  # unknown: set on first read
        self._big = 0  # big requests decoded and not yet discarded

    def recv(self) -> bytes | None:
        """The next chunk from the socket (``None`` at end of stream), waiting no longer than the
        frame timeout allows while a frame is incomplete, or the idle timeout otherwise."""
        lim = self._limits
        held = self.held
        if held:
            timeout: float | None = self._deadline - self._clock()
            if timeout <= 0:
                raise self._stalled()
        else:
            timeout = lim.idle_timeout_s or None
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout
        try:
            data = self._sock.recv(READ_CHUNK)
        except TimeoutError:
            if held:
                raise self._stalled() from None
            raise LimitError(f"idle for {lim.idle_timeout_s:g} s (idle timeout)") from None
        return data or None

    def feed(self, data: bytes) -> list[bytes]:
        """The frames ``data`` completes (possibly none), within the size and buffering caps."""
        lim = self._limits
        held = self.held
        frames = self._framer.feed(data)
        now_held = held + len(data)
        if frames:
            now_held -= sum(map(len, frames))
            if now_held:
                self._deadline = self._clock() + lim.frame_timeout_s  # a new frame started
        elif not held:
            self._deadline = self._clock() + lim.frame_timeout_s
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

    def decode(self, frame: bytes):
        """``decode_request(frame)``; a big frame on a worker thread (only this greenlet waits).
        Pass a big frame's request to :meth:`discard` once it has been handled."""
        if len(frame) <= OFFLOAD_DECODE_BYTES:
            return decode_request(frame)
        _pause_gc()
        self._big += 1
        try:
            return _offload(decode_request, frame)
        except BaseException:
            self._big -= 1
            _resume_gc()
            raise

    def discard(self, box: list) -> None:
        """Free a big frame's request, whose only reference is in ``box``, on a worker thread."""
        _offload(_free_in_steps, box)
        self._big -= 1
        _resume_gc()

    def release(self) -> None:
        """The connection has ended: give back its buffered bytes (and any GC pause)."""
        self._budget.held -= self.held
        self.held = 0
        while self._big:
            self._big -= 1
            _resume_gc()


_pool = None
_gc_pauses = 0
_gc_was_enabled = True


def _offload(fn, *args):
    """Run ``fn(*args)`` on the worker threads; only the calling greenlet waits."""
    global _pool
    if _pool is None:
        from gevent.threadpool import ThreadPool

        sys.setswitchinterval(DECODE_SWITCH_INTERVAL_S)
        _pool = ThreadPool(2)
    return _pool.apply(fn, args)


# A big frame decodes into up to hundreds of thousands of objects. Left to the cyclic GC, they
# would set off collections that walk all of them while holding the GIL (tens of ms with every
# thread stopped), on the worker during decoding and on the hub afterwards; freed on the hub they
# would cost it ~10 ms more. So the collector is paused from a big decode until the request has
# been freed again, on a worker thread (decoded requests hold no reference cycles, so the pause
# loses nothing). Pause and resume are only called from the hub thread.
def _free_in_steps(box: list) -> None:
    """Drop the request in ``box`` a few thousand objects at a time: freeing it in one go is a
    single C-level cascade that holds the GIL throughout (~20 ms for 185,000 key-values), while
    between these Python-level steps the hub thread can take it."""
    args = box.pop().args
    for name in getattr(type(args), "__slots__", ()):
        value = getattr(args, name, None)
        if type(value) is list:
            while value:
                del value[-FREE_STEP:]


def _pause_gc() -> None:
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1


def _resume_gc() -> None:
    global _gc_pauses
    _gc_pauses -= 1
    if _gc_pauses == 0 and _gc_was_enabled:
        gc.enable()
