"""The gevent network side: one listener per meta/replica port, one greenlet per connection.

Each connection reads the socket in large chunks, decodes every complete frame, answers them in
order and writes the replies of one read batch with a single ``sendall``; replies that a fault
delays are written later by a timer greenlet under the connection's write lock. A malformed or
oversized frame, a frame that stalls, or buffering over the process-wide cap closes only that
connection (with a log line); big frames are decoded off the loop (:mod:`.conn_limits`).
"""
from __future__ import annotations

import logging
import socket as _stdsocket
from time import monotonic as _monotonic

import gevent
from gevent import socket
from gevent.lock import Semaphore
from gevent.server import StreamServer

from pegload.client.wire import RPC_QUERY_CFG, FrameError, WireError, encode_response
from pegload.client.wire.errors import ERR_HANDLER_NOT_FOUND, ERR_OK
from pegload.client.wire.frames import MSG_ONEWAY

from . import http_endpoint, meta_admin, replica_request
from .conn_limits import OFFLOAD_DECODE_BYTES, FrameReader, LimitError
from .meta import query_config

log = logging.getLogger("pegload.onebox")

# gevent's recv returns without yielding while data is waiting, so a connection that keeps its
# socket full would starve the others (and the reply-delay timers): yield after big batches
YIELD_AFTER_FRAMES = 32
CLOSE = replica_request.CLOSE  # handler outcome: cut the connection


def listen(host: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError as e:
        s.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") from None
    s.listen(1024)
    return s


class Connection:
    __slots__ = ("sock", "peer", "lock", "closed")

    def __init__(self, sock, peer) -> None:
        self.sock = sock
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.lock = Semaphore()
        self.closed = False

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()

    def send_later(self, data) -> None:
        if data.__class__ is not bytes:
            data = data()  # a request throttled with "delay" runs now (replica_request.py)
            if data is None:
                return
        self.send(data)

    def send_at(self, deadline: float, data: bytes) -> None:
        """Send ``data`` no earlier than ``deadline`` (``time.monotonic()`` seconds), from a
        timer greenlet. libev arms timers from the loop's cached "now", which is stale by however
        long the hub has been busy since its last poll: refresh it first or the reply leaves early."""
        loop = gevent.get_hub().loop
        loop.update_now()
        gevent.spawn_later(max(deadline - _monotonic(), 0.0), self._send_due, deadline, data)

    def _send_due(self, deadline: float, data: bytes) -> None:
        left = deadline - _monotonic()
        while left > 0:  # never early, whatever the timer did
            gevent.get_hub().loop.update_now()
            gevent.sleep(left)
            left = deadline - _monotonic()
        self.send_later(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(_stdsocket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Service:
    """One listening port with its role (meta or replica)."""

    def __init__(self, runtime, kind: str, index: int, listener) -> None:
        self.runtime = runtime
        self.kind = kind  # "meta" | "replica"
        self.index = index
        self.listener = listener
        self.addr = ""  # advertised ip:port, set once the cluster exists
        self.conns: set[Connection] = set()
        self.server = StreamServer(listener, self._accept)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.close()
        self.close_connections()
        self.server.stop(timeout=1)

    def close_connections(self) -> int:
        conns = list(self.conns)
        for c in conns:
            c.close()
        return len(conns)

    # ------------------------------------------------------------------ connection loop
    def _accept(self, sock, peer) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, peer)
        self.conns.add(conn)
        self.runtime.stats.connections += 1
        try:
            self._serve(conn)
        except OSError:
            pass  # peer reset or socket closed by a fault/stop
        finally:
            self.conns.discard(conn)
            conn.close()

    def _serve(self, conn: Connection) -> None:
        reader = FrameReader(conn.sock, self.runtime.conn_limits, self.runtime.buffer_budget)
        try:
            self._serve_frames(conn, reader)
        finally:
            reader.release()

    def _serve_frames(self, conn: Connection, reader: FrameReader) -> None:
        handle = self._handle_replica if self.kind == "replica" else self._handle_meta
        stats = self.runtime.stats
        first = True
        while not conn.closed:
            try:
                data = reader.recv()
                if data is None:
                    return
                if first:  # HTTP on the RPC port, recognised by the first bytes as upstream does
                    first = False
                    is_http, data = http_endpoint.sniff(conn.sock, data)
                    if is_http:
                        return http_endpoint.serve(self, conn, data)
                frames = reader.feed(data)
            except (FrameError, LimitError) as e:
                stats.bad_frames += 1
                log.warning("%s %s: closing connection from %s: %s", self.kind, self.addr, conn.peer, e)
                return
            if not frames:
                continue
            if self.kind == "replica":
                self._wait_while_stalled()
            taken_up = _monotonic()  # a delayed reply leaves its delay after this
            out = []
            delayed = None
            for frame in frames:
                big = len(frame) > OFFLOAD_DECODE_BYTES
                if big and out:
                    conn.send(b"".join(out))  # this greenlet waits for the decode: answer first
                    out = []
                try:
                    req = reader.decode(frame)
                except WireError as e:
                    stats.bad_frames += 1
                    log.warning("%s %s: closing connection from %s: malformed request: %s",
                                self.kind, self.addr, conn.peer, e)
                    if out:
                        conn.send(b"".join(out))
                    return
                reply = handle(req, frame)
                if big:
                    if reply.__class__ is bytes:
                        conn.send(reply)  # before the request is freed
                        reply = None
                    box = [req]
                    req = None
                    reader.discard(box)
                if reply is None:
                    continue
                if reply.__class__ is bytes:
                    out.append(reply)
                elif reply is CLOSE:
                    if out:
                        conn.send(b"".join(out))
                    return
                else:  # (bytes, delay seconds): one timer per distinct delay of the batch
                    if delayed is None:
                        delayed = {}
                    delayed.setdefault(reply[1], []).append(reply[0])
            if out:
                conn.send(out[0] if len(out) == 1 else b"".join(out))
            if delayed:
                for delay, replies in delayed.items():
                    if all(r.__class__ is bytes for r in replies):
                        replies = [b"".join(replies)]
                    for r in replies:
                        conn.send_at(taken_up + delay, r)
            if len(frames) >= YIELD_AFTER_FRAMES:
                gevent.sleep(0)

    def _wait_while_stalled(self) -> None:
        faults = self.runtime.faults
        left = faults.stall_remaining(self.index)
        if left > 0:
            self.runtime.stats.faults["stalled_batches"] += 1
        while left > 0:
            gevent.sleep(left)
            left = faults.stall_remaining(self.index)

    # ------------------------------------------------------------------ roles
    def _handle_meta(self, req, frame):
        rt = self.runtime
        rt.stats.count_request(self.addr, req.name)
        ack = req.name + "_ACK"
        if req.name == RPC_QUERY_CFG:
            resp = query_config(rt.cluster, self.index, req.args, rt.config.send_host_port)
            reply = encode_response(ERR_OK, ack, req.seqid, resp)
        elif (admin := meta_admin.handle(self, req, frame)) is not None:
            return admin or None  # RPC_CM_UPDATE_APP_ENV (table envs)
        else:
            rt.stats.count_error(ERR_HANDLER_NOT_FOUND)
            reply = encode_response(ERR_HANDLER_NOT_FOUND, ack, req.seqid)
        return None if req.msg_type == MSG_ONEWAY else reply

    _handle_replica = replica_request.handle  # (self, req, frame): the replica request path
