"""The servers' own view of a run: ``GET /metrics`` of every replica server, read by a thread of
the coordinator every ``interval`` and at the edges of each measured phase.

Replica servers are found as Pegasus's collector finds them: ``GET /meta/nodes`` on a meta
server (its ``details`` are keyed by replica address), joined with the replica servers the
workers read from the partition configuration. Each read asks one replica server for its
``replica`` entities of the run's table (``attributes=table_id,<app_id>``), the per-op
``<op>_requests`` counters and ``<op>_latency_ns`` percentiles (docs/server-metrics.md).

Nothing here blocks the coordinator's loop: reads run in the poller's thread, with plain
``http.client`` connections (no proxy, short timeouts); what could not be read is recorded with
the reason. :func:`summarize` turns the snapshots into ``summary.json``'s ``server`` section;
counters that go down (a restarted replica server starts from 0) count from 0 again.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pegload.report.server_view import PERCENTILES, SERVER_OPS

READ_TIMEOUT_S = 1.0
MAX_BODY = 16 * 1024 * 1024


class ReadError(Exception):
    """A server could not be read; the message says why."""


def http_get_json(addr: str, path: str, timeout: float = READ_TIMEOUT_S) -> Any:
    """``GET path`` on ``host:port`` and the decoded JSON body. Raises ReadError."""
    host, _, port = addr.rpartition(":")
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY + 1)
        if resp.status != 200:
            raise ReadError(f"HTTP {resp.status} for {path.split('?')[0]}: {body[:200].decode('latin-1')}")
        if len(body) > MAX_BODY:
            raise ReadError(f"{path.split('?')[0]} answered more than {MAX_BODY:,} bytes")
        return json.loads(body)
    except (OSError, http.client.HTTPException) as exc:
        raise ReadError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    except ValueError as exc:
        raise ReadError(f"not JSON: {exc}") from None
    finally:
        conn.close()


def metrics_path(app_id: int | None) -> str:
    names = [f"{op}_requests" for op in SERVER_OPS] + [f"{op}_latency_ns" for op in SERVER_OPS]
    query = {"types": "replica", "metrics": ",".join(names)}
    if app_id is not None:
        query["attributes"] = f"table_id,{app_id}"
    return "/metrics?" + urllib.parse.urlencode(query)


def parse_replica_metrics(body: Any) -> dict[str, Any]:
    """One server's answer -> ``{"requests": {op: n}, "latency_ns": {op: {p50..p999}},
    "partitions": k}``: counters summed over its replica entities; for percentiles (which cannot
    be merged) the highest of its partitions that served the op. Raises ReadError on a wrong
    shape."""
    if not isinstance(body, dict) or not isinstance(body.get("entities"), list):
        raise ReadError("the /metrics answer has no entities list")
    requests = dict.fromkeys(SERVER_OPS, 0)
    latency: dict[str, dict[str, float]] = {}
    parts = 0
    for ent in body["entities"]:
        if not isinstance(ent, dict) or ent.get("type") != "replica":
            continue
        parts += 1
        served = set()
        for m in ent.get("metrics") or ():
            name = m.get("name", "") if isinstance(m, dict) else ""
            if name.endswith("_requests") and name[:-9] in requests:
                v = m.get("value")
                if isinstance(v, (int, float)):
                    requests[name[:-9]] += int(v)
                    if v:
                        served.add(name[:-9])
        for m in ent.get("metrics") or ():
            name = m.get("name", "") if isinstance(m, dict) else ""
            if name.endswith("_latency_ns") and name[:-11] in served:
                mine = latency.setdefault(name[:-11], {})
                for p in PERCENTILES:
                    v = m.get(p)
                    if isinstance(v, (int, float)):
                        mine[p] = max(mine.get(p, 0), v)
    return {"requests": requests, "latency_ns": latency, "partitions": parts}


def discover(meta_addrs: list[str], known: list[str], timeout: float = READ_TIMEOUT_S) -> tuple[list[str], list[str]]:
    """``(replica addresses, problems)``: ``/meta/nodes`` of the first meta that answers, joined
    with ``known`` (from the partition configuration)."""
    problems = []
    found: list[str] = []
    for meta in meta_addrs:
        try:
            body = http_get_json(meta, "/meta/nodes", timeout)
        except ReadError as exc:
            problems.append(f"meta {meta}: /meta/nodes: {exc}")
            continue
        details = body.get("details") if isinstance(body, dict) else None
        if isinstance(details, dict):
            found = [str(a) for a in details]
            break
        problems.append(f"meta {meta}: /meta/nodes has no details")
    return sorted(set(found) | set(known)), problems


@dataclass
class Snapshot:
    """One round of reads: ``t`` (epoch s), ``label`` (``start:<phase>`` / ``end:<phase>`` at
    phase edges, None for a periodic read), per server the parsed metrics or the error."""

    t: float
    label: str | None
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class ServerPoller:
    """Reads every replica server's metrics in its own thread; see the module docstring."""

    def __init__(self, meta_addrs: list[str], known_replicas: list[str], app_id: int | None,
                 interval_s: float, *, timeout_s: float = READ_TIMEOUT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.meta_addrs = list(meta_addrs)
        self.known = list(known_replicas)
        self.app_id = app_id
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.replicas: list[str] = []
        self.snapshots: list[Snapshot] = []
        self.problems: list[str] = []  # discovery problems
        self.unavailable: str | None = None  # why nothing could be captured
        self._marks: list[tuple[float, str]] = []
        self._cv = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pegload-server-metrics", daemon=True)
        self._thread.start()

    def mark(self, label: str, at: float | None = None) -> None:
        """Read every server at ``at`` (epoch s; default now), labelled ``label``."""
        with self._cv:
            self._marks.append((self.clock() if at is None else at, label))
            self._marks.sort()
            self._cv.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Take the marks already due, then stop (waits at most ``timeout``)."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        self.replicas, self.problems = discover(self.meta_addrs, self.known, self.timeout_s)
        if not self.replicas:
            self.unavailable = "no replica server found: " + ("; ".join(self.problems) or "no meta answered")
            return
        next_periodic = self.clock()
        while True:
            with self._cv:
                while True:
                    now = self.clock()
                    due = [m for m in self._marks if m[0] <= now]
                    if due or now >= next_periodic or self._stopping:
                        break
                    upcoming = min([next_periodic] + [m[0] for m in self._marks])
                    self._cv.wait(max(min(upcoming - now, 1.0), 0.01))
                self._marks = [m for m in self._marks if m[0] > now]
                stopping = self._stopping
            for _, label in due:
                self._read(label)
            if due and now >= next_periodic:
                next_periodic = now + self.interval_s  # an edge read stands for the periodic one
            elif now >= next_periodic and not stopping:
                self._read(None)
                next_periodic = now + self.interval_s
            if stopping:
                return
            if self.unavailable:
                return

    def _read(self, label: str | None) -> None:
        snap = Snapshot(self.clock(), label)
        path = metrics_path(self.app_id)
        for addr in self.replicas:
            try:
                snap.servers[addr] = parse_replica_metrics(http_get_json(addr, path, self.timeout_s))
            except ReadError as exc:
                snap.errors[addr] = str(exc)
        if not self.snapshots and not snap.servers:
            # the first round found no server answering /metrics: the target has none (Pegasus
            # before 2.5, or not Pegasus); stop rather than knock every interval
            self.unavailable = "no replica server answered /metrics: " + "; ".join(
                f"{a}: {e}" for a, e in snap.errors.items())
        self.snapshots.append(snap)


def _delta(prev: dict[str, int] | None, cur: dict[str, int]) -> tuple[dict[str, int], bool]:
    """Requests between two reads of one server; a counter that went down was reset (the server
    restarted): what it counted since is its whole value."""
    if prev is None:
        return dict.fromkeys(cur, 0), False
    reset = any(cur.get(op, 0) < n for op, n in prev.items())
    if reset:
        return dict(cur), True
    return {op: cur.get(op, 0) - prev.get(op, 0) for op in cur}, False


def summarize(poller: ServerPoller | None, phases: list[tuple[str, float, float | None]], t0: float,
              capture: str = "auto") -> dict[str, Any]:
    """``summary.json``'s ``server`` section. ``phases``: the measured phases as ``(name,
    measured start, end)`` epoch seconds; ``t0``: the time series' origin (run start).

    Per replica server: ``requests`` (op -> requests counted between the start and end reads of
    the measured phases), ``by_phase`` (the same per phase), ``latency_us`` (op -> the
    percentiles of the last read at a phase's end: the server's sample window), ``resets`` and
    ``timeseries`` (one row per pair of consecutive reads: start offset, length, requests by op;
    None for a span with failed reads in it, whose requests are known but not when).
    """
    if capture == "off":
        return {"captured": False, "why": "server_metrics: off", "replicas": [], "errors": []}
    if poller is None:
        return {"captured": False, "why": "the run ended before the servers were read", "replicas": [], "errors": []}
    errors = [{"server": None, "error": p} for p in poller.problems]
    if poller.unavailable:
        return {"captured": False, "why": poller.unavailable, "replicas": [], "errors": errors}
    spans = {name: (start, end) for name, start, end in phases}
    replicas = []
    for addr in poller.replicas:
        prev: dict[str, int] | None = None
        prev_t: float | None = None
        total = dict.fromkeys(SERVER_OPS, 0)
        by_phase: dict[str, dict[str, int]] = {}
        rows, resets, latency = [], 0, {}
        open_phase: str | None = None
        fails: dict[str, int] = {}
        missed = False
        for snap in poller.snapshots:
            label = snap.label or ""
            if addr in snap.servers:
                cur = snap.servers[addr]["requests"]
                d, was_reset = _delta(prev, cur)
                resets += was_reset
                if prev is not None and prev_t is not None:
                    # across failed reads (a server down) the requests are known, not when: no rate
                    rows.append([round(prev_t - t0, 3), round(snap.t - prev_t, 3),
                                 None if missed else {op: n for op, n in d.items() if n}])
                    if open_phase is not None:  # the requests between the phase's edge reads
                        mine = by_phase.setdefault(open_phase, dict.fromkeys(SERVER_OPS, 0))
                        for op, n in d.items():
                            mine[op] += n
                            total[op] += n
                prev, prev_t, missed = cur, snap.t, False
                if label.startswith("end:") and label[4:] == open_phase:
                    latency = {op: {p: round(v / 1000.0, 1) for p, v in pct.items()}
                               for op, pct in snap.servers[addr]["latency_ns"].items()}
            elif addr in snap.errors:
                fails[snap.errors[addr]] = fails.get(snap.errors[addr], 0) + 1
                missed = True
            if label.startswith("start:") and label[6:] in spans:
                open_phase = label[6:]
            elif label.startswith("end:"):
                open_phase = None
        served = {op for ops in by_phase.values() for op, n in ops.items() if n}
        latency = {op: pct for op, pct in latency.items() if op in served}  # not a load phase's leftovers
        replicas.append({
            "address": addr,
            "requests": {op: n for op, n in total.items() if n},
            "by_phase": {ph: {op: n for op, n in ops.items() if n} for ph, ops in by_phase.items()},
            "latency_us": latency,
            "resets": resets,
            "timeseries": {"columns": ["start", "duration", "requests"], "rows": rows},
        })
        for why, n in fails.items():
            errors.append({"server": addr, "error": why, "reads": n})
    return {"captured": True, "interval_s": poller.interval_s, "reads": len(poller.snapshots),
            "replicas": replicas, "errors": errors}
