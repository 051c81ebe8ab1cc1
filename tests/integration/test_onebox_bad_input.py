"""Bad input never takes the onebox down: malformed frames close that connection only; unknown
RPCs, wrong gpids, oversized writes and misdirected RPCs get the real server's frame errors."""
import struct

import pytest

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_MULTI_PUT, RPC_PUT, RPC_QUERY_CFG, encode_key, encode_request

pytestmark = pytest.mark.integration


def get_frame(seqid=1, hk=b"badinput", pidx=None, **kw):
    key = encode_key(hk, b"s")
    if pidx is None:
        pidx = wire.partition_index(wire.key_hash(key), 8)
    return encode_request(RPC_GET, seqid, key, app_id=1, partition_index=pidx, **kw)


def primary(onebox, pidx):
    return onebox.partition_config("temp")[pidx]["primary"]


def pidx_of(hk=b"badinput"):
    return wire.partition_index(wire.hash_key_hash(hk), 8)


GOOD = encode_request(RPC_GET, 1, encode_key(b"x", b"y"), app_id=1, partition_index=0)


@pytest.mark.parametrize("garbage", [
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 40,  # bad magic
    b"THFT" + struct.pack(">IIIII", 0, 40, 0, 0, 0) + b"\x00" * 28,  # v0 header length 40
    b"THFT" + struct.pack(">III", 7, 0, 0),  # header version 7
    b"THFT" + struct.pack(">IIIII", 0, 48, 0, 200 << 20, 0) + b"\x00" * 28,  # 200 MiB body claim
    GOOD[:48] + struct.pack(">I", 0x80010003) + GOOD[52:],  # message type EXCEPTION
    GOOD[:48] + b"\x00\x00\x00\x01" + GOOD[52:],  # not a strict binary message
    GOOD[:-1] + b"\x0b",  # args struct not terminated by STOP
])
def test_malformed_frame_closes_only_that_connection(onebox, raw_connect, garbage):
    addr = onebox.replica_addrs[0]
    other = raw_connect(addr)
    bad = raw_connect(addr)
    bad.send(garbage)
    assert bad.closed_by_peer()
    r = other.call(get_frame(pidx=0))  # the server and its other connections live on
    assert r.error_name == "ERR_OK"
    assert raw_connect(addr).call(get_frame(pidx=0)).error_name == "ERR_OK"


def test_malformed_frame_after_good_ones_still_answers_them(onebox, raw_connect):
    addr = primary(onebox, 0)
    c = raw_connect(addr)
    c.send(GOOD + GOOD[:48] + b"\xff" * (len(GOOD) - 48))
    assert wire.decode_response(c.recv_frame()).seqid == 1
    assert c.closed_by_peer()


def test_unknown_rpc_name(onebox, raw_connect):
    c = raw_connect(onebox.replica_addrs[0])
    r = c.call(encode_request("RPC_RRDB_RRDB_TELEPORT", 9, b"xyz", app_id=1, partition_index=0))
    assert (r.error_name, r.name, r.seqid) == ("ERR_HANDLER_NOT_FOUND", "RPC_RRDB_RRDB_TELEPORT_ACK", 9)
    m = raw_connect(onebox.meta_addrs[0])
    r = m.call(encode_request("RPC_CM_LIST_APPS", 4, b""))
    assert (r.error_name, r.name) == ("ERR_HANDLER_NOT_FOUND", "RPC_CM_LIST_APPS_ACK")


def test_misdirected_rpcs(onebox, raw_connect):
    r = raw_connect(onebox.replica_addrs[0]).call(
        encode_request(RPC_QUERY_CFG, 1, wire.QueryCfgRequest("temp", [])))
    assert r.error_name == "ERR_HANDLER_NOT_FOUND"
    r = raw_connect(onebox.meta_addrs[0]).call(get_frame(pidx=0))
    assert r.error_name == "ERR_HANDLER_NOT_FOUND"


def test_routing_errors(onebox, raw_connect):
    p = pidx_of()
    owner = primary(onebox, p)
    c = raw_connect(owner)
    assert c.call(get_frame(pidx=p)).error_name == "ERR_OK"
    unknown_app = encode_request(RPC_GET, 2, b"\x00\x00k", app_id=99, partition_index=0)
    assert c.call(unknown_app).error_name == "ERR_OBJECT_NOT_FOUND"
    assert c.call(get_frame(pidx=8)).error_name == "ERR_OBJECT_NOT_FOUND"
    secondary = next(a for a in onebox.replica_addrs if a != owner)
    r = raw_connect(secondary).call(get_frame(pidx=p))
    assert (r.error_name, r.result) == ("ERR_INVALID_STATE", None)


def test_oversized_write_is_rejected_and_connection_kept(onebox, raw_connect):
    hk = b"badinput"
    p = pidx_of(hk)
    c = raw_connect(primary(onebox, p))
    big = wire.MultiPutRequest(hk, [wire.KeyValue(b"big", b"x" * (1 << 20))], 0)
    r = c.call(encode_request(RPC_MULTI_PUT, 5, big, app_id=1, partition_index=p))
    assert (r.error_name, r.seqid) == ("ERR_INVALID_DATA", 5)
    ok = wire.UpdateRequest(encode_key(hk, b"s"), b"y" * 900_000, 0)  # below 1 MiB: fine
    assert c.call(encode_request(RPC_PUT, 6, ok, app_id=1, partition_index=p)).result.error == 0


def test_put_with_wrong_partition_hash_is_refused(onebox, raw_connect):
    hk = b"badinput"
    p = pidx_of(hk)
    key = encode_key(hk, b"wrong-hash")
    put = wire.UpdateRequest(key, b"v", 0)
    c = raw_connect(primary(onebox, p))
    r = c.call(encode_request(RPC_PUT, 1, put, app_id=1, partition_index=p, partition_hash=wire.key_hash(key) ^ 1))
    assert r.error_name == "ERR_INVALID_PARAMETERS"  # the real replica would abort here
    assert c.call(encode_request(RPC_GET, 2, key, app_id=1, partition_index=p)).result.error == 1
    r = c.call(encode_request(RPC_PUT, 3, put, app_id=1, partition_index=p, partition_hash=wire.key_hash(key)))
    assert r.result.error == 0


def test_bad_arguments_get_body_errors(onebox, raw_connect):
    hk = b"badinput"
    p = pidx_of(hk)
    c = raw_connect(primary(onebox, p))
    r = c.call(encode_request(RPC_MULTI_PUT, 1, wire.MultiPutRequest(hk, [], 0), app_id=1, partition_index=p))
    assert (r.error_name, r.result.error) == ("ERR_OK", 4)
    scan = wire.GetScannerRequest(start_key=b"\x00", stop_key=b"\xff\xff", hash_key_filter_type=9)
    r = c.call(encode_request(wire.RPC_GET_SCANNER, 2, scan, app_id=1, partition_index=p))
    assert (r.result.error, r.result.context_id) == (4, 0)


def test_oneway_message_is_executed_but_not_answered(onebox, raw_connect):
    hk = b"badinput"
    p = pidx_of(hk)
    c = raw_connect(primary(onebox, p))
    key = encode_key(hk, b"oneway")
    frame = bytearray(encode_request(RPC_PUT, 41, wire.UpdateRequest(key, b"ow", 0), app_id=1, partition_index=p))
    assert frame[48:52] == b"\x80\x01\x00\x01"
    frame[51] = 4  # ONEWAY instead of CALL
    c.send(bytes(frame))
    r = c.call(encode_request(RPC_GET, 42, key, app_id=1, partition_index=p))
    assert (r.seqid, r.result.value) == (42, b"ow")
