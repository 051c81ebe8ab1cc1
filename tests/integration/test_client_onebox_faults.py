"""The client under injected faults on private oneboxes: primary moves mid-run, ERR_BUSY,
delays, dropped replies, closed connections, stalls; 1,000 greenlets on one client; a
monkey-patched worker process. Every case: clear codes, no hang, nothing left pending."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import gevent
import pytest

from pegload.client import Pegasus, ScanOptions, error_types
from pegload.client.wire import crc64

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value


@pytest.fixture
def ob(onebox_factory):
    return onebox_factory(tables={"temp": 8})


@pytest.fixture
def client(ob):
    c = Pegasus(ob.meta_addrs, "temp", timeout=2000)
    assert c.init()
    yield c
    c.close()


def wait_for(condition, timeout: float = 5.0) -> bool:
    """Poll ``condition`` on the event loop until it holds (True) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        gevent.sleep(0.01)
    return True


def dropped_replies(c) -> int:
    return sum(conn.dropped_replies for conn in c.table.pool.connections())


def assert_nothing_pending(c):
    """No call left in flight. A timeout also starts a background meta refresh, whose query
    may still be on its way back: allow it to land (polling, no fixed sleep)."""
    assert wait_for(lambda: c.table.pool.pending_count() == 0, 2), c.table.pool.pending_count()


def test_primary_moves_mid_run_and_calls_keep_succeeding(ob, client):
    stop = False
    results = []

    def worker(i):
        n = 0
        while not stop:
            hk = f"mv{i}-{n % 50}"
            r1 = client.set(hk, "s", hk)
            r2 = client.get(hk, "s")
            results.append((r1, r2, hk))
            n += 1

    jobs = [gevent.spawn(worker, i) for i in range(8)]
    gevent.sleep(0.2)
    ballots = []
    for p in range(8):  # move every partition, one after the other, while traffic runs
        ballots.append(ob.move_primary("temp", p, old_role="secondary" if p % 2 else "gone"))
        gevent.sleep(0.05)
    gevent.sleep(0.2)
    stop = True
    gevent.joinall(jobs, timeout=30, raise_error=True)
    assert len(results) > 100
    bad = [r for r in results if r[0] != (OK, None) or r[1] != (OK, r[2].encode())]
    assert bad == []
    assert client.table.config.version >= 2  # refreshed after the moves
    assert set(client.table.config.primaries) <= set(ob.replica_addrs)
    assert_nothing_pending(client)
    errors = ob.counters()["errors"]
    assert errors.get("ERR_INVALID_STATE", 0) + errors.get("ERR_OBJECT_NOT_FOUND", 0) > 0


def test_scan_across_a_primary_move_returns_every_record_once(ob, client):
    want = {}
    for i in range(40):
        kv = {f"s{j:02d}": f"v{i}-{j}" for j in range(10)}
        client.multi_set(f"scan{i:02d}", kv)
        want.update({(f"scan{i:02d}".encode(), k.encode()): v.encode() for k, v in kv.items()})
    scanners = client.get_unordered_scanners(2, ScanOptions(batch_size=6))
    seen = []
    moved = set()
    for sc in scanners:
        for item in sc:
            seen.append(item)
            if len(seen) % 45 == 0:  # move the partitions under the scanners' feet
                p = len(moved)
                ob.move_primary("temp", p, old_role="secondary" if p % 2 else "gone")
                moved.add(p)
    assert len(moved) >= 5
    assert len(seen) == len(want) and dict(seen) == want
    single = client.get_scanner("scan07", "", "", ScanOptions(batch_size=3))
    first = [single.get_next() for _ in range(4)]
    ob.move_primary("temp", client.table.config.partition_of(crc64(b"scan07")))
    rest = list(single)
    assert [k for (_, k), _ in first + rest] == [f"s{j:02d}".encode() for j in range(10)]


def busy_retries(c) -> int:
    return sum(causes["busy"] for causes in c.counters.snapshot()["retries"].values())


def test_busy_replies_are_retried_and_every_one_is_counted(ob, client):
    ob.set_faults(busy_fraction=0.3)
    results = [client.set(f"busy{i}", "s", "v") for i in range(60)]
    results += [client.get(f"busy{i}", "s") for i in range(60)]
    assert all(r[0] == OK for r in results), results
    sent = ob.counters()["faults"]["busy"]  # the server's own count of the ERR_BUSY it sent
    assert sent > 0
    assert busy_retries(client) == sent  # every call succeeded: each ERR_BUSY was retried once
    assert set(client.counters.snapshot()["retries"]) <= {"set", "get"}
    ob.set_faults(busy_fraction=1.0)
    t0 = time.monotonic()
    assert client.get("busy0", "s", timeout=300) == (error_types.ERR_BUSY.value, None)
    assert time.monotonic() - t0 < 2  # no hang (the machine may be busy: generous bound)
    # the call gave up: every ERR_BUSY but the last was retried
    assert busy_retries(client) == ob.counters()["faults"]["busy"] - 1
    assert_nothing_pending(client)


def test_delays_end_in_timeouts_without_leaks(ob, client):
    client.set("slow", "s", "v")
    ob.set_faults(delay_ms=400)
    t0 = time.monotonic()
    jobs = [gevent.spawn(client.get, "slow", "s", 100) for _ in range(20)]
    gevent.joinall(jobs, timeout=10, raise_error=True)
    assert time.monotonic() - t0 < 2
    # all ended by their 100 ms deadline, before the 400 ms delayed replies
    assert [j.value for j in jobs] == [(error_types.ERR_TIMEOUT.value, None)] * 20
    assert_nothing_pending(client)
    assert client.get("slow", "s", timeout=2000) == (OK, b"v")  # within a longer deadline
    ob.clear_faults()
    # the 20 late replies arrive (the 2 s call above waited longer than their delay) and are
    # dropped, not handed to a later caller
    assert wait_for(lambda: dropped_replies(client) == 20), dropped_replies(client)
    assert client.get("slow", "s") == (OK, b"v")
    assert dropped_replies(client) == 20
    assert_nothing_pending(client)


def test_dropped_replies_time_out_cleanly(ob, client):
    ob.set_faults(drop_fraction=1.0)
    t0 = time.monotonic()
    assert client.set("drop", "s", "v", timeout=150) == (error_types.ERR_TIMEOUT.value, None)
    assert client.get("drop", "s", timeout=150) == (error_types.ERR_TIMEOUT.value, None)
    assert time.monotonic() - t0 < 3
    assert_nothing_pending(client)
    ob.set_faults(drop_fraction=0.2)
    codes = [client.set(f"d{i}", "s", "v", timeout=150)[0] for i in range(40)]
    assert set(codes) <= {OK, error_types.ERR_TIMEOUT.value} and OK in codes
    assert_nothing_pending(client)


def test_closed_connections_fail_fast_reconnect_and_are_counted(ob, client):
    ob.set_faults(close_fraction=0.3)
    results = [client.get(f"c{i}", "s", timeout=1500) for i in range(50)]
    # reads are retried on a new connection; nothing waits for the deadline
    assert all(r[0] in (OK, error_types.ERR_OBJECT_NOT_FOUND.value) for r in results), results
    closed_reads = ob.counters()["faults"]["close"]  # the server's own count
    assert closed_reads > 0
    snap = client.counters.snapshot()
    # each close failed the one get in flight, which was retried on a re-established connection
    assert snap["retries"] == {"get": {"busy": 0, "timeout": 0, "reset": closed_reads, "route": 0}}
    assert snap["reconnects"] == closed_reads
    incr = [client.incr("cnt", "n", 1, timeout=1500)[0] for _ in range(30)]
    assert set(incr) <= {OK, error_types.ERR_SESSION_RESET.value}  # never applied twice
    assert error_types.ERR_SESSION_RESET.value in incr
    closed = ob.counters()["faults"]["close"]
    assert incr.count(error_types.ERR_SESSION_RESET.value) == closed - closed_reads
    ob.clear_faults()
    assert client.get("cnt", "n") == (OK, str(incr.count(OK)).encode())
    snap = client.counters.snapshot()
    assert snap["retries"]["get"]["reset"] == closed_reads  # incr lost with its connection: not retried
    assert "incr" not in snap["retries"]
    assert snap["reconnects"] == closed  # every closed connection was opened again by the next call
    assert ob.close_connections() >= 1
    assert client.get("cnt", "n") == (OK, str(incr.count(OK)).encode())
    assert client.counters.snapshot()["reconnects"] == closed + 1
    assert_nothing_pending(client)


def test_stalled_replica_answers_after_the_stall(ob, client):
    client.set("stall", "s", "v")
    ob.stall(0.4)
    t0 = time.monotonic()
    assert client.get("stall", "s", timeout=3000) == (OK, b"v")
    assert time.monotonic() - t0 >= 0.2
    assert_nothing_pending(client)


def test_meta_leader_change_and_forwarding(ob):
    ob.set_meta_leader(2)
    c = Pegasus(ob.meta_addrs, "temp")  # asks meta 0 first: it forwards to meta 2
    assert c.init()
    assert c.table.meta.leader == ob.meta_addrs[2]
    assert c.set("m", "s", "v") == (OK, None)
    c.close()


def test_a_thousand_greenlets_on_one_client(ob, client):
    def work(i):
        hk = f"g{i}"
        assert client.set(hk, "s", hk) == (OK, None)
        return client.get(hk, "s")

    jobs = [gevent.spawn(work, i) for i in range(1000)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    assert [j.value for j in jobs] == [(OK, f"g{i}".encode()) for i in range(1000)]
    assert_nothing_pending(client)
    assert len(client.table.pool) <= len(ob.meta_addrs) + len(ob.replica_addrs)


WORKER = """
from gevent import monkey; monkey.patch_all()
import json, sys, threading, gevent
from pegload.client import Pegasus
c = Pegasus(sys.argv[1].split(","), "temp")
assert c.init()
jobs = [gevent.spawn(c.set, "patched%d" % i, "s", "v%d" % i) for i in range(50)]
gevent.joinall(jobs)
t = threading.Thread(target=lambda: None); t.start(); t.join()  # patched threads are greenlets
code, value = c.get("patched7", "s")
print(json.dumps([list(j.value) for j in jobs] + [[code, value.decode()]]))
c.close()
"""


def test_works_in_a_monkey_patched_worker_process(ob):
    out = subprocess.run([sys.executable, "-c", WORKER, ",".join(ob.meta_addrs)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res[:50] == [[OK, None]] * 50
    assert res[50] == [OK, "v7"]
