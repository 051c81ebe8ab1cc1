"""The coordinator <-> worker protocol: every message round-trips, frames split anywhere."""
import struct

import pytest

from pegload.runner.protocol import (
    MESSAGE_TYPES,
    FrameReader,
    Heartbeat,
    Hello,
    InitFailed,
    Interval,
    PhaseDone,
    Plan,
    ProtocolError,
    Ready,
    Shutdown,
    StartPhase,
    StopPhase,
    WorkerFailed,
    as_dict,
    encode,
)

SAMPLES = [
    Hello(1, "tok", 4242),
    Plan(["127.0.0.1:34601", "127.0.0.1:34602"], "temp", 1000, 1.0, b"\x80\x05pickled scenario"),
    Ready(1, {"app_id": 3, "partition_count": 8, "replica_servers": ["127.0.0.1:34801"]}),
    InitFailed(0, "table 'nope' does not exist"),
    StartPhase(-1, 1_700_000_000.25),
    Interval(1, 0, {"cpu": 0.5, "wall_s": 1.0}, b"PLI1\x00\x00\x00\x02{}" + bytes(range(256))),
    PhaseDone(1, 0, {"get": 10, "set": 2}, 3, True, ["get hk/sk: corrupt: bad"], slots=15, late_sent=1,
              arrivals="poisson"),
    Heartbeat(1, 0),
    StopPhase("interrupted"),
    Shutdown(),
    WorkerFailed(1, "ZeroDivisionError: boom\ntraceback..."),
]


def test_every_message_type_has_a_sample():
    assert {type(m) for m in SAMPLES} == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: m.TYPE)
def test_round_trip(msg):
    assert FrameReader().feed(encode(msg)) == [msg]


def test_frames_fed_one_byte_at_a_time_and_back_to_back():
    stream = b"".join(encode(m) for m in SAMPLES)
    reader, out = FrameReader(), []
    for i in range(len(stream)):
        out.extend(reader.feed(stream[i:i + 1]))
    assert out == SAMPLES and reader.pending_bytes == 0
    assert FrameReader().feed(stream) == SAMPLES


def test_binary_blob_is_not_json_encoded():
    blob = b"\xff" * 1000
    frame = encode(Interval(0, 0, {}, blob))
    assert blob in frame and len(frame) < 1100


def test_as_dict_shows_blob_length_only():
    assert as_dict(Interval(0, 1, {}, b"abc"))["blob"] == "<3 bytes>"


@pytest.mark.parametrize("frame, problem", [
    (struct.pack(">II", 2, 0), "frame length"),
    (struct.pack(">II", 4 + 5, 5) + b"nojso", "not JSON"),
    (struct.pack(">II", 4 + 16, 16) + b'{"type":"nope"} ', "unknown message type"),
    (struct.pack(">II", 4 + 25, 25) + b'{"type":"hello","x":1}   ', "bad hello message"),
    (struct.pack(">II", 4, 99), "header length"),
])
def test_malformed_frames_are_refused_with_the_reason(frame, problem):
    with pytest.raises(ProtocolError, match=problem):
        FrameReader().feed(frame)
