"""Killing and restarting a replica server of a running onebox under load from pegload's client:
refused connections while down, primaries moved after the detection delay, calls succeeding
again after that delay plus a retry, and the server back on restart."""
from __future__ import annotations

import json
import socket
import time
import urllib.request

import gevent
import pytest

from pegload.client import Pegasus, error_types
from pegload.onebox.control_client import ControlError

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value
DETECT_S = 0.5


def refuses(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_failover_under_load_and_restart(onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, failure_detection_s=DETECT_S)
    victim = ob.replica_addrs[0]
    c = Pegasus(ob.meta_addrs, "temp", timeout=3000)
    assert c.init()
    results = []  # (start time, op, code, matched)
    stop = False

    def worker(w):
        n = 0
        while not stop:
            hk = f"fo{w}-{n % 40}"
            t = time.monotonic()
            r = c.set(hk, "s", hk)
            results.append((t, "set", r[0], r == (OK, None)))
            t = time.monotonic()
            g = c.get(hk, "s")
            results.append((t, "get", g[0], g == (OK, hk.encode()) or r[0] != OK))
            n += 1
            gevent.sleep(0.002)

    try:
        jobs = [gevent.spawn(worker, w) for w in range(6)]
        gevent.sleep(0.3)
        killed_at = time.monotonic()
        state = ob.kill_replica(0)
        assert victim in state["down"] and state["dead"] == []
        assert refuses(victim)
        # until detection the meta still names the dead server
        assert any(p["primary"] == victim for p in ob.partition_config("temp"))
        deadline = time.monotonic() + 10
        while ob.failure_detection()["dead"] != [victim]:
            assert time.monotonic() < deadline, "the meta never declared the replica dead"
            gevent.sleep(0.02)
        cfg = ob.partition_config("temp")
        assert all(p["primary"] != victim and victim not in p["secondaries"] for p in cfg)
        assert all(p["ballot"] >= 2 for p in cfg)
        nodes = json.load(urllib.request.urlopen(f"http://{ob.meta_addrs[0]}/meta/nodes", timeout=5))
        assert nodes["details"][victim]["status"] == "UNALIVE"
        gevent.sleep(1.0)  # load keeps running on the survivors
        restarted = ob.restart_replica(victim)
        assert restarted["down"] == {} and restarted["dead"] == []
        assert not refuses(victim)
        cfg = ob.partition_config("temp")
        assert all(victim in p["secondaries"] for p in cfg)  # back, as a secondary
        gevent.sleep(0.3)
        stop = True
        gevent.joinall(jobs, timeout=30, raise_error=True)
    finally:
        stop = True
        c.close()
    settled = killed_at + DETECT_S + 0.5  # detection delay plus a retry
    after = [r for r in results if r[0] >= settled]
    assert len(after) > 100
    assert all(r[2] == OK and r[3] for r in after), [r for r in after if r[2] != OK][:5]
    before = [r for r in results if r[0] < killed_at]
    assert before and all(r[2] == OK and r[3] for r in before)
    # the restarted server starts its counters from zero, and is reachable over HTTP again
    body = json.load(urllib.request.urlopen(f"http://{victim}/metrics?types=replica&metrics=get_requests",
                                            timeout=5))
    assert sum(m["value"] for e in body["entities"] for m in e["metrics"]) == 0


def test_restart_within_the_detection_delay_changes_nothing(onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, failure_detection_s=60)
    before = ob.partition_config("temp")
    ob.kill_replica(1)
    assert refuses(ob.replica_addrs[1])
    ob.restart_replica(ob.replica_addrs[1])
    assert ob.partition_config("temp") == before
    c = Pegasus(ob.meta_addrs, "temp", timeout=3000)
    assert c.init()
    try:
        assert all(c.set(f"q{i}", "s", "v") == (OK, None) for i in range(40))
    finally:
        c.close()
    with pytest.raises(ControlError, match="is not down"):
        ob.restart_replica(1)
    ob.kill_replica(2)
    with pytest.raises(ControlError, match="already down"):
        ob.kill_replica(2)
    with pytest.raises(ControlError, match="no replica 7"):
        ob.kill_replica(7)


def test_meta_leader_killed_then_a_follower_leads(onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, failure_detection_s=DETECT_S)
    c = Pegasus(ob.meta_addrs, "temp", timeout=3000)
    assert c.init()
    try:
        state = ob.kill_meta(0)
        assert refuses(ob.meta_addrs[0]) and state["leader"] == ob.meta_addrs[0]
        deadline = time.monotonic() + 10
        while ob.failure_detection()["leader"] != ob.meta_addrs[1]:
            assert time.monotonic() < deadline, "no new meta leader"
            gevent.sleep(0.02)
        ob.kill_replica(2)  # the client must now ask the new leader for the moved primaries
        deadline = time.monotonic() + 10
        while ob.failure_detection()["dead"] != [ob.replica_addrs[2]]:
            assert time.monotonic() < deadline
            gevent.sleep(0.02)
        for i in range(30):
            assert c.set(f"ml{i}", "s", "v") == (OK, None)
            assert c.get(f"ml{i}", "s") == (OK, b"v")
        back = ob.restart_meta(0)
        assert back["metas_down"] == {} and back["leader"] == ob.meta_addrs[1]  # a follower now
        assert not refuses(ob.meta_addrs[0])
    finally:
        c.close()
