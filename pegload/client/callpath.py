"""The one request path of a table, shared by the typed core (``table.py``) and its scanners.

``CallPath.call`` routes a request by hash (or to a given partition), encodes it, sends it over
the partition primary's connection and returns the ERR_OK reply. On a retriable error it
refreshes the configuration and/or backs off and tries again, all within the call's own
deadline; every retry is counted in ``counters`` (``counters.py``). The policy, in one place:

* ``StaleRoute`` (the replica is not the primary; no primary known) and ``ConnectionLost``
  refresh the configuration (single flight, see ``meta.py``), then retry: at once the first
  time, with back-off after that.
* ``Busy`` retries after an exponential back-off (2-6 ms, doubling, capped at 100 ms, jittered).
* A ``ConnectionLost`` whose request may have left is not retried for non-idempotent calls
  (incr, check_and_set): the write may have been applied.
* ``RequestTimeout`` ends the call (the deadline is the call's) and starts a background refresh,
  since a silent primary may have moved. A call that runs out of time while retrying reports
  the error it was retrying (ERR_BUSY, ERR_SESSION_RESET, ...), which says more than ERR_TIMEOUT.
* At most ``MAX_ATTEMPTS`` tries; a back-off that would end past the deadline is not taken.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import gevent

from .connection import Connection
from .counters import RetryCounters
from .errors import (
    Busy,
    ClientClosed,
    ConnectionLost,
    PegasusError,
    ProtocolError,
    RequestTimeout,
    StaleRoute,
    server_error,
)
from .meta import MetaResolver
from .pool import ConnectionPool
from .routing import TableConfig
from .wire import rpc
from .wire.fastpath import reply_error, reply_result
from .wire.thrift import WireError

log = logging.getLogger("pgclient.table")

DEFAULT_TIMEOUT_MS = 2000  # the official Python client's default
MAX_ATTEMPTS = 16  # retries stop at the deadline or after this many attempts, whichever is first
BACKOFF_BASE_S = 0.002  # doubled per attempt up to BACKOFF_MAX_S, then jittered by 0.5-1.5x
BACKOFF_MAX_S = 0.1
_monotonic = time.monotonic

# The client operation a retry is counted under, by RPC; calls that share an RPC with another
# operation name themselves (``op=``: exist, multi_get_range).
OP_OF_RPC = {
    rpc.RPC_GET: "get", rpc.RPC_PUT: "set", rpc.RPC_REMOVE: "remove", rpc.RPC_TTL: "ttl",
    rpc.RPC_INCR: "incr", rpc.RPC_MULTI_PUT: "multi_set", rpc.RPC_MULTI_REMOVE: "multi_del",
    rpc.RPC_SORTKEY_COUNT: "sort_key_count", rpc.RPC_MULTI_GET: "multi_get",
    rpc.RPC_CHECK_AND_SET: "check_and_set", rpc.RPC_CHECK_AND_MUTATE: "check_and_mutate",
    rpc.RPC_BATCH_GET: "batch_get", rpc.RPC_GET_SCANNER: "scan", rpc.RPC_SCAN: "scan",
}

# ``factory(address, on_reconnect)`` -> a connection (``Connection`` or a test fake)
ConnectionFactory = Callable[[str, Callable[[], None]], Connection]


class RouteChanged(Exception):
    """Internal: a request bound to one server (a scan context) can no longer go there."""


def decode_result(reply: bytes, off: int, cls, ack: str):
    """The response struct of an ERR_OK reply; a malformed one is a ProtocolError."""
    try:
        return reply_result(reply, off, cls, ack)
    except WireError as e:
        raise ProtocolError(f"unreadable {ack} reply: {e}") from e


def rpc_name_of(encode) -> str:
    """The RPC an encode function belongs to (a RequestEncoder method or a tagged function)."""
    owner = getattr(encode, "__self__", encode)
    return getattr(owner, "rpc_name", "?")


class CallPath:
    """Routing state (the current ``TableConfig`` and a connection per partition), the meta
    resolver that refreshes it, the connection pool, the retry counters, and ``call``."""

    def __init__(self, meta_addrs: list[str], table_name: str, timeout_ms: int, *,
                 connection_factory: ConnectionFactory | None = None, hub=None) -> None:
        self.table_name = table_name
        self.timeout_ms = timeout_ms
        self.counters = RetryCounters()
        reconnected = self.counters.reconnected
        if connection_factory is None:
            self.pool = ConnectionPool(lambda address: Connection(address, hub, reconnected))
        else:
            self.pool = ConnectionPool(lambda address: connection_factory(address, reconnected))
        self.meta = MetaResolver(list(meta_addrs), table_name, self.pool, timeout_ms, self._apply)
        self.config: TableConfig | None = None
        self._conns: tuple = ()
        self.closed = False

    # ------------------------------------------------------------------ configuration
    def _apply(self, cfg: TableConfig) -> None:
        if self.closed:
            return
        conns = tuple(self.pool.get(a) if a else None for a in cfg.primaries)
        self.config, self._conns = cfg, conns
        self.pool.reconcile(cfg.addresses() | set(self.meta.metas))

    def connect_all(self, deadline: float) -> list[str]:
        """Open the connections to every primary now; returns the addresses that failed."""

        def connect(conn) -> bool:
            try:
                conn.connect(deadline)
                return True
            except PegasusError as e:
                log.warning("table %r: %s", self.table_name, e)
                return False

        conns = {c for c in self._conns if c is not None and not c.is_open}
        jobs = [(c, gevent.spawn(connect, c)) for c in conns]
        gevent.joinall([j for _, j in jobs], timeout=max(deadline - _monotonic(), 0))
        return sorted(c.address for c, j in jobs if j.value is not True)

    def close(self) -> None:
        self.closed = True
        self.meta.closed = True
        self.config = None
        self._conns = ()
        self.pool.close()

    # ------------------------------------------------------------------ the one request path
    def call(self, encode, arg, hash_value: int, timeout_ms, idempotent: bool = True,
             partition: int | None = None, server=None, op: str | None = None):
        """Send one request and return ``(reply frame, body offset, connection)`` of its ERR_OK
        reply.

        ``encode`` is a ``RequestEncoder`` method; routing is by ``hash_value`` unless
        ``partition`` is given (unordered scanners). With ``server`` (a connection) the request
        is only valid there (a scan context): ``RouteChanged`` is raised if the route moved.
        ``op`` names the operation for the retry counters when its RPC does not (``OP_OF_RPC``).
        """
        if not timeout_ms or timeout_ms <= 0:  # 0 / None: the table's default
            timeout_ms = self.timeout_ms
        deadline = _monotonic() + timeout_ms / 1000.0
        attempt = 0
        retried: PegasusError | None = None
        while True:
            cfg = self.config
            if cfg is None:
                raise ClientClosed(f"table {self.table_name!r} is closed or was never opened")
            pidx = cfg.partition_of(hash_value) if partition is None else partition
            conn = self._conns[pidx]
            if server is not None and conn is not server:
                raise RouteChanged(f"partition {cfg.app_id}.{pidx} moved from {server.address}")
            try:
                if conn is None:
                    raise StaleRoute(f"partition {cfg.app_id}.{pidx} of table {self.table_name!r} "
                                     "has no primary", name="ERR_NO_PRIMARY", gpid=(cfg.app_id, pidx))
                seqid = conn.next_seqid()
                frame = encode(seqid, arg, cfg.app_id, pidx, timeout_ms, hash_value)
                reply = conn.call(seqid, frame, deadline)
                try:
                    err, off = reply_error(reply)
                except WireError as e:
                    raise ProtocolError(f"unreadable reply from {conn.address}: {e}",
                                        address=conn.address) from e
                if err is None:
                    return reply, off, conn
                raise server_error(err, address=conn.address, gpid=(cfg.app_id, pidx),
                                   rpc=rpc_name_of(encode))
            except PegasusError as e:
                attempt += 1
                self._before_retry(e, cfg, deadline, attempt, idempotent, retried)
                self.counters.retried(op or OP_OF_RPC.get(rpc_name_of(encode), "?"), e.retry_cause)
                retried = e

    def _before_retry(self, e: PegasusError, cfg: TableConfig, deadline: float, attempt: int,
                      idempotent: bool, retried: PegasusError | None) -> None:
        """Raise unless the call should be retried; refresh and back off first."""
        if isinstance(e, RequestTimeout):
            self.meta.refresh_in_background()  # a silent primary may have moved
            raise retried or e
        if not e.retriable or attempt >= MAX_ATTEMPTS or self.closed:
            raise e
        if isinstance(e, ConnectionLost) and e.sent and not idempotent:
            raise e  # the write may have been applied: do not apply it twice
        if e.refresh_meta:
            try:
                self.meta.refresh(deadline, stale_version=cfg.version)
            except PegasusError as me:
                log.warning("table %r: refresh after %s failed: %s", self.table_name, e.name, me)
        # exponential back-off with jitter; routing errors retry at once after a refresh
        if isinstance(e, Busy) or attempt > 1:
            delay = min(BACKOFF_BASE_S * (1 << min(attempt, 6)), BACKOFF_MAX_S) * (0.5 + random.random())
            if _monotonic() + delay >= deadline:
                raise e
            gevent.sleep(delay)
        elif _monotonic() >= deadline:
            raise e
