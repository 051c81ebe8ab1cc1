"""Codec properties beyond the vectors: round trips, malformed input, key helpers."""
from __future__ import annotations

import random
import struct

import pytest

from pegload.client import wire
from pegload.client.wire import messages as m


def test_key_helpers():
    assert wire.next_prefix(b"ab") == b"ac"
    assert wire.next_prefix(b"a\xff\xff") == b"b"
    assert wire.next_prefix(b"\xff\xff") == b""
    assert wire.hash_key_upper_bound(b"hk") == b"\x00\x02hl"
    with pytest.raises(ValueError, match="65534"):
        wire.encode_key(b"x" * 65535, b"")
    assert wire.decode_key(wire.encode_key(b"x" * 65534, b"s")) == (b"x" * 65534, b"s")
    with pytest.raises(ValueError):
        wire.decode_key(b"\x00\x05ab")


def test_ttl_arithmetic():
    assert wire.expire_ts_for_ttl(0, now=1700000000) == 0
    assert wire.expire_ts_for_ttl(10, now=wire.PEGASUS_EPOCH + 100) == 110
    assert wire.is_expired(110, 110) and not wire.is_expired(111, 110) and not wire.is_expired(0, 10**9)


def test_round_trip_every_message():
    cases = [
        m.UpdateRequest(b"k", b"v", 5), m.MultiPutRequest(b"h", [m.KeyValue(b"a", b"1", 3)], 9),
        m.MultiRemoveRequest(b"h", [b"a", b"b"], 100), m.IncrRequest(b"k", -5, -1),
        m.CheckAndSetRequest(b"h", b"c", 15, b"1", True, b"s", b"v", 7, True),
        m.CheckAndMutateRequest(b"h", b"c", 3, b"", [m.Mutate(0, b"s", b"v", 1), m.Mutate(1, b"t")], True),
        m.MultiGetRequest(b"h", [b"a"], 10, 100, True, b"a", b"z", True, True, 1, b"p", True),
        m.BatchGetRequest([m.FullKey(b"h", b"s")]), m.BatchGetResponse(0, [m.FullData(b"h", b"s", b"v")], 1, 2, "x"),
        m.GetScannerRequest(b"s", b"e", True, False, 10, True, 2, b"h", 3, b"s", True, True, True, False),
        m.ScanResponse(0, [m.KeyValue(b"k", b"v")], -1, 1, 2, "s", 4), m.IncrResponse(0, 42, 1, 2, 3, "s"),
        m.CheckAndSetResponse(13, True, True, b"old", 1, 2, 3, "s"), m.TtlResponse(0, 30, 1, 2, "s"),
        m.CountResponse(0, 12, 1, 2, "s"), m.MultiRemoveResponse(0, 2, 1, 2, 3, "s"),
        m.RequestMetaV1(1, 2, 3, -4, True),
    ]
    for msg in cases:
        assert type(msg).from_bytes(msg.to_bytes()) == msg, msg


def test_unknown_fields_are_skipped_and_missing_fields_default():
    T = wire.TType
    data = (struct.pack(">bhi", T.I32, 1, 0)                                   # error = 0
            + struct.pack(">bhbi", T.LIST, 50, T.STRING, 1) + struct.pack(">i", 2) + b"zz"  # unknown
            + struct.pack(">bhi", T.STRUCT, 2, 3) + b"val"                      # value blob
            + b"\x00")
    r = m.ReadResponse.from_bytes(data)
    assert r.value == b"val" and r.server == "" and r.app_id == 0


def test_thread_hash_is_the_signed_32_bit_product_sum():
    for app_id, pidx in [(1, 3), (0, 0), (271_000, 5), (2**31, 7), (-5, 1), (10**12, 2**20)]:
        want = struct.unpack(">i", struct.pack(">I", (app_id * 7919 + pidx) & 0xFFFFFFFF))[0]
        assert wire.thread_hash(app_id, pidx) == want, (app_id, pidx)


def test_truncated_and_garbage_input_only_raise_wire_errors():
    rng = random.Random(7)
    good = wire.encode_request(wire.RPC_MULTI_GET, 3, m.MultiGetRequest(b"h", [b"a", b"b"], 5), app_id=1)
    for cut in range(48, len(good)):
        with pytest.raises(wire.WireError):
            wire.decode_request(good[:cut])
    for _ in range(2000):
        b = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(48, len(b))] = rng.randrange(256)
        try:
            wire.decode_request(bytes(b))
        except wire.WireError:
            pass
    resp = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_MULTI_GET_ACK", 1,
                                m.MultiGetResponse(0, [m.KeyValue(b"a", b"b")]))
    for cut in range(4, len(resp)):
        with pytest.raises(wire.WireError):
            wire.decode_response(resp[:cut])


def test_framers_reject_bad_frames():
    with pytest.raises(wire.FrameError, match="magic"):
        wire.RequestFramer().feed(b"HTTP/1.1 200 OK\r\n\r\n")
    bad_len = bytearray(wire.encode_request(wire.RPC_GET, 1, b"\x00\x00"))
    bad_len[11] = 47
    with pytest.raises(wire.FrameError, match="48"):
        wire.RequestFramer().feed(bytes(bad_len))
    huge = bytearray(wire.encode_request(wire.RPC_GET, 1, b"\x00\x00"))
    huge[16:20] = (1 << 30).to_bytes(4, "big")
    with pytest.raises(wire.FrameError, match="limit"):
        wire.RequestFramer().feed(bytes(huge))
    with pytest.raises(wire.FrameError):
        wire.ResponseFramer().feed(b"\x00\x00\x00\x02")


def test_unknown_rpc_decodes_without_args_and_oneway_is_accepted():
    f = wire.encode_request("RPC_SOMETHING_NEW", 4, b"xx")
    req = wire.decode_request(f)
    assert req.name == "RPC_SOMETHING_NEW" and req.args is None and req.seqid == 4
    one = bytearray(wire.encode_request(wire.RPC_GET, 5, b"\x00\x00"))
    one[51] = 4  # message type ONEWAY
    assert wire.decode_request(bytes(one)).msg_type == 4
    one[51] = 3  # EXCEPTION: dropped by the server
    with pytest.raises(wire.FrameError):
        wire.decode_request(bytes(one))
