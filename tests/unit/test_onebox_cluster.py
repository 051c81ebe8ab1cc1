"""Cluster model, meta answers and replica admission (no sockets)."""
import pytest

from pegload.client import wire
from pegload.client.wire import (
    RPC_GET,
    RPC_MULTI_PUT,
    RPC_PUT,
    RPC_QUERY_CFG,
    RPC_REMOVE,
    KeyValue,
    MultiPutRequest,
    QueryCfgRequest,
    UpdateRequest,
    decode_request,
    encode_key,
    encode_request,
    key_hash,
)
from pegload.onebox.cluster import Cluster, ClusterError, Node
from pegload.onebox.meta import query_config
from pegload.onebox.routing import admit


class FakeStore:
    decree = 7


class FakePartition:
    def __init__(self, index):
        self.index = index
        self.store = FakeStore()
        self.dropped = 0

    def drop_scan_contexts(self):
        self.dropped += 1


@pytest.fixture
def cluster():
    c = Cluster([Node("127.0.0.1", 34601 + i) for i in range(3)], [Node("127.0.0.1", 34801 + i) for i in range(3)])
    c.add_table("temp", 1, [FakePartition(i) for i in range(8)])
    c.add_table("t2", 2, [FakePartition(i) for i in range(2)])
    return c


def test_placement_spreads_primaries_with_two_secondaries(cluster):
    t = cluster.table("temp")
    assert [p.primary for p in t.placements] == [0, 1, 2, 0, 1, 2, 0, 1]
    assert t.placements[2].secondaries == [0, 1]
    assert all(p.ballot == 1 for p in t.placements)


def test_single_replica_has_no_secondaries():
    c = Cluster([Node("127.0.0.1", 1)], [Node("127.0.0.1", 2)])
    c.add_table("temp", 1, [FakePartition(0), FakePartition(1)])
    assert [(p.primary, p.secondaries) for p in c.table("temp").placements] == [(0, []), (0, [])]
    with pytest.raises(ClusterError, match="already is the primary"):
        c.move_primary("temp", 0)


def test_meta_leader_answer(cluster):
    r = query_config(cluster, 0, QueryCfgRequest("temp", []))
    assert (r.err, r.app_id, r.partition_count, r.is_stateful, len(r.partitions)) == ("ERR_OK", 1, 8, True, 8)
    p3 = r.partitions[3]
    assert p3.pid == wire.Gpid(1, 3) and p3.ballot == 1 and p3.max_replica_count == 3
    assert wire.rpc_address_parts(p3.primary) == ("127.0.0.1", 34801)
    assert [wire.rpc_address_parts(s) for s in p3.secondaries] == [("127.0.0.1", 34802), ("127.0.0.1", 34803)]
    assert p3.last_committed_decree == 7 and p3.hp_primary is None
    encoded = wire.encode_response("ERR_OK", RPC_QUERY_CFG + "_ACK", 1, r)
    assert b"34801" not in encoded  # no host_port strings unless asked


def test_meta_selected_indices_and_host_port_fields(cluster):
    r = query_config(cluster, 0, QueryCfgRequest("temp", [5, 99, 1, 5]), send_host_port=True)
    assert [p.pid.partition_index for p in r.partitions] == [5, 1, 5]
    assert str(r.partitions[0].hp_primary) == "127.0.0.1:34803"
    assert [str(h) for h in r.partitions[0].hp_secondaries] == ["127.0.0.1:34801", "127.0.0.1:34802"]
    assert r.partitions[0].hp_last_drops == []
    r = query_config(cluster, 0, QueryCfgRequest("temp", [42]))
    assert len(r.partitions) == 8  # nothing in range: all partitions


def test_meta_unknown_table_and_non_leader(cluster):
    r = query_config(cluster, 0, QueryCfgRequest("nope", []))
    assert ((r.err, r.app_id, r.partition_count, r.is_stateful, r.partitions)
            == ("ERR_OBJECT_NOT_FOUND", 0, 0, False, []))
    r = query_config(cluster, 2, QueryCfgRequest("temp", []))
    assert (r.err, r.is_stateful, len(r.partitions)) == ("ERR_FORWARD_TO_OTHERS", False, 1)
    assert wire.rpc_address_parts(r.partitions[0].primary) == ("127.0.0.1", 34601)
    cluster.set_leader(2)
    assert query_config(cluster, 2, QueryCfgRequest("temp", [])).err == "ERR_OK"
    r = query_config(cluster, 0, QueryCfgRequest("temp", []), send_host_port=True)
    assert str(r.partitions[0].hp_primary) == "127.0.0.1:34603"
    with pytest.raises(ClusterError):
        cluster.set_leader(3)


def test_move_primary(cluster):
    t = cluster.table("temp")
    desc = cluster.move_primary("temp", 3)  # 0 -> 1, old becomes secondary
    assert desc["primary"] == "127.0.0.1:34802" and desc["ballot"] == 2
    assert desc["secondaries"] == ["127.0.0.1:34801", "127.0.0.1:34803"]
    assert t.partitions[3].dropped == 1
    desc = cluster.move_primary("temp", 3, to="127.0.0.1:34803", old_role="gone")
    assert desc["secondaries"] == ["127.0.0.1:34801"] and desc["ballot"] == 3
    assert t.placements[3].role_of(1) is None
    with pytest.raises(ClusterError, match="no partition 8"):
        cluster.move_primary("temp", 8)
    with pytest.raises(ClusterError, match="no replica"):
        cluster.move_primary("temp", 0, to=5)
    with pytest.raises(ClusterError, match="no table 'x'"):
        cluster.move_primary("x", 0)


def req(name, args, app_id=1, pidx=3, **kw):
    frame = encode_request(name, 1, args, app_id=app_id, partition_index=pidx, **kw)
    return decode_request(frame), frame


def test_admit_routes_to_primary(cluster):
    r, f = req(RPC_GET, encode_key(b"hk", b"sk"))
    err, part = admit(cluster, 0, r, f)
    assert err is None and part is cluster.table("temp").partitions[3]


@pytest.mark.parametrize("replica, app_id, pidx, expected", [
    (0, 9, 0, "ERR_OBJECT_NOT_FOUND"),  # unknown app
    (0, 1, 8, "ERR_OBJECT_NOT_FOUND"),  # index out of range
    (1, 1, 3, "ERR_INVALID_STATE"),  # a secondary
    (0, 0, 0, "ERR_HANDLER_NOT_FOUND"),  # app_id <= 0: not a replica request
])
def test_admit_errors(cluster, replica, app_id, pidx, expected):
    r, f = req(RPC_GET, encode_key(b"hk", b"sk"), app_id=app_id, pidx=pidx)
    assert admit(cluster, replica, r, f)[0] == expected


def test_admit_backup_reads_on_secondaries(cluster):
    r, f = req(RPC_GET, encode_key(b"hk", b"sk"), version=1, is_backup_request=True)
    assert admit(cluster, 1, r, f)[0] is None
    r, f = req(RPC_REMOVE, encode_key(b"hk", b"sk"), version=1, is_backup_request=True)
    assert admit(cluster, 1, r, f)[0] == "ERR_INVALID_STATE"


def test_admit_unknown_rpc_and_meta_rpc_on_replica(cluster):
    r, f = req("RPC_RRDB_RRDB_FANCY", b"x")
    assert admit(cluster, 0, r, f)[0] == "ERR_HANDLER_NOT_FOUND"
    r, f = req(RPC_QUERY_CFG, QueryCfgRequest("temp", []), app_id=0, pidx=0)
    assert admit(cluster, 0, r, f)[0] == "ERR_HANDLER_NOT_FOUND"


def test_admit_write_size_limit(cluster):
    big = MultiPutRequest(b"h", [KeyValue(b"k", b"x" * 1048576)], 0)
    r, f = req(RPC_MULTI_PUT, big)
    assert admit(cluster, 0, r, f)[0] == "ERR_INVALID_DATA"
    r, f = req(RPC_GET, b"\x00\x01h" + b"x" * 1048576)  # reads are not limited
    assert admit(cluster, 0, r, f)[0] is None


def test_admit_put_remove_hash_checks(cluster):
    key = encode_key(b"hk", b"sk")
    good = key_hash(key)
    r, f = req(RPC_PUT, UpdateRequest(key, b"v", 0), partition_hash=good)
    assert admit(cluster, 0, r, f)[0] is None
    r, f = req(RPC_PUT, UpdateRequest(key, b"v", 0), partition_hash=good ^ 1)
    assert admit(cluster, 0, r, f)[0] == "ERR_INVALID_PARAMETERS"
    r, f = req(RPC_REMOVE, b"\x00", partition_hash=good)  # malformed key with a hash
    assert admit(cluster, 0, r, f)[0] == "ERR_INVALID_PARAMETERS"
    # a wrong v0 thread hash with a non-zero partition hash
    frame = bytearray(encode_request(RPC_PUT, 1, UpdateRequest(key, b"v", 0), app_id=1, partition_index=3,
                                     partition_hash=good))
    frame[36:40] = (12345).to_bytes(4, "big")
    frame = bytes(frame)
    assert admit(cluster, 0, decode_request(frame), frame)[0] == "ERR_INVALID_PARAMETERS"
    r, f = req(RPC_PUT, UpdateRequest(key, b"v", 0), partition_hash=0)  # zero skips the check
    assert admit(cluster, 0, r, f)[0] is None
