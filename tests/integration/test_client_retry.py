"""Routing, meta refresh and retries against scripted meta/replica servers on loopback:
forwarding to the meta leader, single-flight refresh, bounded retries, header fields."""
from __future__ import annotations

import logging
import time

import gevent
import pytest

from pegload.client import Pegasus, error_types, wire
from pegload.client.errors import ConnectionLost
from pegload.client.table import Table
from pegload.client.testing import DictReplica, FrameServer, meta_handler, reply_frame, table_config
from pegload.client.wire import messages as m

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value


class Cluster:
    """One meta and two replicas; partition i's primary is ``replicas[primary[i]]``."""

    def __init__(self, partitions: int = 4) -> None:
        self.replicas = [DictReplica(), DictReplica()]
        self.servers = [FrameServer(r).start() for r in self.replicas]
        self.primary = [i % 2 for i in range(partitions)]
        self.meta = FrameServer(meta_handler(self.config)).start()

    def config(self):
        return table_config(1, [self.servers[i].address for i in self.primary])

    def meta_queries(self) -> int:
        return sum(r.name == wire.RPC_QUERY_CFG for r in self.meta.requests)

    def stop(self) -> None:
        for s in self.servers + [self.meta]:
            s.stop()


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.stop()


def route(hk: bytes, sk: bytes, count: int = 4) -> int:
    return wire.key_hash(wire.encode_key(hk, sk)) % count


def test_headers_carry_timeout_hash_and_gpid(cluster):
    with Pegasus([cluster.meta.address], "temp", timeout=1500) as c:
        assert c.init()
        assert c.set(b"hk", b"sk", b"v", timeout=700) == (OK, None)
        assert c.get(b"hk", b"sk") == (OK, b"v")
    reqs = [r for s in cluster.servers for r in s.requests]
    put = next(r for r in reqs if r.name == wire.RPC_PUT)
    get = next(r for r in reqs if r.name == wire.RPC_GET)
    key = wire.encode_key(b"hk", b"sk")
    for r, timeout in ((put, 700), (get, 1500)):
        h = r.header
        assert (h.app_id, h.partition_index) == (1, route(b"hk", b"sk"))
        assert h.partition_hash == wire.key_hash(key) == 0x5D9AD5B51C9A4AB3
        assert h.thread_hash == 7919 + h.partition_index
        assert h.client_timeout == timeout
    assert cluster.servers[cluster.primary[route(b"hk", b"sk")]].requests


def test_meta_forward_is_followed_to_the_leader(cluster):
    leader = cluster.meta.address
    host, port = leader.rsplit(":", 1)

    def follower(req, peer):
        fwd = m.PartitionConfiguration(m.Gpid(0, 0), 0, 0, wire.rpc_address_from(host, int(port)))
        peer.reply(reply_frame(req, m.QueryCfgResponse("ERR_FORWARD_TO_OTHERS", 0, 0, False, [fwd])))

    f = FrameServer(follower).start()
    try:
        t = Table([f.address], "temp")
        cfg = t.open()
        assert cfg.partition_count == 4 and len(f.requests) == 1 and cluster.meta_queries() == 1
        assert t.meta.metas == [f.address, leader]
        t.set(b"a", b"b", b"c")
        assert t.get(b"a", b"b") == b"c"
        t.close()
    finally:
        f.stop()


def test_init_false_when_no_meta_answers_or_table_missing(cluster, caplog):
    dead = FrameServer(lambda r, p: None).start()
    addr = dead.address
    dead.stop()
    with caplog.at_level(logging.ERROR, logger="pgclient"):
        t0 = time.monotonic()
        assert Pegasus([addr], "temp", timeout=3000).init() is False
        assert time.monotonic() - t0 < 2.5  # refused at once, well before the 3 s timeout
    assert f"no meta server gave the configuration of table 'temp': {addr}: cannot connect" in caplog.text
    missing = FrameServer(meta_handler(lambda: table_config(1, [], err="ERR_OBJECT_NOT_FOUND"))).start()
    try:
        with caplog.at_level(logging.ERROR, logger="pgclient"):
            assert Pegasus([addr, missing.address], "nope").init() is False
        assert "table 'nope' does not exist" in caplog.text
    finally:
        missing.stop()


def test_busy_is_retried_with_back_off_within_the_deadline(cluster):
    busy = {"left": 2}

    def fault(req, peer):
        if req.name == wire.RPC_GET and busy["left"]:
            busy["left"] -= 1
            peer.reply(reply_frame(req, error_name="ERR_BUSY"))
            return True
        return False

    for r in cluster.replicas:
        r.fault = fault
    with Pegasus([cluster.meta.address], "temp") as c:
        assert c.init()
        assert c.get(b"k", b"s") == (error_types.ERR_OBJECT_NOT_FOUND.value, b"")
        busy["left"] = 10 ** 9
        t0 = time.monotonic()
        assert c.get(b"k", b"s", timeout=200) == (error_types.ERR_BUSY.value, None)
        assert time.monotonic() - t0 < 2  # gave up at the call's own 200 ms deadline
        assert c.table.pool.pending_count() == 0


def test_moved_primary_refreshes_once_for_many_callers(cluster):
    with Pegasus([cluster.meta.address], "temp") as c:
        assert c.init()
        keys = [(b"h%d" % i, b"s") for i in range(40)]
        for hk, sk in keys:
            assert c.set(hk, sk, hk)[0] == OK
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
        jobs = [gevent.spawn(c.get, hk, sk) for hk, sk in keys]
        gevent.joinall(jobs, timeout=10, raise_error=True)
        assert [j.value for j in jobs] == [(OK, hk) for hk, _ in keys]
        assert cluster.meta_queries() == queries + 1  # single flight
        assert c.table.config.version == 2


def test_lost_connection_retries_reads_but_not_incr(cluster):
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

    for r in cluster.replicas:
        r.fault = fault
    with Pegasus([cluster.meta.address], "temp") as c:
        assert c.init()
        assert c.get(b"k", b"s") == (error_types.ERR_OBJECT_NOT_FOUND.value, b"")  # retried
        state["close_next"] = True
        assert c.incr(b"k", b"n", 1) == (error_types.ERR_SESSION_RESET.value, None)
        assert c.incr(b"k", b"n", 1) == (OK, 1)
        assert c.table.pool.pending_count() == 0


def test_refresh_keeps_unchanged_connections_and_retires_the_rest(cluster):
    t = Table([cluster.meta.address], "temp")
    t.open()
    t.set(b"a", b"b", b"c")
    t.set(b"x", b"y", b"z")
    a_conn = t.pool.get(cluster.servers[0].address)
    b_conn = t.pool.get(cluster.servers[1].address)
    cluster.primary = [1, 1, 1, 1]  # everything on replica 1 now
    t.meta.refresh(time.monotonic() + 2, stale_version=t.config.version)
    assert cluster.servers[0].address not in t.pool
    assert t.pool.get(cluster.servers[1].address) is b_conn and b_conn.generation == 1
    assert not a_conn.is_open  # retired: it had nothing in flight
    t.close()


def test_connection_loss_error_carries_address_and_is_typed(cluster):
    t = Table([cluster.meta.address], "temp", timeout_ms=300)
    t.open()
    for s in cluster.servers:
        s.stop()
    with pytest.raises(ConnectionLost, match="cannot connect to 127.0.0.1:"):
        t.get(b"k", b"s")
    t.close()


def test_unreadable_replies_are_protocol_errors_not_crashes(cluster):
    def fault(req, peer):
        if req.name == wire.RPC_GET:  # ERR_OK whose value claims 100 bytes but has 5
            frame = reply_frame(req, m.ReadResponse(0, b"value", 1, 0))
            frame = frame.replace(b"\x00\x00\x00\x05value", b"\x00\x00\x00\x64value")
            peer.reply(frame)
            return True
        return False

    for r in cluster.replicas:
        r.fault = fault
    with Pegasus([cluster.meta.address], "temp") as c:
        assert c.init()
        assert c.get(b"k", b"s") == (error_types.ERR_INVALID_DATA.value, None)
        from pegload.client.errors import ProtocolError
        with pytest.raises(ProtocolError, match="unreadable RPC_RRDB_RRDB_GET_ACK reply"):
            c.table.get(b"k", b"s")
