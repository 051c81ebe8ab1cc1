"""One pipelined connection against a tiny scripted server on loopback: seqid matching, timeouts,
lost connections, chunked replies, and that nothing is left pending."""
from __future__ import annotations

import time

import gevent
import pytest
from gevent.event import Event

from pegload.client import wire
from pegload.client.connection import Connection
from pegload.client.errors import ClientClosed, ConnectionLost, ProtocolError, RequestTimeout
from pegload.client.testing import FrameServer, reply_frame
from pegload.client.wire import messages as m

pytestmark = pytest.mark.integration


def echo_result(req):
    """A GET reply whose value is the requested key (so every caller can check its own answer)."""
    return reply_frame(req, m.ReadResponse(0, bytes(req.args), 1, 0))


def get_frame(conn, key: bytes) -> tuple[int, bytes]:
    seqid = conn.next_seqid()
    return seqid, wire.encode_request(wire.RPC_GET, seqid, key, app_id=1)


def value_of(reply: bytes) -> bytes:
    return wire.decode_response(reply).result.value


def call(conn, key: bytes, timeout: float = 2.0) -> bytes:
    seqid, frame = get_frame(conn, key)
    return value_of(conn.call(seqid, frame, time.monotonic() + timeout))


@pytest.fixture
def server():
    servers = []

    def start(handler):
        s = FrameServer(handler).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def test_replies_in_reverse_order_reach_their_callers(server):
    held = []

    def handler(req, peer):
        held.append((req, peer))
        if len(held) == 50:
            for r, p in reversed(held):
                p.reply(echo_result(r))

    conn = Connection(server(handler).address)
    jobs = [gevent.spawn(call, conn, b"key%d" % i) for i in range(50)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert [j.value for j in jobs] == [b"key%d" % i for i in range(50)]
    assert conn.pending == {}
    conn.close()


def test_timeout_removes_the_pending_entry_and_late_replies_are_dropped(server):
    late_sent = Event()

    def reply_late(peer, frame):
        peer.reply(frame)
        late_sent.set()

    def handler(req, peer):
        if bytes(req.args) == b"slow":
            gevent.spawn_later(0.3, reply_late, peer, echo_result(req))
        else:
            peer.reply(echo_result(req))

    conn = Connection(server(handler).address)
    t0 = time.monotonic()
    with pytest.raises(RequestTimeout, match="no reply from 127.0.0.1:"):
        call(conn, b"slow", timeout=0.1)
    assert 0.09 <= time.monotonic() - t0 < 2  # ended by its deadline, not by the late reply
    assert conn.pending == {}
    assert late_sent.wait(5)
    # the late reply left the server before this request, on the same stream: it was read first
    assert call(conn, b"fast") == b"fast"
    assert conn.dropped_replies == 1
    assert conn.pending == {} and conn.generation == 1


def test_server_closing_fails_every_pending_call_at_once_then_reconnects(server):
    held = []

    def handler(req, peer):
        if bytes(req.args) == b"ok":
            peer.reply(echo_result(req))
            return
        held.append(peer)
        if len(held) == 20:
            peer.close()

    conn = Connection(server(handler).address)
    t0 = time.monotonic()
    jobs = [gevent.spawn(call, conn, b"k%d" % i, 30.0) for i in range(20)]
    gevent.joinall(jobs, timeout=10)
    assert time.monotonic() - t0 < 5  # failed at once, not at the 30 s deadline
    assert all(isinstance(j.exception, ConnectionLost) and j.exception.sent for j in jobs)
    assert "closed the connection" in str(jobs[0].exception)
    assert conn.pending == {}
    assert call(conn, b"ok") == b"ok"  # reconnects on next use
    assert conn.generation == 2


def test_replies_fed_one_byte_at_a_time_and_in_odd_chunks(server):
    from gevent.lock import Semaphore

    one_at_a_time = Semaphore()  # whole frames must not interleave on the socket

    def handler(req, peer):
        frame = echo_result(req)
        step = 1 if req.seqid % 2 else 7

        def trickle():
            with one_at_a_time:
                for i in range(0, len(frame), step):
                    peer.reply(frame[i : i + step])
                    gevent.sleep(0.001)

        gevent.spawn(trickle)

    conn = Connection(server(handler).address)
    assert call(conn, b"first") == b"first"
    assert call(conn, b"second-key-longer") == b"second-key-longer"
    jobs = [gevent.spawn(call, conn, b"c%d" % i) for i in range(6)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert sorted(j.value for j in jobs) == sorted(b"c%d" % i for i in range(6))


def test_many_replies_in_one_segment(server):
    held = []

    def handler(req, peer):
        held.append(echo_result(req))
        if len(held) == 30:
            peer.reply(b"".join(held))

    conn = Connection(server(handler).address)
    jobs = [gevent.spawn(call, conn, b"m%d" % i) for i in range(30)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert [j.value for j in jobs] == [b"m%d" % i for i in range(30)]


def test_malformed_reply_drops_the_connection_with_a_protocol_error(server):
    conn = Connection(server(lambda req, peer: peer.reply(b"\x00\x00\x00\x05garbage")).address)
    with pytest.raises(ProtocolError, match="reply frame length 5 from 127.0.0.1:.* out of range"):
        call(conn, b"x")
    assert conn.pending == {} and not conn.is_open


def received(event):
    """A handler that never replies and sets ``event`` when a request arrived."""
    def handler(req, peer):
        event.set()
    return handler


def test_killed_caller_leaves_nothing_pending(server):
    arrived = Event()
    conn = Connection(server(received(arrived)).address)
    g = gevent.spawn(call, conn, b"never", 30.0)
    assert arrived.wait(5)  # registered before it was sent
    assert len(conn.pending) == 1
    g.kill()
    assert g.dead and conn.pending == {}


def test_close_fails_pending_calls_and_later_calls(server):
    arrived = Event()
    conn = Connection(server(received(arrived)).address)
    g = gevent.spawn(call, conn, b"never", 30.0)
    assert arrived.wait(5) and len(conn.pending) == 1
    conn.close()
    g.join(timeout=5)
    assert isinstance(g.exception, ClientClosed)
    with pytest.raises(ClientClosed, match="was closed"):
        call(conn, b"again")
    assert conn.pending == {}


def test_connect_refused_is_a_connection_loss_that_was_never_sent(server):
    s = server(lambda req, peer: None)
    addr = s.address
    s.stop()
    conn = Connection(addr)
    with pytest.raises(ConnectionLost, match="cannot connect to 127.0.0.1:") as ei:
        call(conn, b"x")
    assert ei.value.sent is False and conn.pending == {}


def test_oneway_frames_register_nothing(server):
    arrived = Event()
    s = server(received(arrived))
    conn = Connection(s.address)
    seqid = conn.next_seqid()
    conn.send_oneway(wire.encode_request(wire.RPC_CLEAR_SCANNER, seqid, 42, app_id=1),
                     time.monotonic() + 1)
    assert conn.pending == {}
    assert arrived.wait(5)
    assert s.requests[0].name == wire.RPC_CLEAR_SCANNER and s.requests[0].args == 42
    assert conn.pending == {}


def test_a_thousand_greenlets_share_one_connection(server):
    s = server(lambda req, peer: peer.reply(echo_result(req)))
    conn = Connection(s.address)
    jobs = [gevent.spawn(call, conn, b"g%04d" % i, 20.0) for i in range(1000)]
    gevent.joinall(jobs, timeout=30, raise_error=True)
    assert [j.value for j in jobs] == [b"g%04d" % i for i in range(1000)]
    assert conn.pending == {} and len(s.peers) == 1
    assert len({r.seqid for r in s.requests}) == 1000

