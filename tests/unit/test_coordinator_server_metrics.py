"""The server-metrics poller: parsing /metrics answers, deltas across counter resets, reads in a
thread against a loopback HTTP stub, and what is recorded when a server cannot be read."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pegload.coordinator.server_metrics import ServerPoller, Snapshot, metrics_path, parse_replica_metrics, summarize
from pegload.report.server_view import compare


def body(entities):
    return {"cluster": "c", "role": "replica", "host": "h", "port": 1, "timestamp_ns": 1, "entities": entities}


def replica(pidx, gets, puts=0, p99=50_000):
    return {"type": "replica", "id": f"replica@1.{pidx}", "attributes": {"table_id": "1", "partition_id": str(pidx)},
            "metrics": [{"name": "get_requests", "value": gets}, {"name": "put_requests", "value": puts},
                        {"name": "get_latency_ns", "p50": 1000, "p90": 2000, "p95": 3000, "p99": p99, "p999": 90_000},
                        {"name": "put_latency_ns", "p50": 0, "p90": 0, "p95": 0, "p99": 0, "p999": 0}]}


def test_parse_sums_counters_and_takes_the_highest_partition_percentile():
    server = {"type": "server", "id": "server", "metrics": [{"name": "get_requests", "value": 99}]}
    out = parse_replica_metrics(body([replica(0, 10, 3, p99=40_000), replica(1, 5, 0, p99=70_000), server]))
    assert out["requests"]["get"] == 15 and out["requests"]["put"] == 3 and out["partitions"] == 2
    assert out["latency_ns"]["get"]["p99"] == 70_000
    assert "put" in out["latency_ns"]  # partition 0 served puts
    assert "table_id%2C1" in metrics_path(1) and "types=replica" in metrics_path(1)


def snap(t, label, gets, addr="a:1"):
    return Snapshot(t, label, servers={addr: {"requests": {"get": gets}, "latency_ns": {"get": {"p99": 2_000_000}}}}
                    if gets is not None else {}, errors={} if gets is not None else {addr: "ConnectionRefusedError"})


def test_summarize_counts_between_phase_edges_and_from_zero_after_a_restart():
    poller = ServerPoller([], [], 1, 2.0)
    poller.replicas = ["a:1"]
    poller.snapshots = [snap(0, None, 100), snap(1, "start:run", 150), snap(3, None, 350), snap(5, None, None),
                        snap(7, None, 40), snap(9, "end:run", 240), snap(10, None, 260)]
    s = summarize(poller, [("run", 1.0, 9.0)], 0.0)
    (r,) = s["replicas"]
    # 200 before the server went down, then 40 + 200 counted since its restart
    assert r["requests"] == {"get": 440} and r["by_phase"] == {"run": {"get": 440}} and r["resets"] == 1
    assert r["latency_us"] == {"get": {"p99": 2000.0}}
    rows = r["timeseries"]["rows"]
    assert rows[0] == [0.0, 1.0, {"get": 50}] and rows[1] == [1.0, 2.0, {"get": 200}]
    assert rows[2] == [3.0, 4.0, None]  # across the failed read: how many is known, not when
    assert s["errors"] == [{"server": "a:1", "error": "ConnectionRefusedError", "reads": 1}]
    rows_, warnings = compare(s, [{"name": "run", "kind": "run", "ops": {"get": {"count": 1000, "latency_us": {}}}}])
    assert rows_[0]["server_count"] == 440 and rows_[0]["ratio"] == 0.44
    assert len(warnings) == 1 and "counted 440 get requests for the client's 1,000 get ops" in warnings[0]
    assert summarize(None, [], 0.0, "off")["why"] == "server_metrics: off"


class _Stub(BaseHTTPRequestHandler):
    gets = 0

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path.startswith("/meta/nodes"):
            payload = {"details": {self.server.replica_addr: {"address": "x", "status": "ALIVE"}}}
        else:
            _Stub.gets += 7
            payload = body([replica(0, _Stub.gets)])
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"127.0.0.1:{port}"


def test_poller_finds_replicas_through_the_meta_and_records_unreadable_ones():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    addr = f"127.0.0.1:{srv.server_address[1]}"
    srv.replica_addr = addr  # the stub is both the meta and the replica server
    dead = closed_port()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        poller = ServerPoller([dead, addr], [dead], 1, 60.0, timeout_s=1.0)
        # both edges are due before the thread's first read (marked before it starts, so the
        # order does not depend on how fast discovery is)
        poller.mark("start:run")
        poller.mark("end:run")
        poller.start()
        poller.stop()
    finally:
        srv.shutdown()
    assert poller.replicas == sorted([addr, dead])
    assert any(dead in p and "/meta/nodes" in p for p in poller.problems)
    labels = [s.label for s in poller.snapshots]
    assert labels == ["start:run", "end:run"]  # the edge reads stood for the first periodic one
    assert all(dead in s.errors and "Connection refused" in s.errors[dead] for s in poller.snapshots)
    s = summarize(poller, [("run", poller.snapshots[0].t, poller.snapshots[1].t)], 0.0)
    by_addr = {r["address"]: r for r in s["replicas"]}
    assert by_addr[addr]["requests"] == {"get": 7}
    assert {e["server"] for e in s["errors"]} == {None, dead}


def test_a_target_without_metrics_is_recorded_as_not_captured():
    dead = closed_port()
    poller = ServerPoller([dead], [], None, 60.0, timeout_s=0.5)
    poller.start()
    poller.stop()
    s = summarize(poller, [], 0.0)
    assert s["captured"] is False and s["why"].startswith("no replica server found") and dead in s["why"]


class _MetaOnly(_Stub):
    def do_GET(self):  # noqa: N802 - the http.server API
        data = json.dumps({"details": {self.server.replica_addr: {"status": "ALIVE"}}}).encode()
        self.send_response(200 if self.path.startswith("/meta/nodes") else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_replicas_that_do_not_answer_metrics_stop_the_poller_with_the_reason():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _MetaOnly)
    srv.replica_addr = closed_port()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        poller = ServerPoller([f"127.0.0.1:{srv.server_address[1]}"], [], 1, 0.5, timeout_s=0.5)
        poller.start()
        poller._thread.join(10)  # it gives up by itself after the first round
    finally:
        srv.shutdown()
    assert not poller._thread.is_alive() and len(poller.snapshots) == 1
    s = summarize(poller, [], 0.0)
    assert s["captured"] is False and s["why"].startswith("no replica server answered /metrics")
    assert srv.replica_addr in s["why"]
