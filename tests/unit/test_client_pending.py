"""The connection's reply reader and pending table with a fake transport (no sockets): replies
split into 1-byte and odd-sized chunks, any order, unknown seqids, malformed frames."""
from __future__ import annotations

import gevent
import pytest

from pegload.client import wire
from pegload.client.connection import Connection
from pegload.client.errors import ConnectionLost, ProtocolError
from pegload.client.wire import messages as m


class FakeSock:
    """Hands out a byte stream in the given chunk sizes, then EOF."""

    def __init__(self, data: bytes, sizes) -> None:
        self.chunks = []
        pos, i = 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            self.chunks.append(data[pos : pos + n])
            pos += n
            i += 1

    def recv(self, _n: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        pass


class Recorder:
    """Stands in for a gevent Waiter: records what the reader hands to the caller."""

    def __init__(self) -> None:
        self.values = []

    def switch(self, value) -> None:
        self.values.append(value)


def reply(seqid: int, value: bytes) -> bytes:
    return wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_ACK", seqid, m.ReadResponse(0, value, 1, 0))


def open_conn(sock) -> Connection:
    conn = Connection("127.0.0.1:1")
    conn._sock, conn._state = sock, "open"
    return conn


def drive(conn, sock) -> None:
    while sock.chunks:
        conn._on_readable(sock)
    # failures found outside the hub are delivered by loop callbacks: let them run
    gevent.sleep(0)


@pytest.mark.parametrize("sizes", [[1], [5], [7, 1, 13], [4096], [3, 200]])
def test_frames_in_any_chunking_reach_their_seqids(sizes):
    frames = {s: reply(s, b"value-%d" % s * (s % 3 + 1)) for s in (9, 2, 5, 1000, 3)}
    stream = b"".join(frames.values()) + reply(77, b"nobody waits for this")
    sock = FakeSock(stream, sizes)
    conn = open_conn(sock)
    waiters = {s: Recorder() for s in frames}
    conn.pending.update(waiters)
    drive(conn, sock)
    for s, w in waiters.items():
        assert w.values == [frames[s]], s
    assert conn.pending == {} and conn._rbuf == b""


def test_error_replies_are_delivered_whole():
    err = wire.encode_response("ERR_BUSY", "RPC_RRDB_RRDB_GET_ACK", 4)
    body_after_error = wire.encode_response("ERR_BUSY", "RPC_RRDB_RRDB_GET_ACK", 6,
                                            m.ReadResponse(0, b"partial", 1, 0), body_on_error=True)
    sock = FakeSock(err + body_after_error, [11])
    conn = open_conn(sock)
    a, b = Recorder(), Recorder()
    conn.pending.update({4: a, 6: b})
    drive(conn, sock)
    assert a.values == [err] and b.values == [body_after_error]


def test_malformed_length_fails_every_pending_call_and_drops_the_socket():
    sock = FakeSock(reply(1, b"ok") + b"\x00\x00\x00\x02xx", [64])
    conn = open_conn(sock)
    ok, other = Recorder(), Recorder()
    conn.pending.update({1: ok, 2: other})
    drive(conn, sock)
    assert ok.values == [reply(1, b"ok")]
    assert isinstance(other.values[0], ProtocolError)
    assert "reply frame length 2 from 127.0.0.1:1 is out of range" in str(other.values[0])
    assert conn.pending == {} and not conn.is_open


def test_eof_fails_pending_calls_with_connection_lost():
    sock = FakeSock(b"", [1])
    conn = open_conn(sock)
    w = Recorder()
    conn.pending[8] = w
    conn._on_readable(sock)
    gevent.sleep(0)
    assert isinstance(w.values[0], ConnectionLost) and w.values[0].sent
    assert "127.0.0.1:1 closed the connection" in str(w.values[0])
    assert conn.pending == {} and not conn.is_open
