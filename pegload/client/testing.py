"""Scripted Pegasus servers for the client's own tests and benchmark (not a second onebox).

``FrameServer(handler)`` listens on 127.0.0.1 (port 0) with gevent; for every request frame it
calls ``handler(request, peer)`` where ``request`` is a decoded ``wire.Request`` and ``peer``
can ``reply(frame)``, ``reply_later(seconds, frame)`` or ``close()``. Not replying is how a test
drops a request. ``canned_handler`` answers every data RPC with a fixed reply and the meta query
with a one-server table, which is what ``bench/client.py`` runs in a separate process
(``python -m pegload.client.testing --canned``).

``FakeNetwork`` runs the same handlers without sockets: ``Table(..., connection_factory=
net.connection)`` gives the table in-memory connections, so retry, routing and counter tests are
unit tests. ``MemorySocket`` feeds a real ``Connection``'s reader from memory.
"""
from __future__ import annotations

import argparse
import os
import struct
import sys

import gevent
from gevent.event import Event
from gevent.server import StreamServer

from . import wire
from .errors import ClientClosed, ConnectionLost, RequestTimeout
from .wire import messages as m
from .wire import rpc

_I32 = struct.Struct(">i")


class Peer:
    """One accepted connection, as the handler sees it."""

    def __init__(self, sock, address) -> None:
        self.sock = sock
        self.address = address
        self.closed = False

    def reply(self, frame: bytes) -> None:
        if not self.closed:
            try:
                self.sock.sendall(frame)
            except OSError:
                self.closed = True

    def reply_later(self, seconds: float, frame: bytes) -> None:
        gevent.spawn_later(seconds, self.reply, frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(2)
            except OSError:
                pass
            self.sock.close()


class FrameServer:
    """Listens on ``127.0.0.1:<free port>``; ``address`` is ``"127.0.0.1:port"``."""

    def __init__(self, handler, port: int = 0) -> None:
        self.handler = handler
        self.requests: list = []  # every decoded request, in arrival order
        self.peers: list[Peer] = []
        self._server = StreamServer(("127.0.0.1", port), self._serve)

    def start(self) -> FrameServer:
        self._server.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close_connections(self) -> None:
        for p in self.peers:
            p.close()

    def stop(self) -> None:
        self._server.stop(timeout=0)
        self.close_connections()

    def __enter__(self) -> FrameServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, sock, address) -> None:
        peer = Peer(sock, address)
        self.peers.append(peer)
        framer = wire.RequestFramer()
        try:
            while not peer.closed:
                data = sock.recv(65536)
                if not data:
                    break
                for frame in framer.feed(data):
                    req = wire.decode_request(frame)
                    self.requests.append(req)
                    self.handler(req, peer)
        except OSError:
            pass
        finally:
            peer.close()


# ---------------------------------------------------------------------------------- replies
def reply_frame(req, result=None, error_name: str = "ERR_OK") -> bytes:
    """The reply to ``req``: ``result`` (a response struct) for ERR_OK, else just the error."""
    return wire.encode_response(error_name, req.name + "_ACK", req.seqid, result)


def table_config(app_id: int, primaries: list[str], ballots: list[int] | None = None,
                 err: str = "ERR_OK") -> m.QueryCfgResponse:
    """A meta answer for a table whose partition i is served by ``primaries[i]``."""
    parts = []
    for i, addr in enumerate(primaries):
        host, port = addr.rsplit(":", 1)
        primary = wire.rpc_address_from(host, int(port)) if addr else 0
        parts.append(m.PartitionConfiguration(m.Gpid(app_id, i), ballots[i] if ballots else 1, 3,
                                              primary, [], [], 0, 0))
    return m.QueryCfgResponse(err, app_id, len(primaries), True, parts)


def canned_handler(primary: str, partition_count: int = 8, value: bytes = b"v" * 100,
                   multi_get_count: int = 10, scan_count: int = 1000):
    """Answers like a one-server table whose every record exists: GET returns ``value``,
    writes succeed, MULTI_GET returns ``multi_get_count`` pairs, a scanner returns
    ``scan_count`` records in one batch. Reply bytes are precomputed; only the seqid varies."""
    templates: dict[str, tuple[bytes, bytes]] = {}

    def template(name: str, result) -> None:
        frame = wire.encode_response("ERR_OK", name + "_ACK", 0x5EC1D, result)
        at = frame.index(_I32.pack(0x5EC1D), 14)
        templates[name] = (frame[:at], frame[at + 4:])

    kvs = [m.KeyValue(b"sk%04d" % i, value) for i in range(multi_get_count)]
    scan_kvs = [m.KeyValue(wire.encode_key(b"hk", b"sk%06d" % i), value) for i in range(scan_count)]
    template(rpc.RPC_QUERY_CFG, table_config(1, [primary] * partition_count))
    template(rpc.RPC_GET, m.ReadResponse(0, value, 1, 0, primary))
    template(rpc.RPC_TTL, m.TtlResponse(0, -1, 1, 0, primary))
    template(rpc.RPC_SORTKEY_COUNT, m.CountResponse(0, multi_get_count, 1, 0, primary))
    for name in (rpc.RPC_PUT, rpc.RPC_MULTI_PUT, rpc.RPC_REMOVE):
        template(name, m.UpdateResponse(0, 1, 0, 1, primary))
    template(rpc.RPC_MULTI_REMOVE, m.MultiRemoveResponse(0, 1, 1, 0, 1, primary))
    template(rpc.RPC_MULTI_GET, m.MultiGetResponse(0, kvs, 1, 0, primary))
    template(rpc.RPC_GET_SCANNER, m.ScanResponse(0, scan_kvs, -1, 1, 0, primary))
    template(rpc.RPC_SCAN, m.ScanResponse(0, [], -1, 1, 0, primary))

    def handle(req, peer: Peer) -> None:
        t = templates.get(req.name)
        if t is not None:
            peer.reply(t[0] + _I32.pack(req.seqid) + t[1])
        elif req.name != rpc.RPC_CLEAR_SCANNER:
            peer.reply(reply_frame(req, error_name="ERR_HANDLER_NOT_FOUND"))

    return handle


class DictReplica:
    """A replica handler over a dict (GET, PUT, REMOVE only) with a scriptable fault hook.

    ``fault(request, peer)`` is called first; when it returns True the request is considered
    handled (it replied with an error, dropped it or closed the connection).
    """

    def __init__(self, fault=None) -> None:
        self.store: dict[bytes, bytes] = {}
        self.fault = fault

    def __call__(self, req, peer: Peer) -> None:
        if self.fault is not None and self.fault(req, peer):
            return
        h = req.header
        if req.name == rpc.RPC_GET:
            v = self.store.get(bytes(req.args))
            result = m.ReadResponse(0 if v is not None else 1, v or b"", h.app_id, h.partition_index)
        elif req.name == rpc.RPC_PUT:
            self.store[bytes(req.args.key)] = bytes(req.args.value)
            result = m.UpdateResponse(0, h.app_id, h.partition_index, 1)
        elif req.name == rpc.RPC_REMOVE:
            self.store.pop(bytes(req.args), None)
            result = m.UpdateResponse(0, h.app_id, h.partition_index, 1)
        else:
            peer.reply(reply_frame(req, error_name="ERR_HANDLER_NOT_FOUND"))
            return
        peer.reply(reply_frame(req, result))


def meta_handler(config):
    """A meta server answering the query with ``config()`` (a callable, so tests can change it)."""

    def handle(req, peer: Peer) -> None:
        peer.reply(reply_frame(req, config()))

    return handle


class CannedServer:
    """The canned handler with a fast path: replies are found from the RPC name and seqid in
    the raw frame, without decoding the body (so the server costs little CPU per request)."""

    def __init__(self, port: int = 0, **kw) -> None:
        self._server = StreamServer(("127.0.0.1", port), self._serve)
        self._kw = kw

    def start(self) -> CannedServer:
        self._server.start()
        self.handle = canned_handler(f"127.0.0.1:{self._server.server_port}", **self._kw)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.stop(timeout=0)

    def _serve(self, sock, address) -> None:
        peer = Peer(sock, address)
        framer = wire.RequestFramer()
        out = []
        cache: dict[bytes, str] = {}
        try:
            while True:
                data = sock.recv(1 << 18)
                if not data:
                    break
                for frame in framer.feed(data):
                    # body: 48-byte header, message type (4), name (i32 len + bytes), seqid
                    n = _I32.unpack_from(frame, 52)[0]
                    raw = frame[56 : 56 + n]
                    name = cache.get(raw) or cache.setdefault(raw, raw.decode())
                    seqid = _I32.unpack_from(frame, 56 + n)[0]
                    req = wire.Request(None, 1, name, seqid, None)
                    self.handle(req, _Collect(out))
                if out:
                    sock.sendall(b"".join(out))
                    out.clear()
        except OSError:
            pass
        finally:
            peer.close()


class _Collect:
    """Stands in for a Peer to batch the replies to one read into one send."""

    __slots__ = ("out",)

    def __init__(self, out: list) -> None:
        self.out = out

    def reply(self, frame: bytes) -> None:
        self.out.append(frame)


# ---------------------------------------------------------------------------------- no sockets
class FakeNetwork:
    """Servers by address, reached through ``FakeConnection``s instead of sockets.

    ``serve(address, handler)`` installs a handler with the ``FrameServer`` contract
    (``handler(request, peer)``; the peer can ``reply(frame)`` or ``close()``, and not replying
    drops the request). A dropped request ends its call with ``RequestTimeout`` at once, as the
    call's timer would at its deadline; a closed peer fails it with ``ConnectionLost`` and the
    next call reconnects. An address without a handler refuses connections.
    ``requests`` lists ``(address, request)`` in the order they were sent; ``refused`` lists the
    addresses of refused connection attempts.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}
        self.requests: list[tuple[str, object]] = []
        self.refused: list[str] = []
        self.connections: list[FakeConnection] = []

    def serve(self, address: str, handler) -> None:
        self.handlers[address] = handler

    def stop(self, address: str) -> None:
        """The server is gone: connects are refused (open connections see it on their next call)."""
        self.handlers.pop(address, None)

    def connection(self, address: str, on_reconnect=None) -> FakeConnection:
        """The ``connection_factory`` of ``Table``."""
        conn = FakeConnection(self, address, on_reconnect)
        self.connections.append(conn)
        return conn

    def sent(self, name: str | None = None, address: str | None = None) -> list:
        """The requests sent (optionally only those of one RPC and/or to one address)."""
        return [r for a, r in self.requests
                if (name is None or r.name == name) and (address is None or a == address)]


class _FakePeer:
    def __init__(self, address: str) -> None:
        self.address = address
        self.replies: list[bytes] = []
        self.closed = False

    def reply(self, frame: bytes) -> None:
        if not self.closed:
            self.replies.append(frame)

    def close(self) -> None:
        self.closed = True


class FakeConnection:
    """``Connection``'s public surface over a ``FakeNetwork``: the request is decoded and handed
    to the address's handler, its reply returned. Each call yields to the hub once, so concurrent
    callers interleave as they would on a socket."""

    def __init__(self, net: FakeNetwork, address: str, on_reconnect=None) -> None:
        self.net = net
        self.address = address
        self.pending: dict[int, bool] = {}
        self.generation = 0
        self.is_open = False
        self.retired = False
        self._closed = False
        self._seqid = 0
        self._on_reconnect = on_reconnect

    def next_seqid(self) -> int:
        self._seqid = self._seqid % 0x7FFFFFFF + 1
        return self._seqid

    def connect(self, deadline: float) -> None:
        if self._closed:
            raise ClientClosed(f"connection to {self.address} was closed", address=self.address)
        if self.is_open:
            return
        if self.address not in self.net.handlers:
            self.net.refused.append(self.address)
            raise ConnectionLost(f"cannot connect to {self.address}: connection refused",
                                 address=self.address, sent=False)
        self.is_open = True
        self.generation += 1
        if self.generation > 1 and self._on_reconnect is not None:
            self._on_reconnect()

    def call(self, seqid: int, frame, deadline: float) -> bytes:
        self.connect(deadline)
        req = wire.decode_request(bytes(frame))
        self.net.requests.append((self.address, req))
        self.pending[seqid] = True
        try:
            gevent.sleep(0)
            handler = self.net.handlers.get(self.address)
            peer = _FakePeer(self.address)
            if handler is None:
                peer.close()
            else:
                handler(req, peer)
        finally:
            self.pending.pop(seqid, None)
        if self._closed:
            raise ClientClosed(f"connection to {self.address} was closed", address=self.address)
        if peer.closed:
            self.is_open = False
            raise ConnectionLost(f"{self.address} closed the connection", address=self.address)
        if not peer.replies:
            raise RequestTimeout(f"no reply from {self.address} before the deadline", address=self.address)
        return peer.replies[0]

    def send_oneway(self, frame, deadline: float) -> None:
        self.connect(deadline)
        self.net.requests.append((self.address, wire.decode_request(bytes(frame))))

    def retire(self) -> None:
        self.retired = True
        if not self.pending:
            self.close()

    def close(self) -> None:
        self._closed = True
        self.is_open = False


class MemorySocket:
    """A connected socket stand-in for ``Connection.attach``: ``recv`` hands out ``data`` in
    chunks of the given sizes (cycled), then b"" (the peer closed); ``eof`` is set then, and
    ``closed`` when the connection closes the socket.

    ``fileno`` is the read end of a pipe with one byte in it, so the connection's read watcher
    fires on every loop turn until the connection drops it: the real reader runs, fed from
    memory, with no network socket involved. ``sent`` collects what the connection wrote.
    """

    def __init__(self, data: bytes, sizes=(1 << 20,)) -> None:
        self.chunks = []
        pos, i = 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            self.chunks.append(data[pos : pos + n])
            pos += n
            i += 1
        self.eof = Event()
        self.closed = Event()
        self.sent: list[bytes] = []
        self._r, self._w = os.pipe()
        os.write(self._w, b"x")

    def fileno(self) -> int:
        return self._r

    def recv(self, _n: int) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        self.eof.set()
        return b""

    def send(self, data) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def close(self) -> None:
        self.closed.set()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._r = self._w = -1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the canned-reply Pegasus server (for benchmarks).")
    p.add_argument("--canned", action="store_true", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--value-size", type=int, default=100)
    args = p.parse_args(argv)
    server = CannedServer(args.port, value=b"v" * args.value_size).start()
    print(server.address, flush=True)
    try:
        gevent.wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
