"""HTTP on the Pegasus ports, recognised by a connection's first bytes as the real network layer
does (``message_parser::get_header_type``: ``"GET "`` or ``"POST"`` instead of ``"THFT"``).

Served: ``GET /metrics`` on every meta and replica port (server_metrics.py) and, on metas,
``GET /meta/nodes`` (the replica servers and whether the meta thinks they are alive; Pegasus's
collector finds replica servers this way). One request per connection, answered with
``Connection: close``.
"""
from __future__ import annotations

import json
import logging

log = logging.getLogger("pegload.onebox")
HTTP_SIGNATURES = (b"GET ", b"POST")
MAX_HEAD = 64 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 307: "Temporary Redirect",
            413: "Request Entity Too Large"}


def sniff(sock, data: bytes) -> tuple[bool, bytes]:
    """``(is HTTP, bytes read so far)`` from a connection's first read: 4 bytes decide, so a
    shorter start that could still be HTTP waits for more (EOF: not HTTP)."""
    while len(data) < 4 and any(sig.startswith(data) for sig in HTTP_SIGNATURES):
        more = sock.recv(65536)
        if not more:
            return False, data
        data += more
    return data[:4] in HTTP_SIGNATURES, data


def serve(service, conn, data: bytes) -> None:
    """Read the request head (``data`` is what arrived so far), answer it, return (the caller
    closes the connection)."""
    sock = conn.sock
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            _send(conn, 413, {"error_message": "request head too large"})
            return
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line = head.split("\r\n", 1)[0]
    parts = request_line.split(" ")
    if len(parts) != 3:
        _send(conn, 400, {"error_message": f"bad request line {request_line[:200]!r}"})
        return
    method, target, _version = parts
    path, _, query = target.partition("?")
    status, body = route(service, method, path, query)
    _send(conn, status, body)


def route(service, method: str, path: str, query: str) -> tuple[int, dict]:
    rt = service.runtime
    if path == "/metrics":
        if method != "GET":
            return 400, {"error_message": "please use 'GET' method while querying for metrics"}
        return rt.metrics.snapshot(service.kind, service.index, service.addr.rpartition(":")[0],
                                   service.port, query)
    if path == "/meta/nodes" and service.kind == "meta":
        return 200, meta_nodes(rt, query)
    return 404, {"error_message": f"no handler for {path}"}


def meta_nodes(rt, query: str) -> dict:
    """``/meta/nodes`` (``meta_http_service::list_node_handler``): table-printer JSON whose
    ``details`` keys are the replica servers' addresses."""
    cluster = rt.cluster
    detail = "detail" in query
    alive = rt.metrics.alive
    details = {}
    for i, node in enumerate(cluster.replicas):
        row = {"address": node.addr, "status": "ALIVE" if alive(i) else "UNALIVE"}
        if detail:
            primary = sum(1 for t in cluster.tables.values() for p in t.placements if p.primary == i)
            secondary = sum(1 for t in cluster.tables.values() for p in t.placements if i in p.secondaries)
            row.update(replica_count=str(primary + secondary), primary_count=str(primary),
                       secondary_count=str(secondary))
        details[node.addr] = row
    n_alive = sum(1 for i in range(len(cluster.replicas)) if alive(i))
    return {"details": details,
            "summary": {"total_node_count": str(len(cluster.replicas)), "alive_node_count": str(n_alive),
                        "unalive_node_count": str(len(cluster.replicas) - n_alive)}}


def _send(conn, status: int, body: dict) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n").encode()
    conn.send(head + payload)
