"""Routing, meta refresh, retries and the retry counters, over in-memory connections
(``testing.FakeNetwork``, no sockets): forwarding to the meta leader, single-flight refresh,
bounded retries, header fields, and every retry counted exactly once under its cause."""
from __future__ import annotations

import time

import gevent
import pytest
from gevent.event import Event

from pegload.client import Pegasus, error_types, wire
from pegload.client.counters import CAUSES, RetryCounters
from pegload.client.errors import (
    Busy,
    ConnectionLost,
    MetaError,
    ProtocolError,
    RequestTimeout,
    StaleRoute,
    TableNotFound,
)
from pegload.client.scanner import ScanSpec
from pegload.client.table import Table
from pegload.client.testing import DictReplica, FakeNetwork, meta_handler, reply_frame, table_config
from pegload.client.wire import messages as m

META = "127.0.0.1:1"
REPLICAS = ["127.0.0.1:2", "127.0.0.1:3"]


class Cluster:
    """One meta and two replicas in memory; partition i's primary is ``REPLICAS[primary[i]]``."""

    def __init__(self, partitions: int = 4) -> None:
        self.net = FakeNetwork()
        self.replicas = [DictReplica(), DictReplica()]
        for addr, r in zip(REPLICAS, self.replicas):
            self.net.serve(addr, r)
        self.primary = [i % 2 for i in range(partitions)]
        self.net.serve(META, meta_handler(self.config))

    def config(self):
        return table_config(1, [REPLICAS[i] for i in self.primary])

    def table(self, timeout_ms: int = 2000, metas=(META,)) -> Table:
        return Table(list(metas), "temp", timeout_ms=timeout_ms, connection_factory=self.net.connection)

    def meta_queries(self) -> int:
        return len(self.net.sent(wire.RPC_QUERY_CFG))

    def fault(self, fn) -> None:
        for r in self.replicas:
            r.fault = fn


@pytest.fixture
def cluster():
    return Cluster()


def retries(t: Table) -> dict:
    return t.counters.snapshot()["retries"]


def counted(**by_cause) -> dict:
    return {c: by_cause.get(c, 0) for c in CAUSES}


def route(hk: bytes, sk: bytes, count: int = 4) -> int:
    return wire.key_hash(wire.encode_key(hk, sk)) % count


def test_headers_carry_timeout_hash_and_gpid(cluster):
    t = cluster.table(timeout_ms=1500)
    t.open()
    t.set(b"hk", b"sk", b"v", timeout_ms=700)
    assert t.get(b"hk", b"sk") == b"v"
    put, get = cluster.net.sent(wire.RPC_PUT)[0], cluster.net.sent(wire.RPC_GET)[0]
    key = wire.encode_key(b"hk", b"sk")
    for r, timeout in ((put, 700), (get, 1500)):
        h = r.header
        assert (h.app_id, h.partition_index) == (1, route(b"hk", b"sk"))
        assert h.partition_hash == wire.key_hash(key) == 0x5D9AD5B51C9A4AB3
        assert h.thread_hash == 7919 + h.partition_index
        assert h.client_timeout == timeout
    primary = REPLICAS[cluster.primary[route(b"hk", b"sk")]]
    assert [a for a, r in cluster.net.requests if r.name != wire.RPC_QUERY_CFG] == [primary, primary]
    assert t.counters.snapshot() == {"retries": {}, "reconnects": 0}


def test_meta_forward_is_followed_to_the_leader(cluster):
    follower = "127.0.0.1:9"

    def forward(req, peer):
        fwd = m.PartitionConfiguration(m.Gpid(0, 0), 0, 0, wire.rpc_address_from("127.0.0.1", 1))
        peer.reply(reply_frame(req, m.QueryCfgResponse("ERR_FORWARD_TO_OTHERS", 0, 0, False, [fwd])))

    cluster.net.serve(follower, forward)
    t = cluster.table(metas=[follower])
    cfg = t.open()
    assert cfg.partition_count == 4 and cluster.meta_queries() == 2
    assert [a for a, _ in cluster.net.requests] == [follower, META]
    assert t.meta.metas == [follower, META] and t.meta.leader == META
    t.set(b"a", b"b", b"c")
    assert t.get(b"a", b"b") == b"c"


def test_open_fails_clearly_when_no_meta_answers_or_the_table_is_missing(cluster):
    t = cluster.table(metas=["127.0.0.1:9"])  # nothing serves it: refused
    with pytest.raises(MetaError, match="no meta server gave the configuration of table 'temp': "
                                        "127.0.0.1:9: cannot connect"):
        t.open()
    cluster.net.serve("127.0.0.1:8", meta_handler(lambda: table_config(1, [], err="ERR_OBJECT_NOT_FOUND")))
    t = cluster.table(metas=["127.0.0.1:9", "127.0.0.1:8"])
    with pytest.raises(TableNotFound, match="table 'temp' does not exist"):
        t.open()


def busy_gets(n: list[int]):
    """A fault hook: the next ``n[0]`` GETs are answered ERR_BUSY."""
    def fault(req, peer):
        if req.name == wire.RPC_GET and n[0]:
            n[0] -= 1
            peer.reply(reply_frame(req, error_name="ERR_BUSY"))
            return True
        return False
    return fault


def test_busy_is_retried_with_back_off_and_each_retry_counted(cluster):
    left = [2]
    cluster.fault(busy_gets(left))
    t = cluster.table()
    t.open()
    assert t.get(b"k", b"s") is None  # two ERR_BUSY, then the answer (a miss)
    assert len(cluster.net.sent(wire.RPC_GET)) == 3
    assert retries(t) == {"get": counted(busy=2)}
    # busy for ever: the call gives up at its own deadline with the error it was retrying
    left[0] = 10 ** 9
    before = len(cluster.net.sent(wire.RPC_GET))
    with pytest.raises(Busy, match="ERR_BUSY from 127.0.0.1:"):
        t.get(b"k", b"s", timeout_ms=100)
    tries = len(cluster.net.sent(wire.RPC_GET)) - before
    assert 2 <= tries <= 16
    assert retries(t) == {"get": counted(busy=2 + tries - 1)}  # every try but the last one retried
    assert t.pool.pending_count() == 0


def test_moved_primary_refreshes_once_for_many_callers_and_counts_route_retries(cluster):
    t = cluster.table()
    t.open()
    keys = [(b"h%d" % i, b"s") for i in range(40)]
    for hk, sk in keys:
        t.set(hk, sk, hk)
    queries = cluster.meta_queries()
    # every partition moves to the other replica (which gets the data); the old one refuses
    for old in cluster.primary:
        cluster.replicas[1 - old].store.update(cluster.replicas[old].store)
    cluster.primary = [1 - p for p in cluster.primary]

    def refuse_unless_primary(me: int):
        def fault(req, peer):
            if cluster.primary[req.header.partition_index] != me:
                peer.reply(reply_frame(req, error_name="ERR_INVALID_STATE"))
                return True
            return False
        return fault

    for me, r in enumerate(cluster.replicas):
        r.fault = refuse_unless_primary(me)
    jobs = [gevent.spawn(t.get, hk, sk) for hk, sk in keys]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert [j.value for j in jobs] == [hk for hk, _ in keys]
    assert cluster.meta_queries() == queries + 1  # single flight
    assert t.config.version == 2
    refused = sum(r.name == wire.RPC_GET for r in cluster.net.sent()) - len(keys)
    assert refused == len(keys)  # each get was refused once by the old primary
    assert retries(t) == {"get": counted(route=len(keys))}


def test_partition_without_primary_is_a_route_retry_after_a_refresh(cluster):
    t = cluster.table()
    t.open()
    p = route(b"np", b"s")
    cfg = cluster.config()
    cfg.partitions[p].primary = 0  # the meta knows no primary for it yet
    cluster.net.serve(META, meta_handler(lambda: cfg))
    t.meta.refresh(time.monotonic() + 2, stale_version=t.config.version)
    assert t.config.primaries[p] is None
    cluster.net.serve(META, meta_handler(cluster.config))  # the next answer has one again
    t.set(b"np", b"s", b"v")
    assert retries(t) == {"set": counted(route=1)}


def test_lost_connection_retries_reads_but_not_incr_and_counts_reconnects(cluster):
    state = {"close_next": True}

    def fault(req, peer):
        if state["close_next"]:
            state["close_next"] = False
            peer.close()
            return True
        if req.name == wire.RPC_INCR:
            peer.reply(reply_frame(req, m.IncrResponse(0, 1, 1, 0, 1)))
            return True
        return False

    cluster.fault(fault)
    t = cluster.table()
    t.open()
    assert t.get(b"k", b"s") is None  # retried on a new connection
    assert retries(t) == {"get": counted(reset=1)}
    assert t.counters.snapshot()["reconnects"] == 1
    state["close_next"] = True
    with pytest.raises(ConnectionLost) as ei:
        t.incr(b"k", b"n", 1)  # may have been applied: not retried, not counted
    assert ei.value.sent
    assert t.incr(b"k", b"n", 1) == 1
    assert retries(t) == {"get": counted(reset=1)}
    assert t.counters.snapshot()["reconnects"] == 2
    assert t.pool.pending_count() == 0


def test_refused_connections_are_retried_until_the_deadline_and_counted(cluster):
    t = cluster.table(timeout_ms=150)
    t.open()
    for addr in REPLICAS:
        cluster.net.stop(addr)
    with pytest.raises(ConnectionLost, match="cannot connect to 127.0.0.1:") as ei:
        t.get(b"k", b"s")
    assert ei.value.sent is False
    attempts = len(cluster.net.refused)
    assert attempts >= 2
    assert retries(t) == {"get": counted(reset=attempts - 1)}
    assert t.counters.snapshot()["reconnects"] == 0  # never re-established


def test_timeouts_end_the_call_are_not_retried_and_refresh_in_the_background(cluster, monkeypatch):
    monkeypatch.setattr("pegload.client.meta.MIN_REFRESH_INTERVAL_S", 0.0)  # no rate limit here
    cluster.fault(lambda req, peer: req.name == wire.RPC_GET)  # GETs are dropped
    t = cluster.table()
    t.open()
    queried = Event()
    answer = meta_handler(cluster.config)

    def meta(req, peer):
        answer(req, peer)
        queried.set()

    cluster.net.serve(META, meta)
    with pytest.raises(RequestTimeout, match="no reply from"):
        t.get(b"k", b"s", timeout_ms=100)
    assert len(cluster.net.sent(wire.RPC_GET)) == 1
    assert retries(t) == {}  # a timeout is never retried: nothing counted under "timeout"
    assert queried.wait(2)  # the background refresh (a silent primary may have moved)
    assert cluster.meta_queries() == 2


def test_refresh_keeps_unchanged_connections_and_retires_the_rest(cluster):
    t = cluster.table()
    t.open()
    t.set(b"a", b"b", b"c")
    t.set(b"x", b"y", b"z")
    a_conn, b_conn = t.pool.get(REPLICAS[0]), t.pool.get(REPLICAS[1])
    cluster.primary = [1, 1, 1, 1]  # everything on replica 1 now
    t.meta.refresh(time.monotonic() + 2, stale_version=t.config.version)
    assert REPLICAS[0] not in t.pool
    assert t.pool.get(REPLICAS[1]) is b_conn and b_conn.generation == 1
    assert a_conn.retired and not a_conn.is_open  # retired: it had nothing in flight


def test_unreadable_replies_are_protocol_errors_and_not_retried(cluster):
    def fault(req, peer):
        if req.name == wire.RPC_GET:  # ERR_OK whose value claims 100 bytes but has 5
            frame = reply_frame(req, m.ReadResponse(0, b"value", 1, 0))
            peer.reply(frame.replace(b"\x00\x00\x00\x05value", b"\x00\x00\x00\x64value"))
            return True
        return False

    cluster.fault(fault)
    t = cluster.table()
    t.open()
    with pytest.raises(ProtocolError, match="unreadable RPC_RRDB_RRDB_GET_ACK reply"):
        t.get(b"k", b"s")
    assert retries(t) == {}


def test_ops_sharing_an_rpc_are_counted_under_their_own_names(cluster):
    t = cluster.table()
    t.open()
    busy_next = {wire.RPC_TTL: True, wire.RPC_MULTI_GET: True}  # busy, answer, busy, answer...

    def fault(req, peer):
        if req.name in busy_next:
            busy_next[req.name] = not busy_next[req.name]
            if not busy_next[req.name]:
                peer.reply(reply_frame(req, error_name="ERR_BUSY"))
                return True
        if req.name == wire.RPC_TTL:
            peer.reply(reply_frame(req, m.TtlResponse(1, 0, 1, 0)))
            return True
        if req.name == wire.RPC_MULTI_GET:
            peer.reply(reply_frame(req, m.MultiGetResponse(0, [], 1, 0)))
            return True
        return False

    cluster.fault(fault)
    assert t.ttl(b"k", b"s") is None
    assert t.exist(b"k", b"s") is False
    assert t.multi_get(b"k", [b"a"]).kvs == {}
    assert t.multi_get_range(b"k", b"a", b"z").kvs == {}
    assert retries(t) == {"ttl": counted(busy=1), "exist": counted(busy=1),
                          "multi_get": counted(busy=1), "multi_get_range": counted(busy=1)}


def test_scanner_retries_are_counted_under_scan(cluster):
    t = cluster.table()
    t.open()
    t.set(b"hk", b"s1", b"v1")
    left = [1]

    def fault(req, peer):
        if req.name == wire.RPC_GET_SCANNER and left[0]:
            left[0] -= 1
            peer.reply(reply_frame(req, error_name="ERR_BUSY"))
            return True
        if req.name == wire.RPC_GET_SCANNER:
            kvs = [m.KeyValue(wire.encode_key(b"hk", b"s1"), b"v1")]
            peer.reply(reply_frame(req, m.ScanResponse(0, kvs, -1, 1, 0)))
            return True
        return False

    cluster.fault(fault)
    assert list(t.scanner(b"hk", b"", b"", ScanSpec())) == [((b"hk", b"s1"), b"v1")]
    assert retries(t) == {"scan": counted(busy=1)}


def test_counters_snapshot_is_a_copy_and_the_facade_shares_the_core_object():
    c = RetryCounters()
    c.retried("get", "busy")
    snap = c.snapshot()
    c.retried("get", "busy")
    c.reconnected()
    assert snap == {"retries": {"get": counted(busy=1)}, "reconnects": 0}
    assert c.snapshot() == {"retries": {"get": counted(busy=2)}, "reconnects": 1}
    with pytest.raises(ValueError, match="unknown retry cause 'nope' for get"):
        c.retried("get", "nope")
    p = Pegasus([META], "temp")  # no I/O before init()
    assert p.counters is p.table.counters


def test_every_retriable_error_class_names_a_counter_cause():
    for cls in (Busy, StaleRoute, ConnectionLost):
        assert cls.retriable and cls.retry_cause in CAUSES


def test_the_facade_counts_through_its_typed_core(cluster):
    p = Pegasus([META], "temp")
    p.table = cluster.table()  # the facade's core, over the in-memory network
    assert p.init()
    busy_next = [True]

    def fault(req, peer):  # every other TTL is answered ERR_BUSY
        if req.name == wire.RPC_TTL:
            busy_next[0] = not busy_next[0]
            if not busy_next[0]:
                peer.reply(reply_frame(req, error_name="ERR_BUSY"))
            else:
                peer.reply(reply_frame(req, m.TtlResponse(1, 0, 1, 0)))  # not found
            return True
        return False

    cluster.fault(fault)
    nf = error_types.ERR_OBJECT_NOT_FOUND.value
    assert p.ttl("k", "s") == (nf, 0)
    assert p.exist("k", "s") == (nf, 0)
    assert p.counters.snapshot()["retries"] == {"ttl": counted(busy=1), "exist": counted(busy=1)}
