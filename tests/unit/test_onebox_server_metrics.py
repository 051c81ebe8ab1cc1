"""Server metrics (no sockets): the /metrics JSON shape and filters, the percentile rule, where
requests are counted; and the meta's reaction to a dead / returning replica server."""
import pytest

from pegload.client.wire import RPC_GET, RPC_PUT, RPC_SORTKEY_COUNT, RPC_TTL
from pegload.onebox.cluster import Cluster, Node
from pegload.onebox.server_metrics import (
    SAMPLE_SIZE,
    MetricsRegistry,
    OpSample,
    parse_filters,
)


class FakePartition:
    def __init__(self, i):
        self.app_id = 1
        self.index = i
        self.dropped = 0

    def drop_scan_contexts(self):
        self.dropped += 1


@pytest.fixture
def cluster():
    c = Cluster([Node("127.0.0.1", 34601)], [Node("127.0.0.1", 34801 + i) for i in range(3)])
    c.add_table("temp", 1, [FakePartition(i) for i in range(8)])
    return c


@pytest.fixture
def reg(cluster):
    return MetricsRegistry(cluster, 1, 3)


def metric(body, eid, name):
    for e in body["entities"]:
        if e["id"] == eid:
            for m in e["metrics"]:
                if m["name"] == name:
                    return m
    raise KeyError((eid, name))


def test_percentiles_use_the_servers_index_rule_over_the_last_samples():
    s = OpSample()
    assert s.percentiles() == {"p50": 0, "p90": 0, "p95": 0, "p99": 0, "p999": 0}
    for v in range(1, 101):
        s.add(v)
    # sorted[int(100 * k)]: p50 -> element 50 (value 51), p99 -> element 99 (value 100)
    assert s.percentiles() == {"p50": 51, "p90": 91, "p95": 96, "p99": 100, "p999": 100}
    for _ in range(SAMPLE_SIZE):
        s.add(7)  # the window holds the last 4096 samples only
    assert set(s.percentiles().values()) == {7}


def test_reads_count_on_the_serving_replica_writes_on_every_member(reg, cluster):
    part = cluster.table("temp").partitions[0]
    reg.record_read(0, part, RPC_GET, 1000)
    reg.record_write(part, RPC_PUT, 2000)
    reg.record_read(0, part, RPC_SORTKEY_COUNT, 3000)  # counted as a scan, as upstream
    reg.record_read(0, part, RPC_TTL, 3000)  # ttl feeds no counter upstream
    body = reg.snapshot("replica", 0, "127.0.0.1", 34801, "")
    assert body[0] == 200
    b = body[1]
    assert metric(b, "replica@1.0", "get_requests") == {"name": "get_requests", "value": 1}
    assert metric(b, "replica@1.0", "scan_requests")["value"] == 1
    assert metric(b, "replica@1.0", "put_requests")["value"] == 1
    assert metric(b, "replica@1.0", "get_latency_ns") == {
        "name": "get_latency_ns", "p50": 1000, "p90": 1000, "p95": 1000, "p99": 1000, "p999": 1000}
    for r in (1, 2):  # the secondaries of partition 0 applied the write too, served no read
        b = reg.snapshot("replica", r, "127.0.0.1", 34801 + r, "")[1]
        assert metric(b, "replica@1.0", "put_requests")["value"] == 1
        assert metric(b, "replica@1.0", "get_requests")["value"] == 0


def test_write_members_follow_membership_changes(reg, cluster):
    part = cluster.table("temp").partitions[0]
    reg.record_write(part, RPC_PUT, 1)
    cluster.drop_replica_server(1)  # replica 1 leaves every partition
    reg.record_write(part, RPC_PUT, 1)
    puts = [metric(reg.snapshot("replica", r, "h", 1, "")[1], "replica@1.0", "put_requests")["value"]
            for r in range(3)]
    assert puts == [2, 1, 2]
    reg.reset_server(2)  # a restart starts from zero
    reg.record_write(part, RPC_PUT, 1)
    puts = [metric(reg.snapshot("replica", r, "h", 1, "")[1], "replica@1.0", "put_requests")["value"]
            for r in (0, 2)]
    assert puts == [3, 1]


def test_shape_and_detail(reg):
    status, b = reg.snapshot("replica", 0, "127.0.0.1", 34801, "detail=true")
    assert status == 200
    assert set(b) == {"cluster", "role", "host", "port", "timestamp_ns", "entities"}
    assert b["role"] == "replica" and b["port"] == 34801 and isinstance(b["timestamp_ns"], int)
    types = {e["type"] for e in b["entities"]}
    assert types == {"server", "replica"}
    rep = [e for e in b["entities"] if e["type"] == "replica"]
    assert {e["id"] for e in rep} == {f"replica@1.{i}" for i in range(8)}  # holds all 8 (3 nodes)
    assert rep[0]["attributes"] == {"table_id": "1", "partition_id": rep[0]["id"].split(".")[1]}
    m = metric(b, "replica@1.0", "get_requests")
    assert m["type"] == "Counter" and m["unit"] == "Requests" and m["desc"] and m["value"] == 0
    m = metric(b, "replica@1.0", "get_latency_ns")
    assert m["type"] == "Percentile" and m["unit"] == "NanoSeconds" and "p999" in m
    srv = metric(b, "server", "primary_replicas")
    assert srv["value"] == 3 and metric(b, "server", "total_replicas")["value"] == 8


def test_filters(reg):
    def snap(q):
        return reg.snapshot("replica", 0, "127.0.0.1", 34801, q)[1]["entities"]

    assert {e["type"] for e in snap("types=server")} == {"server"}
    assert [e["id"] for e in snap("ids=replica@1.3,replica@1.5")] == ["replica@1.3", "replica@1.5"]
    assert [e["id"] for e in snap("attributes=partition_id,2,partition_id,4")] == ["replica@1.2", "replica@1.4"]
    got = snap("metrics=get_requests,put_requests")
    assert all(sorted(m["name"] for m in e["metrics"]) == ["get_requests", "put_requests"] for e in got)
    assert all(e["type"] == "replica" for e in got)  # the server entity has neither: left out
    got = snap("types=replica&ids=replica@1.1&metrics=get_latency_ns&with_metric_fields=name,p99")
    assert got == [{"type": "replica", "id": "replica@1.1", "attributes": {"table_id": "1", "partition_id": "1"},
                    "metrics": [{"name": "get_latency_ns", "p99": 0}]}]


@pytest.mark.parametrize("query, message", [
    ("detail=yes", "should be a boolean"),
    ("attributes=table_id", "should be even"),
    ("colour=red", "unknown field colour=red"),
])
def test_bad_queries_are_refused_with_the_servers_message(reg, query, message):
    status, body = reg.snapshot("replica", 0, "127.0.0.1", 34801, query)
    assert status == 400 and message in body["error_message"]
    with pytest.raises(ValueError):
        parse_filters(query)


def test_meta_server_entity_counts_alive_replica_servers(reg):
    reg.alive = lambda i: i != 2
    b = reg.snapshot("meta", 0, "127.0.0.1", 34601, "")[1]
    assert metric(b, "server", "alive_replica_servers")["value"] == 2
    assert metric(b, "server", "unalive_replica_servers")["value"] == 1


# ------------------------------------------------------------------ failover in the cluster model
def test_dead_replica_server_loses_its_primaries_to_live_secondaries(cluster):
    t = cluster.table("temp")
    before = [(p.primary, list(p.secondaries), p.ballot) for p in t.placements]
    changed = cluster.drop_replica_server(1)
    assert len(changed) == 8  # every partition had replica 1 as a member (3 nodes, 3 copies)
    for (primary, secs, ballot), p, part in zip(before, t.placements, t.partitions):
        assert 1 not in (p.primary, *p.secondaries)
        assert p.ballot == ballot + 1
        if primary == 1:
            assert p.primary == secs[0] and part.dropped == 1
        else:
            assert p.primary == primary
    # a second death leaves each partition with one live member; a third leaves them as they are
    cluster.drop_replica_server(2, down={1})
    assert all(p.primary == 0 and p.secondaries == [] for p in t.placements)
    assert cluster.drop_replica_server(0, down={1, 2}) == []


def test_returning_replica_server_rejoins_as_secondary(cluster):
    t = cluster.table("temp")
    cluster.drop_replica_server(1)
    changed = cluster.add_replica_server(1)
    assert len(changed) == 8
    assert all(p.role_of(1) == "secondary" for p in t.placements)
    assert cluster.add_replica_server(1) == []  # nothing short of replicas any more
