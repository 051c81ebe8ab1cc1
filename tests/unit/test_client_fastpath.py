"""The client's precomputed encoders and reply splitters against the generic codec and the
official client's vectors (byte-equal)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pegload.client import wire
from pegload.client.wire import messages as m
from pegload.client.wire.crc64 import TABLE, crc64
from pegload.client.wire.fastpath import RequestEncoder, read_response_value, reply_error, reply_result

V = json.loads((Path(__file__).resolve().parents[1] / "data" / "pegasus-vectors.json").read_text())
H = bytes.fromhex

HEADERS = [  # (app_id, partition_index, client_timeout, partition_hash)
    (1, 3, 0, 0),
    (1, 3, 1000, 0x5D9AD5B51C9A4AB3),
    (7, 31, 2000, 0xFFFFFFFFFFFFFFFF),
    (300000, 5, 1, 0x8000000000000000),  # thread hash 300000*7919+5 overflows i32
    (-1, -1, 0, 0),
    (271_182, 0, 5, 1),  # the first app id whose thread hash passes 2**31 - 1
    (-300000, 2, 5, 1),  # wraps from below
]


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("name", [wire.RPC_GET, wire.RPC_TTL, wire.RPC_REMOVE, wire.RPC_SORTKEY_COUNT])
def test_blob_encoder_matches_generic(name, header):
    app, pidx, timeout, ph = header
    blob = wire.encode_key(b"hk", b"sk")
    want = wire.encode_request(name, 77, blob, app_id=app, partition_index=pidx,
                               client_timeout=timeout, partition_hash=ph)
    assert RequestEncoder(name).blob(77, blob, app, pidx, timeout, ph) == want


@pytest.mark.parametrize("header", HEADERS)
def test_struct_and_i64_encoders_match_generic(header):
    app, pidx, timeout, ph = header
    cases = [
        (wire.RPC_PUT, m.UpdateRequest(wire.encode_key(b"h", b"s"), b"value", 12345)),
        (wire.RPC_MULTI_GET, m.MultiGetRequest(b"h", [b"a", b"b"], 100, 1000000, False, b"", b"",
                                               True, False, 0, b"", False)),
        (wire.RPC_GET_SCANNER, m.GetScannerRequest(b"\x00\x00", b"\xff\xff", True, False, 1000)),
        (wire.RPC_QUERY_CFG, m.QueryCfgRequest("temp", [])),
    ]
    for name, args in cases:
        want = wire.encode_request(name, 9, args, app_id=app, partition_index=pidx,
                                   client_timeout=timeout, partition_hash=ph)
        assert bytes(RequestEncoder(name).struct(9, args, app, pidx, timeout, ph)) == want, name
    want = wire.encode_request(wire.RPC_CLEAR_SCANNER, 3, 42, app_id=app, partition_index=pidx,
                               client_timeout=timeout, partition_hash=ph)
    assert RequestEncoder(wire.RPC_CLEAR_SCANNER).i64(3, 42, app, pidx, timeout, ph) == want


def test_get_frame_is_the_official_vector_with_timeout_and_hash():
    v = V["request_frames_supplementary"]["get_v0_with_timeout_and_partition_hash"]
    key = wire.encode_key(b"hk", b"sk")
    frame = RequestEncoder(wire.RPC_GET).blob(1, key, 1, 3, 1000, wire.key_hash(key))
    assert frame == H(v["frame_hex"])


def test_official_request_vectors_through_the_encoders():
    req = V["request_frames_v0"]
    for name in ("get", "remove", "ttl", "sortkey_count", "scan", "query_cfg", "clear_scanner"):
        want = H(req[name]["frame_hex"])
        decoded = wire.decode_request(want)
        h = decoded.header
        enc = RequestEncoder(decoded.name)
        args = (decoded.seqid, decoded.args, h.app_id, h.partition_index, h.client_timeout,
                h.partition_hash)
        if name == "clear_scanner":
            got = enc.i64(*args)
        elif isinstance(decoded.args, bytes):
            got = enc.blob(*args)
        else:
            got = bytes(enc.struct(*args))
        assert got == want, name


def test_unknown_rpc_name_is_refused():
    with pytest.raises(ValueError, match="unknown RPC"):
        RequestEncoder("RPC_NOPE")


@pytest.mark.parametrize("name", list(V["response_frames"]))
def test_reply_split_agrees_with_decode_response(name):
    frame = H(V["response_frames"][name]["frame_hex"])
    resp = wire.decode_response(frame)
    err, off = reply_error(frame)
    if resp.error_name == "ERR_OK":
        assert err is None
        assert reply_result(frame, off, type(resp.result), resp.name) == resp.result
    else:
        assert err == resp.error_name and off == -1


def test_read_response_value_fast_and_fallback():
    ok = H(V["response_frames"]["get_ok"]["frame_hex"])
    _, off = reply_error(ok)
    assert read_response_value(ok, off) == (0, b"v")
    miss = H(V["response_frames"]["get_not_found"]["frame_hex"])
    assert read_response_value(miss, reply_error(miss)[1]) == (1, b"")
    # a server writing the value before the error: no fast path, the struct decoder handles it
    odd = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_ACK", 4, None)
    body = b"\x0c\x00\x00" + b"\x0c\x00\x02\x00\x00\x00\x01x" + b"\x08\x00\x01\x00\x00\x00\x00" + b"\x00\x00"
    frame = (len(odd) + len(body)).to_bytes(4, "big") + odd[4:] + body
    off = reply_error(frame)[1]
    assert read_response_value(frame, off) is None
    r = reply_result(frame, off, m.ReadResponse, "RPC_RRDB_RRDB_GET_ACK")
    assert (r.error, r.value) == (0, b"x")


def test_reply_error_names_unknown_errors_without_crashing():
    frame = wire.encode_response("ERR_SOMETHING_NEW", "RPC_RRDB_RRDB_GET_ACK", 5)
    assert reply_error(frame) == ("ERR_SOMETHING_NEW", -1)
    with pytest.raises(wire.WireError):
        reply_error(frame[:10])


def _crc_bytewise(data: bytes) -> int:
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def test_two_bytes_per_step_crc_equals_the_bytewise_definition():
    rnd = __import__("random").Random(4)
    for n in list(range(0, 40)) + [255, 256, 1001]:
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        assert crc64(data) == _crc_bytewise(data), n
        assert crc64(bytearray(data)) == crc64(memoryview(data)) == crc64(data)
    assert crc64(b"123456789") == 0xAE8B14860A799888
    assert crc64(os.urandom(0)) == 0


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("expire", [0, 248397200, -1])
def test_update_encoder_matches_generic_put(header, expire):
    app, pidx, timeout, ph = header
    key, value = wire.encode_key(b"hk", b"sk"), b"x" * 300
    want = wire.encode_request(wire.RPC_PUT, 11, m.UpdateRequest(key, value, expire), app_id=app,
                               partition_index=pidx, client_timeout=timeout, partition_hash=ph)
    assert RequestEncoder(wire.RPC_PUT).update(11, key, value, expire, app, pidx, timeout, ph) == want


def test_official_set_vector_through_the_update_encoder():
    v = V["request_frames_v0"]["set_ttl_3600"]
    want = H(v["frame_hex"])
    r = wire.decode_request(want)
    h = r.header
    got = RequestEncoder(wire.RPC_PUT).update(r.seqid, r.args.key, r.args.value, r.args.expire_ts_seconds,
                                              h.app_id, h.partition_index, h.client_timeout,
                                              h.partition_hash)
    assert got == want


def test_response_error_reads_the_first_field_or_gives_up():
    from pegload.client.wire.fastpath import response_error

    for status in (0, 1, 4, 13):
        frame = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_PUT_ACK", 3, m.UpdateResponse(status, 1, 2, 3, "s"))
        assert response_error(frame, reply_error(frame)[1]) == status
    put_ok = H(V["response_frames"]["put_ok"]["frame_hex"])
    assert response_error(put_ok, reply_error(put_ok)[1]) == 0
    odd = m.UpdateResponse(None, 1, 2, 3, "s")  # error field missing: no fast answer
    frame = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_PUT_ACK", 3, odd)
    assert response_error(frame, reply_error(frame)[1]) is None


def test_pairs_fast_path_on_the_official_vectors():
    from pegload.client.wire.fastpath import error_and_pairs, scan_context

    mg = H(V["response_frames"]["multi_get_incomplete"]["frame_hex"])
    error, pairs, _ = error_and_pairs(mg, reply_error(mg)[1])
    assert (error, pairs) == (7, [(b"a", b"1")])
    sc = H(V["response_frames"]["get_scanner_ok"]["frame_hex"])
    error, pairs, p = error_and_pairs(sc, reply_error(sc)[1])
    assert (error, pairs, scan_context(sc, p)) == (0, [(H("0002686b61"), b"1")], 5)


@pytest.mark.parametrize("n", [0, 1, 37])
def test_pairs_fast_path_equals_the_struct_decoder(n):
    from pegload.client.wire.fastpath import error_and_pairs, scan_context

    kvs = [m.KeyValue(b"k%d" % i, b"v" * i, 5 if i % 2 else None) for i in range(n)]
    frame = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_SCAN_ACK", 1, m.ScanResponse(0, kvs, -7, 1, 2, "s"))
    off = reply_error(frame)[1]
    error, pairs, p = error_and_pairs(frame, off)
    want = wire.decode_response(frame).result
    assert pairs == [(kv.key, kv.value) for kv in want.kvs] and error == want.error
    assert scan_context(frame, p) == -7


def test_pairs_fast_path_gives_up_on_other_layouts_and_truncation():
    from pegload.client.wire.fastpath import error_and_pairs

    kvs = [m.KeyValue(b"key", b"value")]
    frame = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_MULTI_GET_ACK", 1, m.MultiGetResponse(0, kvs, 1, 2))
    off = reply_error(frame)[1]
    list_end = error_and_pairs(frame, off)[2]
    for cut in range(off, list_end):  # cut inside the list: never a short key or value
        assert error_and_pairs(frame[:cut], off) is None, cut
    no_error_first = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_MULTI_GET_ACK", 1,
                                          m.MultiGetResponse(None, kvs, 1, 2))
    assert error_and_pairs(no_error_first, off) is None


def test_fast_readers_never_raise_on_truncated_frames():
    from pegload.client.wire.fastpath import response_error

    ok = H(V["response_frames"]["get_ok"]["frame_hex"])
    off = reply_error(ok)[1]
    for cut in range(off, len(ok)):
        short = ok[:cut]
        r = read_response_value(short, off)
        assert r is None or r == (0, b"v")
        assert response_error(short, off) in (None, 0)
