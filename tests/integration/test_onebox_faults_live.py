"""Fault injection on a running onebox, driven through the Python API, and observed on the wire."""
import time

import pytest

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_PUT, RPC_QUERY_CFG, RPC_SCAN, encode_key, encode_request

pytestmark = pytest.mark.integration
HK = b"faulty"
PIDX = wire.partition_index(wire.hash_key_hash(HK), 8)
KEY = encode_key(HK, b"s")


def get(seqid=1, key=KEY, pidx=PIDX):
    return encode_request(RPC_GET, seqid, key, app_id=1, partition_index=pidx)


def put(value, seqid=1, key=KEY, pidx=PIDX):
    return encode_request(RPC_PUT, seqid, wire.UpdateRequest(key, value, 0), app_id=1, partition_index=pidx)


def primary(ob, pidx=PIDX, table="temp"):
    return ob.partition_config(table)[pidx]["primary"]


def timed(conn, frame):
    t = time.monotonic()
    r = conn.call(frame)
    return r, time.monotonic() - t


def test_delay_per_replica_and_per_partition(fault_onebox, raw_connect):
    ob = fault_onebox
    owner = primary(ob)
    c = raw_connect(owner)
    c.call(put(b"v"))
    ob.set_faults(replica=owner, delay_ms=500)
    r, took = timed(c, get())
    assert r.result.value == b"v" and took >= 0.49
    other_pidx = next(i for i in range(8) if primary(ob, i) != owner)
    r, took = timed(raw_connect(primary(ob, other_pidx)), get(pidx=other_pidx, key=b"\x00\x01zz"))
    assert r.error_name == "ERR_OK" and took < 0.4
    ob.set_faults(replica=owner, delay_ms=0)
    ob.set_faults(table="temp", partition=PIDX, delay_ms=450)
    assert timed(c, get())[1] >= 0.44
    ob.clear_faults()
    assert timed(c, get())[1] < 0.4
    assert ob.counters()["faults"]["delayed"] >= 2


def test_busy_fraction(fault_onebox, raw_connect):
    ob = fault_onebox
    c = raw_connect(primary(ob))
    ob.set_faults(busy_fraction=1.0)
    r = c.call(put(b"never"))
    assert (r.error_name, r.result) == ("ERR_BUSY", None)
    ob.set_faults(busy_fraction=0.5)
    names = [c.call(get(i)).error_name for i in range(400)]
    assert 120 < names.count("ERR_BUSY") < 280 and set(names) == {"ERR_BUSY", "ERR_OK"}
    ob.clear_faults()
    assert c.call(get()).result.error == 1  # the busy put was never applied
    counters = ob.counters()
    assert counters["errors"]["ERR_BUSY"] == counters["faults"]["busy"] >= 121


def test_dropped_requests_are_not_answered_nor_applied(fault_onebox, raw_connect):
    ob = fault_onebox
    c = raw_connect(primary(ob), timeout=5)
    ob.set_faults(table="temp", partition=PIDX, drop_fraction=1.0)
    c.send(put(b"dropped", seqid=7))
    deadline = time.monotonic() + 10
    while ob.counters()["faults"]["drop"] < 1:  # the control channel is another connection:
        assert time.monotonic() < deadline  # make sure the put was seen before clearing
        time.sleep(0.01)
    ob.clear_faults()
    r = c.call(get(seqid=8))  # the first reply on the wire is the get's: 7 was dropped
    assert (r.seqid, r.result.error) == (8, 1)
    assert ob.counters()["faults"]["drop"] == 1


def test_close_fraction_and_close_connections(fault_onebox, raw_connect):
    ob = fault_onebox
    owner = primary(ob)
    ob.set_faults(replica=owner, close_fraction=1.0)
    c = raw_connect(owner)
    c.send(get())
    assert c.closed_by_peer()
    ob.clear_faults()
    a, b = raw_connect(owner), raw_connect(ob.meta_addrs[0])
    assert a.call(get()).error_name == "ERR_OK"
    assert b.call(encode_request(RPC_QUERY_CFG, 1, wire.QueryCfgRequest("temp", []))).error_name == "ERR_OK"
    assert ob.close_connections(replica=owner) == 1
    assert a.closed_by_peer()
    assert ob.close_connections(meta=True) >= 1
    assert b.closed_by_peer()
    assert raw_connect(owner).call(get()).error_name == "ERR_OK"  # new connections are fine


def test_stall_holds_requests_until_it_ends(fault_onebox, raw_connect):
    ob = fault_onebox
    owner = primary(ob)
    c = raw_connect(owner)
    ob.stall(0.8, replica=owner)
    r, took = timed(c, get())
    assert r.error_name == "ERR_OK" and took >= 0.7
    assert timed(c, get())[1] < 0.5


def query(conn, table="temp"):
    return conn.call(encode_request(RPC_QUERY_CFG, 1, wire.QueryCfgRequest(table, []))).result


def test_primary_move(fault_onebox, raw_connect):
    ob = fault_onebox
    meta = raw_connect(ob.meta_addrs[0])
    before = query(meta).partitions[PIDX]
    old = "{}:{}".format(*wire.rpc_address_parts(before.primary))
    old_conn = raw_connect(old)
    old_conn.call(put(b"moved"))
    # an open scan context on the old primary
    scan = wire.GetScannerRequest(start_key=encode_key(HK, b""), stop_key=encode_key(HK, b"\xff"),
                                  start_inclusive=True, batch_size=1)
    old_conn.call(put(b"second", key=encode_key(HK, b"t")))
    ctx = old_conn.call(encode_request(wire.RPC_GET_SCANNER, 2, scan, app_id=1, partition_index=PIDX)).result.context_id
    assert ctx > 0

    desc = ob.move_primary("temp", PIDX)
    after = query(meta).partitions[PIDX]
    new = "{}:{}".format(*wire.rpc_address_parts(after.primary))
    assert after.ballot == before.ballot + 1 and new != old and desc["primary"] == new
    assert old in ["{}:{}".format(*wire.rpc_address_parts(s)) for s in after.secondaries]
    r = old_conn.call(get())
    assert (r.error_name, r.result) == ("ERR_INVALID_STATE", None)  # a secondary now
    new_conn = raw_connect(new)
    assert new_conn.call(get()).result.value == b"moved"  # data moved with the primary
    r = new_conn.call(encode_request(RPC_SCAN, 3, wire.ScanRequest(ctx), app_id=1, partition_index=PIDX)).result
    assert r.error == 1  # contexts do not move

    ob.move_primary("temp", PIDX, to=old, old_role="gone")
    assert old_conn.call(get()).result.value == b"moved"
    assert new_conn.call(get()).error_name == "ERR_OBJECT_NOT_FOUND"  # dropped the replica
    assert query(meta).partitions[PIDX].ballot == before.ballot + 2


def test_meta_leader_change(fault_onebox, raw_connect):
    ob = fault_onebox
    m0, m1 = raw_connect(ob.meta_addrs[0]), raw_connect(ob.meta_addrs[1])
    assert ob.set_meta_leader(1) == ob.meta_addrs[1]
    r = query(m0)
    assert r.err == "ERR_FORWARD_TO_OTHERS"
    assert "{}:{}".format(*wire.rpc_address_parts(r.partitions[0].primary)) == ob.meta_addrs[1]
    assert query(m1).err == "ERR_OK"


def test_other_tables_and_counters(fault_onebox, raw_connect):
    ob = fault_onebox
    assert ob.tables == {"temp": {"app_id": 1, "partition_count": 8}, "t32": {"app_id": 2, "partition_count": 32}}
    ob.counters(reset=True)
    r = query(raw_connect(ob.meta_addrs[0]), "t32")
    assert (r.err, r.app_id, r.partition_count, len(r.partitions)) == ("ERR_OK", 2, 32, 32)
    assert query(raw_connect(ob.meta_addrs[0]), "nope").err == "ERR_OBJECT_NOT_FOUND"
    hk = b"t32key"
    p = wire.partition_index(wire.hash_key_hash(hk), 32)
    c = raw_connect(primary(ob, p, "t32"))
    k = encode_key(hk, b"s")
    put_req = encode_request(RPC_PUT, 1, wire.UpdateRequest(k, b"v", 0), app_id=2, partition_index=p)
    assert c.call(put_req).result.error == 0
    assert c.call(encode_request(RPC_GET, 2, k, app_id=2, partition_index=p)).result.value == b"v"
    counters = ob.counters()
    assert counters["requests"][RPC_QUERY_CFG] == 2
    assert counters["requests"][RPC_PUT] == 1 and counters["requests"][RPC_GET] == 1
    assert counters["by_server"][primary(ob, p, "t32")][RPC_GET] == 1


def test_control_errors_name_the_problem(fault_onebox):
    from pegload.onebox import ControlError

    ob = fault_onebox
    with pytest.raises(ControlError, match="busy_fraction must be a fraction"):
        ob.set_faults(busy_fraction=3)
    with pytest.raises(ControlError, match="no table 'missing'"):
        ob.move_primary("missing", 0)
    with pytest.raises(ControlError, match="no replica"):
        ob.set_faults(replica="1.2.3.4:5", delay_ms=1)
    assert ob.faults()["everywhere"]["busy_fraction"] == 0.0
