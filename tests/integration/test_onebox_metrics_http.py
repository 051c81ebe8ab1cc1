"""GET /metrics over HTTP on the Pegasus ports of a running onebox: shape, filters, counts equal
to what a client sent, and the Thrift traffic on the same port unaffected."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from pegload.client import Pegasus, error_types

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value


def get_json(addr, path):
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"
        return json.load(r)


def counter_sum(body, name, etype="replica"):
    return sum(m["value"] for e in body["entities"] if e["type"] == etype
               for m in e["metrics"] if m["name"] == name)


@pytest.fixture
def ob(onebox_factory):
    return onebox_factory(tables={"temp": 8})


def test_shape_on_meta_and_replica_ports(ob):
    body = get_json(ob.replica_addrs[1], "/metrics")
    assert set(body) == {"cluster", "role", "host", "port", "timestamp_ns", "entities"}
    assert body["role"] == "replica" and body["port"] == int(ob.replica_addrs[1].rsplit(":", 1)[1])
    ids = {e["id"] for e in body["entities"]}
    assert "server" in ids and {f"replica@1.{i}" for i in range(8)} <= ids
    rep = next(e for e in body["entities"] if e["id"] == "replica@1.0")
    names = {m["name"] for m in rep["metrics"]}
    assert {"get_requests", "put_requests", "multi_remove_requests", "check_and_mutate_requests",
            "backup_requests", "get_latency_ns", "throttling_rejected_read_requests"} <= names
    lat = next(m for m in rep["metrics"] if m["name"] == "get_latency_ns")
    assert set(lat) == {"name", "p50", "p90", "p95", "p99", "p999"}
    meta = get_json(ob.meta_addrs[0], "/metrics")
    assert meta["role"] == "meta"
    srv = {m["name"]: m["value"] for m in meta["entities"][0]["metrics"]}
    assert srv["alive_replica_servers"] == 3 and srv["unalive_replica_servers"] == 0
    nodes = get_json(ob.meta_addrs[0], "/meta/nodes")
    assert sorted(nodes["details"]) == sorted(ob.replica_addrs)


def test_filters_and_errors_over_http(ob):
    body = get_json(ob.replica_addrs[0], "/metrics?types=replica&ids=replica@1.0&metrics=get_requests"
                                         "&with_metric_fields=name,value")
    assert body["entities"] == [{"type": "replica", "id": "replica@1.0",
                                 "attributes": {"table_id": "1", "partition_id": "0"},
                                 "metrics": [{"name": "get_requests", "value": 0}]}]
    detail = get_json(ob.replica_addrs[0], "/metrics?detail=true&metrics=get_latency_ns")
    m = detail["entities"][0]["metrics"][0]
    assert m["type"] == "Percentile" and m["unit"] == "NanoSeconds"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{ob.replica_addrs[0]}/metrics?bogus=1", timeout=10)
    assert e.value.code == 400 and "unknown field bogus=1" in json.load(e.value)["error_message"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{ob.replica_addrs[0]}/nothing", timeout=10)
    assert e.value.code == 404


def test_server_counts_equal_what_the_client_sent(ob):
    c = Pegasus(ob.meta_addrs, "temp", timeout=5000)
    assert c.init()
    try:
        for i in range(300):
            assert c.set(f"m{i}", "s", "v")[0] == OK
        for i in range(500):
            assert c.get(f"m{i % 300}", "s")[0] == OK
        for i in range(40):
            assert c.multi_get(f"m{i}", [])[0] == OK
        for i in range(25):
            assert c.remove(f"m{i}", "s")[0] == OK
    finally:
        c.close()
    bodies = [get_json(a, "/metrics?types=replica") for a in ob.replica_addrs]
    assert sum(counter_sum(b, "get_requests") for b in bodies) == 500  # reads: served by primaries
    assert sum(counter_sum(b, "multi_get_requests") for b in bodies) == 40
    # writes count on every replica that applies them: primary + 2 secondaries
    assert sum(counter_sum(b, "put_requests") for b in bodies) == 3 * 300
    assert sum(counter_sum(b, "remove_requests") for b in bodies) == 3 * 25
    primaries_get = {a: counter_sum(b, "get_requests") for a, b in zip(ob.replica_addrs, bodies)}
    by_server = ob.counters()["by_server"]
    for a in ob.replica_addrs:  # per server, what the onebox's own request counters saw
        assert primaries_get[a] == by_server.get(a, {}).get("RPC_RRDB_RRDB_GET", 0)
    lat = [m for b in bodies for e in b["entities"] for m in e["metrics"]
           if m["name"] == "get_latency_ns" and m["p50"]]
    assert lat and all(0 < m["p50"] <= m["p99"] <= m["p999"] < 1_000_000_000 for m in lat)


def test_thrift_and_http_share_the_port(ob):
    addr = ob.replica_addrs[0]
    host, port = addr.rsplit(":", 1)
    idle_http = socket.create_connection((host, int(port)), timeout=10)
    idle_http.sendall(b"GE")  # the method in pieces, then a half-sent request: disturbs no one
    idle_http.sendall(b"T /metr")
    c = Pegasus(ob.meta_addrs, "temp", timeout=5000)
    assert c.init()
    try:
        for i in range(50):
            assert c.set(f"h{i}", "s", str(i)) == (OK, None)
            body = get_json(addr, "/metrics?types=server&metrics=network_server_sessions")
            assert body["entities"][0]["metrics"][0]["value"] >= 1
            assert c.get(f"h{i}", "s") == (OK, str(i).encode())
        idle_http.sendall(b"ics?types=server HTTP/1.1\r\nHost: x\r\n\r\n")
        head = idle_http.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK")
    finally:
        c.close()
        idle_http.close()
    assert ob.counters()["bad_frames"] == 0
