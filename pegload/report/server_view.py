"""Client vs server: the comparison rows and warnings of ``summary.json``'s ``server`` section.

Counting rules (Pegasus's and the onebox's): a read counts once, on the replica server whose
primary served it; a write counts on every replica that applied it (the primary and its
secondaries: 3 copies with the default ``max_replica_count``). So a read's server count should
equal the client's, and a write's should be the client's times the copies. Retries count again
on the server; a replica server that restarted lost what it had counted.
"""
from __future__ import annotations

from typing import Any

# The replica entities' per-op metrics (src/server/pegasus_server_impl_init.cpp)
SERVER_OPS = ("get", "multi_get", "batch_get", "scan", "put", "multi_put", "remove", "multi_remove",
              "incr", "check_and_set", "check_and_mutate")
PERCENTILES = ("p50", "p90", "p95", "p99", "p999")  # what a Percentile metric reports
WRITE_SERVER_OPS = frozenset(("put", "multi_put", "remove", "multi_remove", "incr", "check_and_set",
                              "check_and_mutate"))
# pegload op -> the server op that counts it, for the ops that send exactly one request per call
CLIENT_TO_SERVER_OP = {"get": "get", "set": "put", "multi_set": "multi_put", "multi_get": "multi_get",
                       "remove": "remove", "multi_del": "multi_remove", "incr": "incr",
                       "check_and_set": "check_and_set"}
# Below this share of the client's count (per copy, for writes: at least one), the server did
# not see this run's load: another cluster or table, or lost counts.
FEWER_SHARE = 0.5
# Above this multiple of the client's reads, someone else is reading the table too.
MORE_SHARE = 1.5
MIN_OPS = 100  # smaller counts are not judged


def compare(server: dict[str, Any], phases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """``(rows, warnings)`` for the measured phases of ``phases`` (summary.json entries)."""
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    replicas = server.get("replicas") or []
    for p in phases:
        if p.get("kind") == "load":
            continue
        for op, entry in sorted((p.get("ops") or {}).items()):
            sop = CLIENT_TO_SERVER_OP.get(op)
            if sop is None:
                continue
            n_server = sum((r.get("by_phase", {}).get(p["name"]) or {}).get(sop, 0) for r in replicas)
            n_client = entry.get("count") or 0
            p99s = [r["latency_us"][sop]["p99"] for r in replicas
                    if sop in (r.get("latency_us") or {}) and "p99" in r["latency_us"][sop]]
            lat = entry.get("latency_us") or {}
            write = sop in WRITE_SERVER_OPS
            rows.append({
                "phase": p["name"], "op": op, "server_op": sop, "counted": "per copy" if write else "once",
                "client_count": n_client, "server_count": n_server,
                "ratio": round(n_server / n_client, 4) if n_client else None,
                "client_service_p99_us": (lat.get("service") or {}).get("p99"),
                "client_response_p99_us": (lat.get("response") or {}).get("p99"),
                "server_p99_us": max(p99s) if p99s else None,
            })
            if n_client < MIN_OPS:
                continue
            if n_server < FEWER_SHARE * n_client:
                warnings.append(
                    f"phase {p['name']}: the servers counted {n_server:,} {sop} requests for the client's "
                    f"{n_client:,} {op} ops ({n_server / n_client:.0%}); "
                    + ("each write counts once per copy, so this is fewer than one copy: " if write else "")
                    + "is it the cluster and table the load went to? (a restarted replica server also "
                    "loses what it had counted)")
            elif not write and n_server > MORE_SHARE * n_client:
                warnings.append(
                    f"phase {p['name']}: the servers counted {n_server:,} {sop} requests for the client's "
                    f"{n_client:,} ({n_server / n_client:.0%}): another client is reading this table, or "
                    "the client retried a lot")
    return rows, warnings
