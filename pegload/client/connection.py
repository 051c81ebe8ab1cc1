"""One TCP connection to one Pegasus server: pipelined calls matched by seqid.

Many greenlets call through one connection at once. Each call registers a ``Waiter`` under its
seqid *before* its frame is queued, so a reply can never arrive for an unknown call; the entry
leaves the table when the reply is delivered, when the call's deadline passes, or when the
connection is lost (then every pending call fails at once with ``ConnectionLost``).

Why no reader *greenlet*: the reader is an I/O watcher callback that runs in the hub. From there
``Waiter.switch`` jumps straight into the greenlet waiting for a reply; that greenlet runs until
it blocks again (typically after queueing its next request) and control comes back to the reader
loop. A separate reader greenlet would need one more hop through the hub per reply.

Writes are coalesced per event-loop turn: frames queued during one turn (e.g. by the 64
greenlets the reader just woke) leave in one ``send`` from a loop callback.

Sockets are the C-level ``_socket.socket`` driven by gevent watchers, so the connection works the
same in a monkey-patched worker and in a plain process that uses gevent explicitly.
"""
from __future__ import annotations

import _socket
import errno
import logging
import struct
import time

import gevent
from gevent import get_hub
from gevent.event import Event
from gevent.hub import Waiter

from .errors import ClientClosed, ConnectionLost, PegasusError, ProtocolError, RequestTimeout
from .wire.frames import MAX_FRAME
from .wire.messages import parse_address

log = logging.getLogger("pgclient.connection")

_I32 = struct.Struct(">i").unpack_from
_TIMEOUT = object()  # delivered by a call's timer
_RECV_SIZE = 256 * 1024
_monotonic = time.monotonic

# True while the reader hands out replies and more complete replies follow in the same read
_batching = False

# connection states
_IDLE, _CONNECTING, _OPEN, _CLOSED = "idle", "connecting", "open", "closed"


class Connection:
    """A lazily (re)connected, pipelined connection to ``address`` (``"host:port"``).

    ``call(seqid, frame, deadline)`` returns the raw reply frame (bytes) or raises
    ``RequestTimeout``, ``ConnectionLost``, ``ProtocolError`` or ``ClientClosed``.
    A lost connection is reopened by the next call; ``on_reconnect()`` is called each time
    (not for the first connect). ``start_seqid`` is the seqid before the first one (tests start
    near the i32 limit to see the wrap).
    """

    def __init__(self, address: str, hub=None, on_reconnect=None, *, start_seqid: int = 0) -> None:
        self.address = address
        self.host, self.port = parse_address(address)
        self._hub = hub if hub is not None else get_hub()
        self._loop = self._hub.loop
        self._on_reconnect = on_reconnect
        self.pending: dict[int, Waiter] = {}
        self._seqid = start_seqid
        self._state = _IDLE
        self._sock = None
        self._rwatch = None
        self._wwatch = None
        self._wbuf: list[bytes] = []
        self._wblocked = False
        self._flush_scheduled = False
        self._rbuf = b""
        self._connected: Event | None = None
        self._retired = False
        self.generation = 0  # bumped on every successful connect (tests and stats read it)
        self.dropped_replies = 0  # replies whose call had already ended (timed out, killed)

    def __repr__(self) -> str:
        return f"<Connection {self.address} {self._state} pending={len(self.pending)}>"

    @property
    def is_open(self) -> bool:
        return self._state == _OPEN

    def next_seqid(self) -> int:
        s = self._seqid + 1
        if s > 0x7FFFFFFF:  # seqids are i32 on the wire
            s = 1
        self._seqid = s
        return s

    # ------------------------------------------------------------------ calls
    def call(self, seqid: int, frame: bytes, deadline: float) -> bytes:
        """Send ``frame`` (whose seqid is ``seqid``) and wait for its reply until ``deadline``
        (a ``time.monotonic()`` value)."""
        if self._state is not _OPEN:
            self._open(deadline)
        waiter = Waiter(self._hub)
        self.pending[seqid] = waiter
        if _batching or self._wbuf or self._wblocked:
            # more callers are about to queue frames in this loop turn: send them together
            self._wbuf.append(frame)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.run_callback(self._flush)
        else:
            self._send(frame)
        # libev arms timers from its cached "now", which goes stale while the process blocks
        # outside gevent (a plain process between calls); refresh it or the timer fires early
        self._loop.update_now()
        timer = self._loop.timer(max(deadline - _monotonic(), 0.0))
        timer.start(waiter.switch, _TIMEOUT)
        try:
            reply = waiter.get()
        except BaseException:
            # killed while waiting (e.g. GreenletExit): leave nothing behind
            self.pending.pop(seqid, None)
            raise
        finally:
            timer.close()
        if reply.__class__ is bytes:
            return reply
        self.pending.pop(seqid, None)
        if reply is _TIMEOUT:
            self._maybe_finish_retire()
            raise RequestTimeout(f"no reply from {self.address} before the deadline",
                                 address=self.address)
        raise reply

    def send_oneway(self, frame: bytes, deadline: float) -> None:
        """Queue a frame that is never answered (CLEAR_SCANNER): nothing is registered."""
        if self._state is not _OPEN:
            self._open(deadline)
        self._wbuf.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)

    # ------------------------------------------------------------------ connect
    def connect(self, deadline: float) -> None:
        """Open the connection now (calls do it on demand); raises like ``call``."""
        self._open(deadline)

    def _open(self, deadline: float) -> None:
        state = self._state
        if state is _OPEN:
            return
        if state is _CLOSED:
            raise ClientClosed(f"connection to {self.address} was closed", address=self.address)
        self._loop.update_now()  # the connect and wait timers below, as in call()
        if state is _CONNECTING:
            ev = self._connected
            if not ev.wait(max(deadline - _monotonic(), 0.0)):
                raise RequestTimeout(f"connecting to {self.address} took past the deadline",
                                     address=self.address)
            if self._state is not _OPEN:
                raise ConnectionLost(f"could not connect to {self.address}", address=self.address,
                                     sent=False)
            return
        self._state = _CONNECTING
        self._connected = ev = Event()
        try:
            sock = self._connect(deadline)
        except BaseException:
            if self._state is _CONNECTING:
                self._state = _IDLE
            ev.set()
            raise
        if self._state is not _CONNECTING:  # closed by the application meanwhile
            sock.close()
            ev.set()
            raise ClientClosed(f"connection to {self.address} was closed", address=self.address)
        self._install(sock)
        ev.set()
        log.debug("connected to %s", self.address)

    def attach(self, sock) -> None:
        """Use ``sock``, an already connected socket-like object (``recv``, ``send``, ``close``,
        ``fileno``), instead of connecting: for sockets made elsewhere, and for tests that feed
        the reader from memory. The connection must not be open."""
        if self._state is not _IDLE:
            raise RuntimeError(f"attach: connection to {self.address} is {self._state}, not idle")
        self._install(sock)

    def _install(self, sock) -> None:
        self._sock = sock
        self._rbuf = b""
        self._wblocked = False
        self._rwatch = self._loop.io(sock.fileno(), 1)
        self._rwatch.start(self._on_readable, sock)
        self._state = _OPEN
        self.generation += 1
        if self.generation > 1 and self._on_reconnect is not None:
            self._on_reconnect()

    def _connect(self, deadline: float):
        try:
            return self._try_connect(deadline)
        except OSError as e:
            raise ConnectionLost(f"cannot connect to {self.address}: {e}", address=self.address,
                                 sent=False) from e

    def _try_connect(self, deadline: float):
        host = self.host
        try:
            _socket.inet_aton(host)
        except OSError:
            from gevent.socket import getaddrinfo  # cooperative resolver, only for names

            host = getaddrinfo(host, self.port, _socket.AF_INET, _socket.SOCK_STREAM)[0][4][0]
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            err = sock.connect_ex((host, self.port))
            if err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise RequestTimeout(f"no time left to connect to {self.address}",
                                         address=self.address)
                watcher = self._loop.io(sock.fileno(), 2)
                try:
                    with gevent.Timeout(remaining, False):
                        self._hub.wait(watcher)
                finally:
                    watcher.close()
                if _monotonic() >= deadline:
                    raise RequestTimeout(f"connecting to {self.address} took past the deadline",
                                         address=self.address)
                err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
            if err:
                raise ConnectionLost(f"cannot connect to {self.address}: {errno.errorcode.get(err, err)}",
                                     address=self.address, sent=False)
            return sock
        except BaseException:
            sock.close()
            raise

    # ------------------------------------------------------------------ writing
    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._wblocked or self._state is not _OPEN or not self._wbuf:
            return
        buf = self._wbuf
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        buf.clear()
        self._send(data)

    def _send(self, data: bytes) -> None:
        """Write now; what the kernel does not take waits for the socket to become writable."""
        try:
            n = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as e:
            self._lost(ConnectionLost(f"send to {self.address} failed: {e}", address=self.address))
            return
        if n < len(data):
            self._wbuf.insert(0, data[n:])
            self._wblocked = True
            if self._wwatch is None:
                self._wwatch = self._loop.io(self._sock.fileno(), 2)
            self._wwatch.start(self._on_writable)

    def _on_writable(self) -> None:
        if self._wwatch is not None:
            self._wwatch.stop()
        self._wblocked = False
        self._flush()

    # ------------------------------------------------------------------ reading
    def _on_readable(self, sock) -> None:
        global _batching
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if sock is self._sock:
                self._lost(ConnectionLost(f"recv from {self.address} failed: {e}", address=self.address))
            return
        if not data:
            if sock is self._sock:
                self._lost(ConnectionLost(f"{self.address} closed the connection", address=self.address))
            return
        if self._rbuf:
            data = self._rbuf + data
            self._rbuf = b""
        end = len(data)
        pos = 0
        pending = self.pending
        try:
            while end - pos >= 4:
                n = _I32(data, pos)[0]
                if n < 18 or n > MAX_FRAME:
                    raise ProtocolError(f"reply frame length {n} from {self.address} is out of range",
                                        address=self.address)
                if end - pos < n:
                    break
                # seqid: after the error name, the message-type word and the rpc name
                p = pos + 8 + _I32(data, pos + 4)[0] + 4
                p += 4 + _I32(data, p)[0]
                seqid = _I32(data, p)[0]
                frame = data if n == end else data[pos : pos + n]
                pos += n
                w = pending.pop(seqid, None)
                if w is None:
                    self.dropped_replies += 1
                    log.debug("late or unknown reply seqid %d from %s dropped", seqid, self.address)
                    continue
                # the caller runs now; if more replies follow in this read, its next request
                # is queued for one send at the end of the turn instead of a send of its own
                _batching = end - pos >= 4 and end - pos >= _I32(data, pos)[0]
                w.switch(frame)
                if sock is not self._sock:  # the woken greenlet closed the connection
                    return
        except (struct.error, IndexError) as e:
            self._lost(ProtocolError(f"malformed reply from {self.address}: {e}", address=self.address))
            return
        except ProtocolError as e:
            self._lost(e)
            return
        finally:
            _batching = False
        if pos < end:
            self._rbuf = data[pos:]
        if self._retired and not pending:
            self.close()

    # ------------------------------------------------------------------ failure and close
    def _teardown(self) -> None:
        if self._rwatch is not None:
            self._rwatch.close()
            self._rwatch = None
        if self._wwatch is not None:
            self._wwatch.close()
            self._wwatch = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._wbuf.clear()
        self._rbuf = b""
        self._wblocked = False

    def _lost(self, error: PegasusError) -> None:
        """Drop the socket and fail every pending call with ``error``; next call reconnects."""
        log.warning("%s (%d pending calls failed)", error, len(self.pending))
        self._teardown()
        if self._state is _OPEN:
            self._state = _IDLE
        self._fail_pending(error)
        if self._retired:
            self._state = _CLOSED

    def _fail_pending(self, error: PegasusError) -> None:
        pending, self.pending = self.pending, {}
        if not pending:
            return
        if gevent.getcurrent() is self._hub:
            for w in pending.values():
                w.switch(error)
        else:
            # Waiter.switch is only valid from the hub. A waiter whose greenlet already left
            # (e.g. its timer fired first) just stores the value, so this cannot misfire.
            for w in pending.values():
                self._loop.run_callback(w.switch, error)

    def close(self) -> None:
        """Close for good: pending calls fail with ``ClientClosed``; later calls raise it."""
        if self._state is _CLOSED:
            return
        self._state = _CLOSED
        self._teardown()
        self._fail_pending(ClientClosed(f"connection to {self.address} was closed", address=self.address))
        if self._connected is not None:
            self._connected.set()

    def retire(self) -> None:
        """Close once the calls in flight have finished (the server left the route table)."""
        self._retired = True
        if not self.pending:
            self.close()

    def _maybe_finish_retire(self) -> None:
        if self._retired and not self.pending:
            self.close()
