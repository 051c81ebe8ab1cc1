"""What the onebox's servers measure about themselves, in the shape of Pegasus's metrics.

Names, entity ids and the JSON shape follow apache/incubator-pegasus (``src/utils/metrics.h``,
``src/utils/metrics.cpp``, ``src/server/pegasus_server_impl_init.cpp``,
``src/server/pegasus_write_service.cpp``, ``src/replica/replica.cpp``,
``src/replica/replica_stub.cpp``, ``src/replica/replica_base.cpp``); docs/onebox.md lists what
was matched and where we differ. Per-request cost is one dict lookup, one counter increment and
one ring-buffer store.

Entities: a replica server has a ``server`` entity and one ``replica`` entity per partition it
holds or held (id ``replica@APP_ID.PARTITION_INDEX``, attributes ``table_id`` and
``partition_id``); a meta server has a ``server`` entity. Counters are cumulative since the
server (re)started. Latency percentiles are taken over the last 4,096 samples of each metric
(the server's sample ring size), computed when asked (upstream recomputes them every 10 s).
Reads count on the primary that served them; writes count on every replica that applies them
(the primary and its secondaries), as upstream counts writes where mutations are applied.
"""
from __future__ import annotations

import socket
import time
import urllib.parse

from pegload.client.wire import (
    RPC_BATCH_GET,
    RPC_CHECK_AND_MUTATE,
    RPC_CHECK_AND_SET,
    RPC_GET,
    RPC_GET_SCANNER,
    RPC_INCR,
    RPC_MULTI_GET,
    RPC_MULTI_PUT,
    RPC_MULTI_REMOVE,
    RPC_PUT,
    RPC_REMOVE,
    RPC_SCAN,
    RPC_SORTKEY_COUNT,
)

CLUSTER_NAME = "onebox"
SAMPLE_SIZE = 4096  # percentile<T>::kDefaultSampleSize
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))
BRIEF_FIELDS = frozenset(("name", "value") + tuple(p for p, _ in PERCENTILES))

# rpc -> op whose `<op>_requests` / `<op>_latency_ns` it feeds; sortkey_count and the scanner
# RPCs all count as scans upstream, ttl and clear_scanner feed nothing
OP_OF_RPC = {
    RPC_GET: "get", RPC_MULTI_GET: "multi_get", RPC_BATCH_GET: "batch_get",
    RPC_SORTKEY_COUNT: "scan", RPC_GET_SCANNER: "scan", RPC_SCAN: "scan",
    RPC_PUT: "put", RPC_MULTI_PUT: "multi_put", RPC_REMOVE: "remove",
    RPC_MULTI_REMOVE: "multi_remove", RPC_INCR: "incr", RPC_CHECK_AND_SET: "check_and_set",
    RPC_CHECK_AND_MUTATE: "check_and_mutate",
}
OPS = ("get", "multi_get", "batch_get", "scan", "put", "multi_put", "remove", "multi_remove",
       "incr", "check_and_set", "check_and_mutate")
THROTTLING_COUNTERS = tuple(f"throttling_{a}_{w}_requests" for w in ("read", "write", "backup")
                            for a in ("delayed", "rejected"))
OTHER_REPLICA_COUNTERS = ("backup_requests",) + THROTTLING_COUNTERS  # besides <op>_requests
REPLICA_SERVER_COUNTERS = ("read_busy_requests", "write_busy_requests", "read_failed_requests",
                           "write_failed_requests")

_DESC = {f"{op}_requests": f"The number of {op.upper()} requests" for op in OPS}
_DESC.update({f"{op}_latency_ns": f"The latency of {op.upper()} requests" for op in OPS})
_DESC.update({
    "backup_requests": "The number of backup requests",
    "read_busy_requests": "The number of busy read requests",
    "write_busy_requests": "The number of busy write requests",
    "read_failed_requests": "The number of failed read requests",
    "write_failed_requests": "The number of failed write requests",
    "network_server_sessions": "The number of sessions from server side",
    "total_replicas": "The total number of replicas",
    "primary_replicas": "The number of primary replicas",
    "secondary_replicas": "The number of secondary replicas",
    "alive_replica_servers": "The number of alive replica servers",
    "unalive_replica_servers": "The number of unalive replica servers",
    "replica_server_disconnections": "The number of disconnections with replica servers",
})
for _n in THROTTLING_COUNTERS:
    _a, _w = _n.split("_")[1:3]
    _DESC[_n] = f"The number of {_w} requests {_a} by throttling"


class OpSample:
    """One op's ``<op>_requests`` counter and the ring of its most recent SAMPLE_SIZE latencies
    (the server's percentile keeps such a ring). The hot path touches the fields directly."""

    __slots__ = ("count", "ring", "n")

    def __init__(self) -> None:
        self.count = 0
        self.ring = [0] * SAMPLE_SIZE
        self.n = 0

    def add(self, value: int) -> None:
        self.count += 1
        self.ring[self.n & MASK] = value
        self.n += 1

    def percentiles(self) -> dict:
        """The server's rule: sort the samples, take element ``int(size * k)``; all 0 before the
        first sample."""
        size = min(self.n, SAMPLE_SIZE)
        if not size:
            return {p: 0 for p, _ in PERCENTILES}
        s = sorted(self.ring[:size])
        return {p: s[min(int(size * k), size - 1)] for p, k in PERCENTILES}


MASK = SAMPLE_SIZE - 1


class ReplicaEntity:
    """One partition's metrics on one replica server."""

    __slots__ = ("app_id", "index", "counters", "ops", "by_rpc")

    def __init__(self, app_id: int, index: int) -> None:
        self.app_id = app_id
        self.index = index
        self.counters = dict.fromkeys(OTHER_REPLICA_COUNTERS, 0)
        self.ops = {op: OpSample() for op in OPS}
        self.by_rpc = {rpc: self.ops[op] for rpc, op in OP_OF_RPC.items()}  # aliases, one lookup


class ServerMetrics:
    """The metrics one server (meta or replica) keeps; reset when it restarts."""

    def __init__(self, role: str, index: int) -> None:
        self.role = role
        self.index = index
        self.reset()

    def reset(self) -> None:
        # keyed by the Partition object (its identity hash is the cheapest key we have); cleared
        # in place, the registry's hot path holds a reference
        if hasattr(self, "replicas"):
            self.replicas.clear()
        else:
            self.replicas: dict = {}
        self.counters = dict.fromkeys(REPLICA_SERVER_COUNTERS if self.role == "replica"
                                      else ("replica_server_disconnections",), 0)

    def entity(self, part) -> ReplicaEntity:
        e = self.replicas.get(part)
        if e is None:
            e = self.replicas[part] = ReplicaEntity(part.app_id, part.index)
        return e


class MetricsRegistry:
    """Every server's metrics plus the gauges read from the cluster model at snapshot time.

    Hot path (replica_request.finish): ``read_sample(replica, part, rpc)`` /
    ``write_samples(part, rpc)`` hand back the OpSample(s) to ``add`` the latency to (None / ()
    for RPCs without metrics)."""

    def __init__(self, cluster, n_meta: int, n_replica: int) -> None:
        self.cluster = cluster
        self.metas = [ServerMetrics("meta", i) for i in range(n_meta)]
        self.replicas = [ServerMetrics("replica", i) for i in range(n_replica)]
        self.entities = [s.replicas for s in self.replicas]  # replica index -> {Partition: entity}
        self.sessions = lambda role, index: 0  # open connections; set by the runtime
        self.alive = lambda index: True  # replica liveness as the meta sees it; set by failover
        self._members: dict = {}  # Partition -> {rpc: [OpSample of each member]}
        self._members_version = -1

    # ------------------------------------------------------------------ recording
    def read_sample(self, replica: int, part, rpc: str):
        """Reads count on the serving replica."""
        e = self.replicas[replica].replicas.get(part)
        if e is None:
            e = self.replicas[replica].entity(part)
        return e.by_rpc.get(rpc)

    def write_samples(self, part, rpc: str):
        """A write counts on every replica applying it: the primary and its secondaries."""
        if self._members_version != self.cluster.version:
            self._members.clear()
            self._members_version = self.cluster.version
        by_rpc = self._members.get(part)
        if by_rpc is None:
            p = self.cluster.by_app_id[part.app_id].placements[part.index]
            ents = [self.replicas[r].entity(part) for r in (p.primary, *p.secondaries)]
            by_rpc = self._members[part] = {r: [e.by_rpc[r] for e in ents] for r in OP_OF_RPC}
        return by_rpc.get(rpc, ())

    def record_read(self, replica: int, part, rpc: str, elapsed_ns: int) -> None:
        s = self.read_sample(replica, part, rpc)
        if s is not None:
            s.add(elapsed_ns)

    def record_write(self, part, rpc: str, elapsed_ns: int) -> None:
        for s in self.write_samples(part, rpc):
            s.add(elapsed_ns)

    def count(self, replica: int, app_id: int, pidx: int, counter: str) -> None:
        part = self.cluster.by_app_id[app_id].partitions[pidx]
        self.replicas[replica].entity(part).counters[counter] += 1

    def count_reply_error(self, replica: int, is_write: bool, busy: bool) -> None:
        """``replica_stub::response_client``: busy and failed replies per direction."""
        c = self.replicas[replica].counters
        c[("write_" if is_write else "read_") + ("busy_requests" if busy else "failed_requests")] += 1

    def reset_server(self, replica: int) -> None:
        """A restarted replica server starts from zero."""
        self.replicas[replica].reset()
        self._members.clear()  # cached samples of the old entities

    # ------------------------------------------------------------------ snapshot
    def _entities(self, role: str, index: int) -> list:
        """``[(type, id, attributes, [(name, kind, value or percentiles)])]`` of one server."""
        cluster = self.cluster
        out: list = []
        if role == "meta":
            m = self.metas[index]
            alive = sum(1 for i in range(len(cluster.replicas)) if self.alive(i))
            out.append(("server", "server", {}, [
                ("alive_replica_servers", "Gauge", alive),
                ("unalive_replica_servers", "Gauge", len(cluster.replicas) - alive),
                ("replica_server_disconnections", "Counter", m.counters["replica_server_disconnections"]),
            ]))
            return out
        s = self.replicas[index]
        primary = secondary = 0
        for t in cluster.tables.values():
            for i, p in enumerate(t.placements):
                if p.primary == index:
                    primary += 1
                elif index in p.secondaries:
                    secondary += 1
                else:
                    continue
                s.entity(t.partitions[i])  # a held replica has its entity, even before traffic
        metrics = [(name, "Counter", v) for name, v in s.counters.items()]
        metrics += [("network_server_sessions", "Gauge", self.sessions("replica", index)),
                    ("total_replicas", "Gauge", primary + secondary),
                    ("primary_replicas", "Gauge", primary), ("secondary_replicas", "Gauge", secondary)]
        out.append(("server", "server", {}, metrics))
        for e in sorted(s.replicas.values(), key=lambda e: (e.app_id, e.index)):
            ms = [(name, "Counter", v) for name, v in e.counters.items()]
            ms += [(f"{op}_requests", "Counter", e.ops[op].count) for op in OPS]
            ms += [(f"{op}_latency_ns", "Percentile", e.ops[op].percentiles()) for op in OPS]
            out.append(("replica", f"replica@{e.app_id}.{e.index}",
                        {"table_id": str(e.app_id), "partition_id": str(e.index)}, ms))
        return out

    def snapshot(self, role: str, index: int, host: str, port: int, query: str) -> tuple[int, dict]:
        """``(HTTP status, JSON object)`` for ``GET /metrics?query`` on one server."""
        try:
            f = parse_filters(query)
        except ValueError as e:
            return 400, {"error_message": str(e)}
        entities = []
        for etype, eid, attrs, metrics in self._entities(role, index):
            if f.types and etype not in f.types:
                continue
            if f.ids and eid not in f.ids:
                continue
            pairs = f.attributes
            if pairs and not any(attrs.get(pairs[i]) == pairs[i + 1] for i in range(0, len(pairs), 2)):
                continue
            chosen = [m for m in metrics if not f.metrics or m[0] in f.metrics]
            if not chosen:
                continue
            entities.append({"type": etype, "id": eid, "attributes": attrs,
                             "metrics": [_encode_metric(m, f.fields) for m in sorted(chosen)]})
        return 200, {"cluster": CLUSTER_NAME, "role": role, "host": socket.gethostname(), "port": port,
                     "timestamp_ns": time.time_ns(), "entities": entities}


def _encode_metric(m, fields) -> dict:
    name, kind, value = m
    full = {"type": kind, "name": name,
            "unit": "NanoSeconds" if kind == "Percentile" else "Requests" if name.endswith("_requests")
            else "Replicas" if name.endswith("_replicas") else "Servers" if name.endswith("_servers")
            else "Sessions" if name.endswith("_sessions") else "Disconnections",
            "desc": _DESC.get(name, "")}
    if kind == "Percentile":
        full.update(value)
    else:
        full["value"] = value
    if fields is None:
        return full
    return {k: v for k, v in full.items() if k in fields}


def _split(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


class Filters:
    """The query of one ``/metrics`` request."""

    __slots__ = ("attributes", "fields", "ids", "metrics", "types")

    def __init__(self) -> None:
        self.fields: frozenset | None = None  # None: every field
        self.types: list[str] = []
        self.ids: set[str] = set()
        self.attributes: list[str] = []
        self.metrics: set[str] = set()


def parse_filters(query: str) -> Filters:
    """The query fields of ``/metrics`` (``metrics_http_service::get_metrics_handler``).
    Raises ValueError with the server's message for a bad one."""
    f = Filters()
    with_fields = False
    detail = False
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key == "with_metric_fields":
            f.fields = frozenset(_split(value)) or None
            with_fields = True
        elif key == "types":
            f.types = _split(value)
        elif key == "ids":
            f.ids = set(_split(value))
        elif key == "attributes":
            f.attributes = _split(value)
            if len(f.attributes) % 2:
                raise ValueError("the number of arguments for attributes should be even, since each "
                                 "attribute name always pairs with a value")
        elif key == "metrics":
            f.metrics = set(_split(value))
        elif key == "detail":
            if value.lower() not in ("true", "false"):
                raise ValueError("the value of detail should be a boolean value, i.e. true or false")
            detail = value.lower() == "true"
        else:
            raise ValueError(f"unknown field {key}={value}")
    if not with_fields and not detail:
        f.fields = BRIEF_FIELDS
    return f
