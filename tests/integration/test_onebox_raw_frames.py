"""The onebox on the wire: the computed request frames of shared/vectors/pegasus-vectors.json
(pypegasus3 0.0.1.1's exact bytes, v0 headers, plus the v1 Java-style frame) sent raw, and every
RPC pypegasus3 cannot send (incr, check_and_*, batch_get) built with our wire codec."""
import json
import pathlib
import struct
import time

import pytest

from pegload.client import wire
from pegload.client.wire import (
    RPC_BATCH_GET,
    RPC_CHECK_AND_MUTATE,
    RPC_CHECK_AND_SET,
    RPC_GET,
    RPC_INCR,
    RPC_MULTI_GET,
    RPC_MULTI_PUT,
    RPC_PUT,
    RPC_QUERY_CFG,
    RPC_TTL,
    encode_key,
    encode_request,
)

pytestmark = pytest.mark.integration

# the repository's copy of shared/vectors/pegasus-vectors.json (computed with pypegasus3)
VECTORS = pathlib.Path(__file__).resolve().parents[1] / "data" / "pegasus-vectors.json"


@pytest.fixture(scope="module")
def vectors():
    return json.loads(VECTORS.read_text())


def frame(vectors, name, group="request_frames_v0"):
    return bytes.fromhex(vectors[group][name]["frame_hex"])


@pytest.fixture(scope="module")
def box():
    """A private onebox: the vector frames use fixed keys ("hk") that other modules must not see."""
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}) as ob:
        yield ob


def primary_of(box, pidx, table="temp"):
    return box.partition_config(table)[pidx]["primary"]


@pytest.fixture
def p3(box, raw_connect):
    """A connection to the primary of temp partition 3, where hash key "hk" lives."""
    return raw_connect(primary_of(box, 3))


def test_query_cfg_vector_on_every_meta(box, vectors, raw_connect):
    leader, *others = box.meta_addrs
    r = raw_connect(leader).call(frame(vectors, "query_cfg"))
    cfg = r.result
    assert (r.error_name, r.name, r.seqid) == ("ERR_OK", RPC_QUERY_CFG + "_ACK", 1)
    assert (cfg.err, cfg.app_id, cfg.partition_count, cfg.is_stateful) == ("ERR_OK", 1, 8, True)
    primaries = ["{}:{}".format(*wire.rpc_address_parts(p.primary)) for p in cfg.partitions]
    assert primaries == [p["primary"] for p in box.partition_config("temp")]
    assert set(primaries) == set(box.replica_addrs)
    assert all(p.ballot >= 1 and p.hp_primary is None for p in cfg.partitions)
    for addr in others:
        r = raw_connect(addr).call(frame(vectors, "query_cfg"))
        assert (r.error_name, r.result.err, r.result.is_stateful) == ("ERR_OK", "ERR_FORWARD_TO_OTHERS", False)
        assert "{}:{}".format(*wire.rpc_address_parts(r.result.partitions[0].primary)) == leader


def test_vector_sequence_on_partition_3(box, vectors, p3):
    c = p3
    c.call(frame(vectors, "multi_del"))
    r = c.call(frame(vectors, "set_no_ttl"))
    assert (r.error_name, r.seqid, r.result.error, r.result.app_id, r.result.partition_index) == ("ERR_OK", 2, 0, 1, 3)
    assert r.result.decree >= 1 and r.result.server == primary_of(box, 3)
    r = c.call(frame(vectors, "get"))
    assert (r.seqid, r.result.error, r.result.value) == (1, 0, b"v")
    assert c.call(frame(vectors, "ttl")).result.ttl_seconds == -1
    # the TTL vector was computed with the clock frozen in 2023: already expired -> invisible
    assert c.call(frame(vectors, "set_ttl_3600")).result.error == 0
    assert c.call(frame(vectors, "get")).result.error == 1
    assert c.call(frame(vectors, "ttl")).result.error == 1
    assert c.call(frame(vectors, "remove")).result.error == 0
    assert c.call(frame(vectors, "multi_set")).result.error == 0
    r = c.call(frame(vectors, "multi_get_sort_keys")).result
    assert (r.error, [(kv.key, kv.value) for kv in r.kvs]) == (0, [(b"a", b"1")])
    r = c.call(frame(vectors, "get_sort_keys")).result
    assert (r.error, [(kv.key, kv.value) for kv in r.kvs]) == (0, [(b"a", b""), (b"b", b"")])
    assert c.call(frame(vectors, "sortkey_count")).result.count == 2
    assert c.call(frame(vectors, "multi_get_range")).result.kvs == []  # no sort key starts with "p"
    r = c.call(frame(vectors, "get_scanner")).result
    assert [kv.key for kv in r.kvs] == [encode_key(b"hk", b"a"), encode_key(b"hk", b"b")]
    assert r.context_id == -1
    r = c.call(frame(vectors, "scan")).result  # context 5 was never issued
    assert (r.error, r.context_id) == (1, 0)
    r = c.call(frame(vectors, "multi_del")).result
    assert (r.error, r.count) == (0, 1)


def test_get_reply_bytes_match_the_vector(box, vectors, p3):
    p3.call(frame(vectors, "set_no_ttl"))
    p3.send(frame(vectors, "get"))
    got = p3.recv_frame()
    server = primary_of(box, 3).encode()
    want = bytes.fromhex(vectors["response_frames"]["get_ok"]["frame_hex"])
    want = want.replace(b"\x00\x00\x00\x0f127.0.0.1:34801", struct.pack(">i", len(server)) + server)
    want = struct.pack(">i", len(want)) + want[4:]
    assert got == want


def test_not_found_frame_bytes_match_the_vector(vectors, raw_connect, box):
    # gpid (1, 8) does not exist: the vector's ERR_OBJECT_NOT_FOUND reply (seqid 3), byte for byte
    req = encode_request(RPC_GET, 3, encode_key(b"hk", b"sk"), app_id=1, partition_index=8)
    raw = raw_connect(box.replica_addrs[0])
    raw.send(req)
    assert raw.recv_frame() == bytes.fromhex(vectors["response_frames"]["rpc_error_object_not_found"]["frame_hex"])


def test_clear_scanner_is_never_answered(vectors, p3):
    p3.send(frame(vectors, "clear_scanner"))  # seqid 14
    r = p3.call(frame(vectors, "get"))  # the next reply on the wire is the get's (seqid 1)
    assert r.seqid == 1 and r.name == RPC_GET + "_ACK"


def test_unordered_scanner_vector_reads_partition_5_only(box, vectors, raw_connect):
    keys = {}
    conns = {}
    for i in range(40):
        hk = b"unordered-%d" % i
        pidx = wire.partition_index(wire.hash_key_hash(hk), 8)
        addr = primary_of(box, pidx)
        c = conns.get(addr) or conns.setdefault(addr, raw_connect(addr))
        put = wire.UpdateRequest(encode_key(hk, b"s"), b"x", 0)
        assert c.call(encode_request(RPC_PUT, i, put, app_id=1, partition_index=pidx)).result.error == 0
        keys[encode_key(hk, b"s")] = pidx
    r = raw_connect(primary_of(box, 5)).call(frame(vectors, "get_scanner_unordered")).result
    got = [kv.key for kv in r.kvs]
    assert r.error == 0 and r.context_id == -1
    assert {k for k, p in keys.items() if p == 5} <= set(got)
    assert all(wire.partition_index(wire.key_hash(k), 8) == 5 for k in got)


def test_v1_header_and_filled_v0_header(box, vectors, p3):
    p3.call(frame(vectors, "set_no_ttl"))
    for f in (frame(vectors, "get_v1_java_style", "request_frames_supplementary"),
              frame(vectors, "get_v0_with_timeout_and_partition_hash", "request_frames_supplementary")):
        r = p3.call(f)
        assert (r.error_name, r.result.error, r.result.value) == ("ERR_OK", 0, b"v")


def test_pipelined_requests_all_answered(box, p3):
    n = 200
    p3.call(encode_request(RPC_PUT, 0, wire.UpdateRequest(encode_key(b"hk", b"pipe"), b"pv", 0),
                           app_id=1, partition_index=3))
    p3.send(b"".join(encode_request(RPC_GET, 1000 + i, encode_key(b"hk", b"pipe"), app_id=1, partition_index=3)
                     for i in range(n)))
    replies = [wire.decode_response(p3.recv_frame()) for _ in range(n)]
    assert sorted(r.seqid for r in replies) == list(range(1000, 1000 + n))
    assert all(r.result.value == b"pv" for r in replies)


def test_ttl_expiry_with_the_server_clock(p3):
    key = encode_key(b"hk", b"short-lived")
    put = wire.UpdateRequest(key, b"x", wire.epoch_now() + 1)
    assert p3.call(encode_request(RPC_PUT, 1, put, app_id=1, partition_index=3)).result.error == 0
    deadline = time.monotonic() + 5
    while True:  # gone once the server's clock reaches expire_ts (at most ~1 s)
        r = p3.call(encode_request(RPC_GET, 2, key, app_id=1, partition_index=3)).result
        if r.error == 1:
            break
        assert r.value == b"x" and time.monotonic() < deadline
        time.sleep(0.05)
    assert p3.call(encode_request(RPC_TTL, 3, key, app_id=1, partition_index=3)).result.error == 1


def test_multi_get_limits_and_incomplete_on_the_wire(p3):
    hk = b"hk"
    kvs = [wire.KeyValue(b"mg%02d" % i, b"v%02d" % i) for i in range(30)]
    p3.call(encode_request(RPC_MULTI_PUT, 1, wire.MultiPutRequest(hk, kvs, 0), app_id=1, partition_index=3))

    def mg(**kw):
        req = wire.MultiGetRequest(hash_key=hk, **kw)
        return p3.call(encode_request(RPC_MULTI_GET, 2, req, app_id=1, partition_index=3)).result

    r = mg(start_sortkey=b"mg", stop_sortkey=b"mh", start_inclusive=True, max_kv_count=10)
    assert (r.error, [kv.key for kv in r.kvs]) == (7, [b"mg%02d" % i for i in range(10)])
    r = mg(start_sortkey=b"mg", stop_sortkey=b"mg29", start_inclusive=True, stop_inclusive=True, max_kv_count=30)
    assert (r.error, len(r.kvs)) == (0, 30)
    r = mg(start_sortkey=b"mg", stop_sortkey=b"mh", start_inclusive=True, reverse=True, max_kv_count=3)
    assert (r.error, [kv.key for kv in r.kvs]) == (7, [b"mg27", b"mg28", b"mg29"])
    r = mg(sort_keys=[b"mg05", b"nope", b"mg01"], max_kv_size=1)
    assert (r.error, [kv.key for kv in r.kvs]) == (7, [b"mg05"])


def test_incr_check_and_set_check_and_mutate_batch_get(p3):
    def call(name, args, seq=1):
        return p3.call(encode_request(name, seq, args, app_id=1, partition_index=3)).result

    key = encode_key(b"hk", b"counter")
    p3.call(encode_request(RPC_PUT, 1, wire.UpdateRequest(key, b"0x10", 0), app_id=1, partition_index=3))
    assert call(RPC_INCR, wire.IncrRequest(key, 2, 0)).new_value == 18
    cas = wire.CheckAndSetRequest(hash_key=b"hk", check_sort_key=b"counter", check_type=15,
                                  check_operand=b"18", set_value=b"cas", return_check_value=True)
    miss = wire.CheckAndSetRequest(hash_key=b"hk", check_sort_key=b"counter", check_type=15,
                                   check_operand=b"19", set_value=b"never")
    assert call(RPC_CHECK_AND_SET, miss).error == 13  # check failed, nothing written
    r = call(RPC_CHECK_AND_SET, cas)
    assert (r.error, r.check_value_returned, r.check_value_exist, r.check_value) == (0, True, True, b"18")
    r = call(RPC_CHECK_AND_SET, cas)  # the stored "cas" does not parse as an integer
    assert (r.error, r.check_value) == (4, b"cas")
    cam = wire.CheckAndMutateRequest(hash_key=b"hk", check_sort_key=b"counter", check_type=10,
                                     check_operand=b"cas",
                                     mutate_list=[wire.Mutate(0, b"m1", b"1", 0), wire.Mutate(1, b"counter", b"", 0)])
    assert call(RPC_CHECK_AND_MUTATE, cam).error == 0
    r = call(RPC_BATCH_GET, wire.BatchGetRequest([wire.FullKey(b"hk", b"m1"), wire.FullKey(b"hk", b"counter")]))
    assert (r.error, [(d.sort_key, d.value) for d in r.data]) == (0, [(b"m1", b"1")])
