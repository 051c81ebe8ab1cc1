"""The codec against every frame of shared/vectors/pegasus-vectors.json (byte-equal)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pegload.client import wire
from pegload.client.wire import messages as m

# A copy of shared/vectors/pegasus-vectors.json (computed with the official client), kept in the
# repo so the tests run from a bare clone.
VECTORS = Path(__file__).resolve().parents[1] / "data" / "pegasus-vectors.json"


V = json.loads(VECTORS.read_text())
REQ = V["request_frames_v0"]
RESP = V["response_frames"]
H = bytes.fromhex


def key(hk, sk):
    return wire.encode_key(hk.encode(), sk.encode())


def frame(name, seqid, args, **kw):
    return wire.encode_request(name, seqid, args, **kw)


def test_crc64_parameters():
    p = V["crc64_parameters"]
    assert wire.crc64(b"123456789") == int(p["check_123456789_hex"], 16)
    from pegload.client.wire.crc64 import TABLE

    assert TABLE[1] == int(p["table_entry_1_hex"], 16)
    assert TABLE[128] == int(p["table_entry_128_hex"], 16)
    assert TABLE[255] == int(p["table_entry_255_hex"], 16)
    assert wire.crc64(b"") == 0


def test_hash_key_to_partition():
    vs = V["hash_key_to_partition"]["vectors"]
    assert len(vs) >= 9
    for v in vs:
        hk = bytes.fromhex(v["hash_key_hex"])
        crc = wire.hash_key_hash(hk)
        assert crc == int(v["crc64_u64_hex"], 16), v
        assert wire.partition_index(crc, 8) == v["partition_index_count_8"], v
        assert wire.partition_index(crc, 16) == v["partition_index_count_16"], v


def test_non_power_of_two_uses_unsigned_modulo():
    for v in V["non_power_of_two_partition_count_divergence"]["vectors"]:
        hk = bytes.fromhex(v["hash_key_hex"])
        assert wire.partition_index(wire.crc64(hk), v["partition_count"]) == v["unsigned_mod_go_java_cpp"], v


def test_composite_keys_and_hash():
    for v in V["composite_key_encoding_and_hash"]["vectors"]:
        hk, sk = H(v["hash_key_hex"]), H(v["sort_key_hex"])
        enc = wire.encode_key(hk, sk)
        assert enc.hex() == v["encoded_key_hex"]
        assert wire.decode_key(enc) == (hk, sk)
        assert wire.key_hash(enc) == int(v["crc64_u64_hex"], 16)
        assert wire.partition_index(wire.key_hash(enc), 8) == v["partition_index_count_8"]


def test_dsn_types():
    d = V["dsn_type_encodings"]
    assert wire.rpc_address_from("127.0.0.1", 34801) & (2**64 - 1) == int(d["rpc_address_127.0.0.1:34801_i64_hex"], 16)
    assert wire.rpc_address_from("10.1.2.3", 34601) & (2**64 - 1) == int(d["rpc_address_10.1.2.3:34601_i64_hex"], 16)
    assert wire.rpc_address_parts(wire.rpc_address_from("10.1.2.3", 34601)) == ("10.1.2.3", 34601)
    assert wire.rpc_address_parts(0) is None
    assert wire.thread_hash(1, 3) == d["thread_hash_app1_pidx3"]


def _check(name, built):
    v = REQ[name]
    assert built.hex() == v["frame_hex"], name
    req = wire.decode_request(built)
    assert req.seqid == v["inputs"]["seqid"]
    assert built[48:].hex() == v["body_hex"]
    return req


def test_request_get_remove_ttl():
    for name, rpc, seqid in (("get", wire.RPC_GET, 1), ("remove", wire.RPC_REMOVE, 4), ("ttl", wire.RPC_TTL, 5)):
        req = _check(name, frame(rpc, seqid, key("hk", "sk"), app_id=1, partition_index=3))
        assert req.args == key("hk", "sk") and req.name == rpc
        assert req.header.thread_hash == 7922


def test_request_set():
    _check("set_no_ttl", frame(wire.RPC_PUT, 2, m.UpdateRequest(key("hk", "sk"), b"v", 0), app_id=1, partition_index=3))
    ts = wire.expire_ts_for_ttl(3600, now=1700000000)
    assert ts == 248397200
    req = _check("set_ttl_3600", frame(wire.RPC_PUT, 3, m.UpdateRequest(key("hk", "sk"), b"v", ts),
                                       app_id=1, partition_index=3))
    assert req.args == m.UpdateRequest(key("hk", "sk"), b"v", ts)


def test_request_sortkey_count_multi_set_multi_del():
    _check("sortkey_count", frame(wire.RPC_SORTKEY_COUNT, 6, b"hk", app_id=1, partition_index=3))
    kvs = [m.KeyValue(b"a", b"1"), m.KeyValue(b"b", b"2")]
    req = _check("multi_set", frame(wire.RPC_MULTI_PUT, 7, m.MultiPutRequest(b"hk", kvs, 0),
                                    app_id=1, partition_index=3))
    assert req.args.kvs == kvs
    req = _check("multi_del", frame(wire.RPC_MULTI_REMOVE, 11, m.MultiRemoveRequest(b"hk", [b"a"]),
                                    app_id=1, partition_index=3))
    assert req.args.sort_keys == [b"a"] and req.args.max_count is None


def _mg(**kw):
    # pypegasus3 leaves unset fields off the wire; None does the same here
    base = dict(hash_key=b"hk", sort_keys=None, max_kv_count=None, max_kv_size=None, no_value=None,
                start_sortkey=None, stop_sortkey=None, start_inclusive=None, stop_inclusive=None,
                sort_key_filter_type=None, sort_key_filter_pattern=None, reverse=None)
    base.update(kw)
    return m.MultiGetRequest(**base)


def test_request_multi_get_variants():
    _check("multi_get_sort_keys", frame(wire.RPC_MULTI_GET, 8, _mg(
        sort_keys=[b"a"], max_kv_count=100, max_kv_size=1000000, no_value=False), app_id=1, partition_index=3))
    _check("get_sort_keys", frame(wire.RPC_MULTI_GET, 9, _mg(
        sort_keys=[], max_kv_count=100, max_kv_size=1000000, no_value=True), app_id=1, partition_index=3))
    req = _check("multi_get_range", frame(wire.RPC_MULTI_GET, 10, _mg(
        max_kv_count=10, max_kv_size=4096, no_value=False, start_sortkey=b"a", stop_sortkey=b"z",
        start_inclusive=True, stop_inclusive=False, sort_key_filter_type=2, sort_key_filter_pattern=b"p",
        reverse=False), app_id=1, partition_index=3))
    # the server side sees defaults for what was left off
    assert req.args.sort_keys == [] and req.args.sort_key_filter_type == wire.FilterType.FT_MATCH_PREFIX


def test_request_scanners():
    gs = m.GetScannerRequest(key("hk", "a"), key("hk", "z"), True, False, 100, None, None, None, None, None)
    req = _check("get_scanner", frame(wire.RPC_GET_SCANNER, 12, gs, app_id=1, partition_index=3))
    assert req.args.batch_size == 100 and req.args.no_value is False
    _check("scan", frame(wire.RPC_SCAN, 13, m.ScanRequest(5), app_id=1, partition_index=3))
    req = _check("clear_scanner", frame(wire.RPC_CLEAR_SCANNER, 14, 5, app_id=1, partition_index=3))
    assert req.args == 5
    v = REQ["get_scanner_unordered"]
    gs = m.GetScannerRequest(b"\x00\x00", "\xff\xff".encode(), True, False, 1000, None, None, None, None, None)
    hdr = wire.decode_request(H(v["frame_hex"])).header
    built = frame(wire.RPC_GET_SCANNER, 15, gs, app_id=hdr.app_id, partition_index=hdr.partition_index)
    assert built.hex() == v["frame_hex"]


def test_request_query_cfg():
    req = _check("query_cfg", frame(wire.RPC_QUERY_CFG, 1, m.QueryCfgRequest("temp", [])))
    assert req.args.app_name == "temp"


def test_request_supplementary_v0_and_v1():
    s = V["request_frames_supplementary"]
    ph = 0x5D9AD5B51C9A4AB3
    v0 = frame(wire.RPC_GET, 1, key("hk", "sk"), app_id=1, partition_index=3, client_timeout=1000, partition_hash=ph)
    assert v0.hex() == s["get_v0_with_timeout_and_partition_hash"]["frame_hex"]
    v1 = frame(wire.RPC_GET, 1, key("hk", "sk"), app_id=1, partition_index=3, client_timeout=1000,
               partition_hash=ph, version=1)
    assert v1.hex() == s["get_v1_java_style"]["frame_hex"]
    req = wire.decode_request(v1)
    assert req.header.version == 1 and req.header.partition_hash == ph and req.header.client_timeout == 1000
    assert req.args == key("hk", "sk")


def test_response_get_ok_and_not_found():
    r = wire.decode_response(H(RESP["get_ok"]["frame_hex"]))
    assert (r.error_name, r.seqid, r.result.error, r.result.value) == ("ERR_OK", 1, 0, b"v")
    built = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_ACK", 1, m.ReadResponse(0, b"v", 1, 3, "127.0.0.1:34801"))
    assert built.hex() == RESP["get_ok"]["frame_hex"]
    built = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_ACK", 2, m.ReadResponse(1, b"", 1, 3, "127.0.0.1:34801"))
    assert built.hex() == RESP["get_not_found"]["frame_hex"]


def test_response_rpc_error_has_no_body():
    built = wire.encode_response("ERR_OBJECT_NOT_FOUND", "RPC_RRDB_RRDB_GET_ACK", 3, m.ReadResponse())
    assert built.hex() == RESP["rpc_error_object_not_found"]["frame_hex"]
    r = wire.decode_response(built)
    assert r.error_name == "ERR_OBJECT_NOT_FOUND" and r.result is None and r.seqid == 3
    # an unknown error name is just a string, never a crash
    q = V["pypegasus3_0_0_1_1_quirks"]["frame_error_name_unknown_to_client"]["frame_hex"]
    assert wire.decode_response(H(q)).error_name == "ERR_SPLITTING"


def test_response_busy_with_body_is_ignored():
    built = wire.encode_response("ERR_BUSY", "RPC_RRDB_RRDB_GET_ACK", 9, m.ReadResponse(0, b"x"), body_on_error=True)
    r = wire.decode_response(built)
    assert r.error_name == "ERR_BUSY" and r.result is None


def test_response_put_multi_get_scanner():
    built = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_PUT_ACK", 2, m.UpdateResponse(0, 1, 3, 7, "127.0.0.1:34801"))
    assert built.hex() == RESP["put_ok"]["frame_hex"]
    built = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_MULTI_GET_ACK", 8,
                                 m.MultiGetResponse(7, [m.KeyValue(b"a", b"1")], 1, 3, "127.0.0.1:34801"))
    assert built.hex() == RESP["multi_get_incomplete"]["frame_hex"]
    r = wire.decode_response(built)
    assert r.result.error == 7 and r.result.kvs == [m.KeyValue(b"a", b"1")]
    built = wire.encode_response("ERR_OK", "RPC_RRDB_RRDB_GET_SCANNER_ACK", 12,
                                 m.ScanResponse(0, [m.KeyValue(key("hk", "a"), b"1")], 5, 1, 3, "127.0.0.1:34801"))
    assert built.hex() == RESP["get_scanner_ok"]["frame_hex"]


def _cfg(with_hp: bool):
    a1, a2 = wire.rpc_address_from("127.0.0.1", 34801), wire.rpc_address_from("127.0.0.1", 34802)
    parts = []
    for i, (p, s) in enumerate(((a1, a2), (a2, a1))):
        pc = m.PartitionConfiguration(wire.Gpid(1, i), 3, 3, p, [s], [], 42, 0)
        if with_hp:
            pc.hp_primary = wire.HostPort("127.0.0.1", wire.rpc_address_parts(p)[1])
            pc.hp_secondaries = [wire.HostPort("127.0.0.1", wire.rpc_address_parts(s)[1])]
            pc.hp_last_drops = []
        parts.append(pc)
    return m.QueryCfgResponse("ERR_OK", 1, 2, True, parts)


@pytest.mark.parametrize("with_hp", [False, True])
def test_response_query_cfg(with_hp):
    name = "query_cfg_ok_with_host_port_fields" if with_hp else "query_cfg_ok_without_host_port_fields"
    built = wire.encode_response("ERR_OK", wire.RPC_QUERY_CFG + "_ACK", 1, _cfg(with_hp))
    assert built.hex() == RESP[name]["frame_hex"]
    r = wire.decode_response(H(RESP[name]["frame_hex"]))
    cfg = r.result
    assert cfg.partition_count == 2 and cfg.is_stateful
    assert [wire.rpc_address_parts(p.primary) for p in cfg.partitions] == [("127.0.0.1", 34801), ("127.0.0.1", 34802)]
    assert [p.pid for p in cfg.partitions] == [(1, 0), (1, 1)]
    if with_hp:
        assert str(cfg.partitions[1].hp_primary) == "127.0.0.1:34802"


def test_response_frames_in_odd_chunks():
    frames = [H(RESP[k]["frame_hex"]) for k in ("get_ok", "rpc_error_object_not_found", "put_ok",
                                                   "query_cfg_ok_with_host_port_fields", "get_scanner_ok")]
    stream = b"".join(frames)
    for chunk in (1, 3, 7, 64, len(stream)):
        fr = wire.ResponseFramer()
        out = []
        for i in range(0, len(stream), chunk):
            out += fr.feed(stream[i : i + chunk])
        assert out == frames, chunk
        assert [wire.decode_response(f).seqid for f in out] == [1, 3, 2, 1, 12]


def test_request_frames_in_odd_chunks():
    frames = ([H(v["frame_hex"]) for v in REQ.values()]
              + [H(V["request_frames_supplementary"]["get_v1_java_style"]["frame_hex"])])
    stream = b"".join(frames)
    for chunk in (1, 2, 5, 13, len(stream)):
        fr = wire.RequestFramer()
        out = []
        for i in range(0, len(stream), chunk):
            out += fr.feed(stream[i : i + chunk])
        assert out == frames, chunk
    assert [wire.decode_request(f).seqid for f in frames][:3] == [1, 2, 3]
