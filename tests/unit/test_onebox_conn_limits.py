"""FrameReader's bounds without a network: frame cap, shared buffering cap, frame and idle
timeouts judged by an injected clock (the socket is a stub)."""

import pytest

from pegload.client.wire import RPC_GET, FrameError, encode_key, encode_request
from pegload.onebox.conn_limits import BufferBudget, ConnLimits, FrameReader, LimitError

FRAME = encode_request(RPC_GET, 1, encode_key(b"h", b"s"), app_id=1)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class StubSocket:
    """recv() hands out queued chunks; an empty queue means the peer is silent (a timeout)."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.timeouts = []

    def settimeout(self, t):
        self.timeouts.append(t)

    def recv(self, n):
        if not self.chunks:
            raise TimeoutError("timed out")
        return self.chunks.pop(0)


def reader(sock=None, budget=None, clock=None, **limits):
    return FrameReader(sock or StubSocket(), ConnLimits(**limits), budget or BufferBudget(1 << 30),
                       clock or Clock())


def test_frames_split_and_held_bytes_tracked():
    budget = BufferBudget(1 << 20)
    r = reader(budget=budget)
    assert r.feed(FRAME[:10]) == [] and r.held == 10 and budget.held == 10
    assert r.feed(FRAME[10:] + FRAME + FRAME[:5]) == [FRAME, FRAME]
    assert r.held == 5 and budget.held == 5
    r.release()
    assert budget.held == 0


def test_frame_over_the_cap_is_refused_at_its_header():
    r = reader(max_frame_bytes=64 * 1024)
    header = b"THFT" + (0).to_bytes(4, "big") + (48).to_bytes(4, "big") + b"\0" * 4 \
        + (70_000).to_bytes(4, "big") + b"\0" * 28
    with pytest.raises(FrameError, match="exceeds the 65536-byte limit"):
        r.feed(header)


def test_buffering_cap_is_shared_and_given_back():
    budget = BufferBudget(100)
    a, b = reader(budget=budget), reader(budget=budget)
    a.feed(FRAME[:60])
    with pytest.raises(LimitError, match="over the 100-byte cap"):
        b.feed(FRAME[:60])
    b.release()
    a.release()
    assert budget.held == 0
    reader(budget=budget).feed(FRAME[:60])  # room again


def test_a_begun_frame_must_complete_within_the_frame_timeout():
    clock = Clock()
    sock = StubSocket(FRAME[:10], FRAME[10:20])
    r = reader(sock, clock=clock, frame_timeout_s=5.0, idle_timeout_s=0.0)
    r.feed(r.recv())
    assert sock.timeouts == [None]  # nothing begun yet: no timeout (idle timeout off)
    clock.t += 2.0
    r.feed(r.recv())  # more bytes of the same frame do not restart its clock
    assert sock.timeouts[-1] == pytest.approx(3.0)
    clock.t += 1.0
    with pytest.raises(LimitError, match=r"incomplete frame: 20 bytes received, not completed within 5 s"):
        r.recv()  # the peer stays silent for the 2 s left
    clock.t += 2.5
    with pytest.raises(LimitError, match="incomplete frame"):
        r.recv()  # past the deadline: refused without waiting


def test_completing_a_frame_starts_the_next_ones_clock():
    clock = Clock()
    r = reader(clock=clock, frame_timeout_s=5.0)
    r.feed(FRAME[:10])
    clock.t += 4.0
    assert r.feed(FRAME[10:] + FRAME[:3]) == [FRAME]
    sock = StubSocket()
    r._sock = sock
    with pytest.raises(LimitError):
        r.recv()
    assert sock.timeouts == [pytest.approx(5.0)]


def test_idle_timeout():
    sock = StubSocket()
    r = reader(sock, idle_timeout_s=7.0)
    with pytest.raises(LimitError, match="idle for 7 s"):
        r.recv()
    assert sock.timeouts == [7.0]


def test_end_of_stream():
    assert reader(StubSocket(b"")).recv() is None
