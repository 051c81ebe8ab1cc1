"""The connection's reply reader and pending table, fed from memory (no network socket): replies
split into 1-byte and odd-sized chunks, any order, unknown seqids, malformed frames, EOF."""
from __future__ import annotations

import pytest

from pegload.client import wire
from pegload.client.connection import Connection
from pegload.client.errors import ConnectionLost, ProtocolError
from pegload.client.testing import MemorySocket
from pegload.client.wire import messages as m


class Recorder:
    """Stands in for a gevent Waiter: records what the reader hands to the caller."""

    def __init__(self) -> None:
        self.values = []

    def switch(self, value) -> None:
        self.values.append(value)


def reply(seqid: int, value: bytes) -> bytes:
    return wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_ACK", seqid, m.ReadResponse(0, value, 1, 0))


def run_stream(data: bytes, sizes, waiters: dict) -> Connection:
    """Attach a memory socket carrying ``data``, register ``waiters`` and let the reader consume
    everything up to the EOF at the end of the stream."""
    sock = MemorySocket(data, sizes)
    conn = Connection("127.0.0.1:1")
    conn.attach(sock)
    assert conn.is_open
    conn.pending.update(waiters)
    assert sock.eof.wait(5), "the reader never reached the end of the stream"
    return conn


@pytest.mark.parametrize("sizes", [[1], [5], [7, 1, 13], [4096], [3, 200]])
def test_frames_in_any_chunking_reach_their_seqids(sizes):
    frames = {s: reply(s, b"value-%d" % s * (s % 3 + 1)) for s in (9, 2, 5, 1000, 3)}
    stream = b"".join(frames.values()) + reply(77, b"nobody waits for this")
    waiters = {s: Recorder() for s in frames}
    conn = run_stream(stream, sizes, waiters)
    for s, w in waiters.items():
        assert w.values == [frames[s]], s  # whole, once, and before the EOF failed anything
    assert conn.pending == {} and not conn.is_open


def test_a_frame_cut_by_the_eof_is_not_delivered():
    whole, cut = reply(1, b"first"), reply(2, b"second")
    a, b = Recorder(), Recorder()
    run_stream(whole + cut[:-3], [6], {1: a, 2: b})
    assert a.values == [whole]
    assert len(b.values) == 1 and isinstance(b.values[0], ConnectionLost)


def test_error_replies_are_delivered_whole():
    err = wire.encode_response("ERR_BUSY", "RPC_RRDB_RRDB_GET_ACK", 4)
    body_after_error = wire.encode_response("ERR_BUSY", "RPC_RRDB_RRDB_GET_ACK", 6,
                                            m.ReadResponse(0, b"partial", 1, 0), body_on_error=True)
    a, b = Recorder(), Recorder()
    run_stream(err + body_after_error, [11], {4: a, 6: b})
    assert a.values == [err] and b.values == [body_after_error]


def test_malformed_length_fails_every_pending_call_and_drops_the_socket():
    ok, other = Recorder(), Recorder()
    sock = MemorySocket(reply(1, b"ok") + b"\x00\x00\x00\x02xx", [64])
    conn = Connection("127.0.0.1:1")
    conn.attach(sock)
    conn.pending.update({1: ok, 2: other})
    assert sock.closed.wait(5)  # the reader drops the connection on the bad length, before any EOF
    assert ok.values == [reply(1, b"ok")]
    assert isinstance(other.values[0], ProtocolError)
    assert "reply frame length 2 from 127.0.0.1:1 is out of range" in str(other.values[0])
    assert conn.pending == {} and not conn.is_open and not sock.eof.is_set()


def test_eof_fails_pending_calls_with_connection_lost():
    w = Recorder()
    conn = run_stream(b"", [1], {8: w})
    assert len(w.values) == 1 and isinstance(w.values[0], ConnectionLost) and w.values[0].sent
    assert "127.0.0.1:1 closed the connection" in str(w.values[0])
    assert conn.pending == {} and not conn.is_open


def test_attach_refuses_an_open_connection():
    conn = Connection("127.0.0.1:1")
    conn.attach(MemorySocket(b"", [1]))
    spare = MemorySocket(b"", [1])
    with pytest.raises(RuntimeError, match="is open, not idle"):
        conn.attach(spare)
    spare.close()
    conn.close()


def test_seqids_wrap_within_i32():
    conn = Connection("127.0.0.1:1", start_seqid=0x7FFFFFFE)
    assert conn.next_seqid() == 0x7FFFFFFF
    assert conn.next_seqid() == 1
