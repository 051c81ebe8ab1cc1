"""Table-env throttling on a running onebox, seen through pegload's client: delayed reads take at
least the configured delay, reads over the reject limit come back ERR_BUSY, the server counts
both; envs set at start, through the control channel and through the meta RPC."""
from __future__ import annotations

import math
import time

import gevent
import pytest

from pegload.client import Pegasus, error_types
from pegload.client.wire import encode_request
from pegload.onebox.meta_admin import (
    OP_CLEAR,
    OP_DEL,
    OP_SET,
    RPC_CM_UPDATE_APP_ENV,
    UpdateAppEnvRequest,
    decode_reply,
)

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value
BUSY = error_types.ERR_BUSY.value
READ_ENV = "replica.read_throttling"


def start_of_next_second() -> None:
    """The throttling window is the wall-clock second: start a measured sequence right after a
    boundary so that it runs inside one window (this waits for that boundary)."""
    t = time.time()
    time.sleep(math.ceil(t) - t + 0.005)


def replica_metric(ob, hash_key_partition_primary, name):
    index = ob.replica_addrs.index(hash_key_partition_primary)
    body = ob.metrics("replica", index, f"metrics={name}&types=replica")
    return sum(m["value"] for e in body["entities"] for m in e["metrics"])


def test_delays_floor_at_the_configured_ms_and_rejects_are_err_busy(onebox_factory):
    # 8 partitions: per partition delay over 3000 // 8 + 1 = 376, reject over 3080 // 8 + 1 = 386
    ob = onebox_factory(tables={"temp": 8}, app_envs={"temp": {READ_ENV: "3000*delay*20"}})
    assert ob.app_envs("temp") == {READ_ENV: "3000*delay*20"}
    ob.set_app_env("temp", READ_ENV, "3000*delay*20,3080*reject*10")  # control channel, live
    c = Pegasus(ob.meta_addrs, "temp", timeout=1000)
    assert c.init()
    try:
        assert c.set("hot", "s", "v") == (OK, None)
        pidx = c.table.config.partition_of(c.table._key_hash(b"hot", b"s"))
        primary = c.table.config.primaries[pidx]
        start_of_next_second()
        burst = [gevent.spawn(c.get, "hot", "s") for _ in range(376)]  # fills the pass budget
        gevent.joinall(burst, raise_error=True)
        assert all(g.value == (OK, b"v") for g in burst)
        delayed = []
        for _ in range(10):  # the next 10 are delayed: each waits >= 20 ms, then succeeds
            t0 = time.perf_counter()
            r = c.get("hot", "s")
            delayed.append((r, time.perf_counter() - t0))
        t0 = time.perf_counter()
        rejected = c.get("hot", "s", timeout=150)  # over the reject limit: ERR_BUSY
        busy_for = time.perf_counter() - t0
        assert time.time() % 1 < 0.95, "the sequence overran its one-second window; rerun"
    finally:
        c.close()
    assert [r for r, _ in delayed] == [(OK, b"v")] * 10
    assert min(lat for _, lat in delayed) >= 0.020
    assert rejected == (BUSY, None)
    assert busy_for >= 0.010  # each ERR_BUSY came after min(10, 150 // 2) ms
    assert replica_metric(ob, primary, "throttling_delayed_read_requests") == 10
    assert replica_metric(ob, primary, "throttling_rejected_read_requests") >= 1
    counters = ob.counters()
    assert counters["throttling"]["throttling_delayed_read_requests"] == 10
    assert counters["errors"]["ERR_BUSY"] == counters["throttling"]["throttling_rejected_read_requests"]


def test_malformed_env_means_no_throttling(onebox_factory):
    ob = onebox_factory(tables={"temp": 1})
    ob.set_app_env("temp", READ_ENV, "1*reject*0")  # 2 reads per second
    c = Pegasus(ob.meta_addrs, "temp", timeout=300)
    assert c.init()
    try:
        c.set("k", "s", "v")
        start_of_next_second()
        got = [c.get("k", "s")[0] for _ in range(3)]
        assert got == [OK, OK, BUSY]
        ob.set_app_env("temp", READ_ENV, "1*rejekt*0", validate=False)  # as a replica would: off
        assert [c.get("k", "s")[0] for _ in range(20)] == [OK] * 20
    finally:
        c.close()


def update_app_env(raw_connect, addr, req):
    conn = raw_connect(addr)
    conn.send(encode_request(RPC_CM_UPDATE_APP_ENV, 7, req))
    err, resp = decode_reply(conn.recv_frame())
    assert err == "ERR_OK"
    return resp.err, resp.hint_message


def test_meta_rpc_sets_deletes_and_clears_table_envs(onebox_factory, raw_connect):
    ob = onebox_factory(tables={"temp": 4})
    leader, other = ob.meta_addrs[0], ob.meta_addrs[1]
    rpc = lambda addr, **kw: update_app_env(raw_connect, addr, UpdateAppEnvRequest(**kw))
    assert rpc(leader, app_name="temp", op=OP_SET, keys=[READ_ENV, "replica.write_throttling"],
               values=["4*reject*0", "1K*delay*5"]) == ("ERR_OK", "")
    assert ob.app_envs("temp") == {READ_ENV: "4*reject*0", "replica.write_throttling": "1K*delay*5"}
    # what a real meta refuses
    err, hint = rpc(leader, app_name="temp", op=OP_SET, keys=[READ_ENV], values=["4*reject"])
    assert err == "ERR_INVALID_PARAMETERS" and "field count" in hint
    assert rpc(leader, app_name="nope", op=OP_SET, keys=[READ_ENV], values=["1*delay*1"]) == (
        "ERR_APP_NOT_EXIST", "app cannot be found")
    assert rpc(leader, app_name="temp", op=OP_SET, keys=[READ_ENV], values=[])[0] == "ERR_INVALID_PARAMETERS"
    assert rpc(other, app_name="temp", op=OP_SET, keys=[READ_ENV], values=["1*delay*1"]) == (
        "ERR_FORWARD_TO_OTHERS", leader)
    # the env is live: 4 // 4 + 1 = 2 reads per second per partition, then ERR_BUSY
    c = Pegasus(ob.meta_addrs, "temp", timeout=200)
    assert c.init()
    try:
        c.set("k", "s", "v")
        start_of_next_second()
        assert [c.get("k", "s")[0] for _ in range(3)] == [OK, OK, BUSY]
        err, hint = rpc(leader, app_name="temp", op=OP_DEL, keys=[READ_ENV, "absent"])
        assert err == "ERR_OK" and READ_ENV in hint
        assert [c.get("k", "s")[0] for _ in range(5)] == [OK] * 5
    finally:
        c.close()
    assert rpc(leader, app_name="temp", op=OP_CLEAR, clear_prefix="") == (
        "ERR_OK", "deleted keys:\n    replica.write_throttling")
    assert ob.app_envs("temp") == {}
    assert rpc(leader, app_name="temp", op=OP_CLEAR, clear_prefix="") == ("ERR_OK", "no key needs to be deleted")


def test_read_size_bucket_refuses_reads_once_the_bytes_are_spent(onebox_factory):
    # temp:1, 100 bytes/s, burst 100: a get of a 60-byte value costs 4 (key) + 60 bytes
    ob = onebox_factory(tables={"temp": 1}, app_envs={"temp": {"replica.read_throttling_by_size": "100"}})
    c = Pegasus(ob.meta_addrs, "temp", timeout=150)
    assert c.init()
    try:
        assert c.set("k", "s", "v" * 60) == (OK, None)
        assert c.get("k", "s") == (OK, b"v" * 60)  # 100 -> 36 left
        assert c.get("k", "s") == (OK, b"v" * 60)  # 36 > 0: served, borrows to -28
        assert c.get("k", "s") == (BUSY, None)  # empty; 150 ms of retries refill < 28 bytes
    finally:
        c.close()
    body = ob.metrics("replica", 0, "types=replica&metrics=get_requests,throttling_rejected_read_requests")
    got = {m["name"]: m["value"] for m in body["entities"][0]["metrics"]}
    assert got["throttling_rejected_read_requests"] >= 1
    # refused reads still count as requests (upstream counts before the bucket check)
    assert got["get_requests"] == 2 + got["throttling_rejected_read_requests"]


def test_backup_reads_rejected_by_throttling_get_no_reply(onebox_factory, raw_connect):
    from pegload.client.wire import RPC_GET, encode_key

    ob = onebox_factory(tables={"temp": 1}, app_envs={"temp": {"replica.backup_request_throttling": "1*reject*0"}})
    secondary = ob.partition_config("temp")[0]["secondaries"][0]
    conn = raw_connect(secondary)
    key = encode_key(b"k", b"s")

    def backup_get(seq):
        return encode_request(RPC_GET, seq, key, app_id=1, partition_index=0, version=1,
                              is_backup_request=True)

    start_of_next_second()
    assert conn.call(backup_get(1)).error_name == "ERR_OK"  # secondaries serve backup reads
    assert conn.call(backup_get(2)).error_name == "ERR_OK"  # 1 // 1 + 1 = 2 per second
    conn.send(backup_get(3))  # over the limit: dropped, never answered
    conn.send(backup_get(4))  # the window stays full (rejected units are taken back): dropped
    start_of_next_second()
    assert conn.call(backup_get(5)).seqid == 5  # a new window: the next reply is for 5
    index = ob.replica_addrs.index(secondary)
    body = ob.metrics("replica", index, "types=replica&metrics=backup_requests,throttling_rejected_backup_requests")
    got = {m["name"]: m["value"] for m in body["entities"][0]["metrics"]}
    assert got == {"backup_requests": 3, "throttling_rejected_backup_requests": 2}


def test_write_size_rule_rejects_writes_by_body_bytes(onebox_factory):
    # temp:1: 100 // 1 + 1 = 101 body bytes per second; one set of a 40-byte value is ~90 bytes
    ob = onebox_factory(tables={"temp": 1},
                        app_envs={"temp": {"replica.write_throttling_by_size": "100*reject*0"}})
    c = Pegasus(ob.meta_addrs, "temp", timeout=150)
    assert c.init()
    try:
        start_of_next_second()
        assert c.set("w", "s", "x" * 40) == (OK, None)
        assert c.set("w", "s", "y" * 40) == (BUSY, None)  # over the byte budget of this second
        assert c.get("w", "s") == (OK, b"x" * 40)  # reads are not limited; the refused write was not applied
    finally:
        c.close()
    body = ob.metrics("replica", 0, "types=server,replica&metrics=throttling_rejected_write_requests,"
                                    "write_busy_requests,put_requests")
    got = {m["name"]: m["value"] for e in body["entities"] for m in e["metrics"]}
    assert got["put_requests"] == 1
    assert got["throttling_rejected_write_requests"] == got["write_busy_requests"] >= 1
