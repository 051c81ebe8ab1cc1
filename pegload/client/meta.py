"""Fetching a table's configuration from the meta servers (protocol doc 3.1).

``MetaResolver.refresh`` is single-flight: callers that find a refresh in progress wait for it
instead of querying again, and a caller whose failed request used config version ``v`` returns
at once when a newer version has arrived meanwhile. Queries go to the last known leader first,
then to the other metas in list order; ``ERR_FORWARD_TO_OTHERS`` replies are followed to the
leader they name (which joins the list if it was not in it).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gevent
from gevent.event import AsyncResult

from .errors import ClientClosed, MetaError, PegasusError, server_error
from .pool import ConnectionPool
from .routing import TableConfig, primary_address
from .wire.errors import (
    ERR_BUSY_CREATING,
    ERR_FORWARD_TO_OTHERS,
    ERR_SERVICE_NOT_ACTIVE,
    ERR_UNDER_RECOVERY,
)
from .wire.fastpath import RequestEncoder, reply_error, reply_result
from .wire.messages import QueryCfgRequest, QueryCfgResponse, parse_address
from .wire.rpc import RPC_QUERY_CFG

log = logging.getLogger("pgclient.meta")

_ENCODER = RequestEncoder(RPC_QUERY_CFG)
_ACK = RPC_QUERY_CFG + "_ACK"
# Shortest gap between two queries for the same table: a burst of failing calls after a
# primary move costs one query, not one per call.
MIN_REFRESH_INTERVAL_S = 0.05
# Meta replies that mean "ask another meta server".
_TRY_NEXT = frozenset((ERR_SERVICE_NOT_ACTIVE, ERR_UNDER_RECOVERY, ERR_BUSY_CREATING, ERR_FORWARD_TO_OTHERS))


class MetaResolver:
    """Owns the I/O of fetching ``TableConfig`` snapshots; ``on_update(config)`` sees each one."""

    def __init__(self, meta_addrs: list[str], table_name: str, pool: ConnectionPool,
                 timeout_ms: int, on_update: Callable[[TableConfig], None]) -> None:
        if isinstance(meta_addrs, str) or not meta_addrs:
            raise ValueError(f"meta_addrs must be a non-empty list of 'host:port', not {meta_addrs!r}")
        self.metas = []
        for a in meta_addrs:
            parse_address(a)  # validates
            if a not in self.metas:
                self.metas.append(a)
        self.table_name = table_name
        self._pool = pool
        self._timeout_s = timeout_ms / 1000.0
        self._on_update = on_update
        self._leader = self.metas[0]
        self.config: TableConfig | None = None
        self._inflight: AsyncResult | None = None
        self._last_query = float("-inf")
        self.queries = 0  # number of queries made (tests and stats read it)
        self.closed = False  # set by the table's close(): no more queries

    @property
    def leader(self) -> str:
        """The meta asked first: the last one that answered (or the first of the list)."""
        return self._leader

    def refresh(self, deadline: float, stale_version: int | None = None) -> TableConfig:
        """Return a config newer than ``stale_version`` (any config when None), querying the meta
        servers at most once for all concurrent callers. Raises MetaError / TableNotFound."""
        if self.closed:
            raise ClientClosed(f"table {self.table_name!r} was closed")
        gevent.get_hub().loop.update_now()  # fresh timer base for the waits below (see Connection.call)
        cfg = self.config
        if cfg is not None and stale_version is not None and cfg.version > stale_version:
            return cfg
        inflight = self._inflight
        if inflight is not None:
            try:
                return inflight.get(timeout=max(deadline - time.monotonic(), 0.0))
            except gevent.Timeout:
                raise MetaError(f"meta refresh for table {self.table_name!r} did not finish "
                                "before the deadline") from None
        self._inflight = result = AsyncResult()
        try:
            wait = self._last_query + MIN_REFRESH_INTERVAL_S - time.monotonic()
            if wait > 0:
                gevent.sleep(min(wait, max(deadline - time.monotonic(), 0.0)))
            cfg = self._query(deadline)
        except BaseException as e:
            # waiters get a PegasusError even when this greenlet was killed mid-query
            result.set_exception(e if isinstance(e, PegasusError) else
                                 MetaError(f"meta refresh for table {self.table_name!r} was interrupted"))
            raise
        else:
            self.config = cfg
            self._on_update(cfg)
            result.set(cfg)
            return cfg
        finally:
            self._inflight = None

    def refresh_in_background(self) -> None:
        """Start a refresh without waiting (after timeouts: the primary may have moved)."""
        if not self.closed and self._inflight is None and \
                time.monotonic() - self._last_query >= MIN_REFRESH_INTERVAL_S:
            gevent.spawn(self._background_refresh)

    def _background_refresh(self) -> None:
        try:
            self.refresh(time.monotonic() + self._timeout_s,
                         None if self.config is None else self.config.version)
        except PegasusError as e:
            log.warning("background refresh of table %r failed: %s", self.table_name, e)

    # ------------------------------------------------------------------ querying
    def _query(self, deadline: float) -> TableConfig:
        self._last_query = time.monotonic()
        self.queries += 1
        candidates = [self._leader] + [m for m in self.metas if m != self._leader]
        tried: set[str] = set()
        problems: list[str] = []
        while candidates:
            addr = candidates.pop(0)
            if addr in tried:
                continue
            tried.add(addr)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problems.append("deadline reached")
                break
            # give every untried meta a share of the time, so one stalled meta cannot eat it all
            share = remaining / (1 + len([c for c in candidates if c not in tried]))
            try:
                resp = self._ask(addr, time.monotonic() + max(share, min(remaining, 0.2)))
            except PegasusError as e:
                problems.append(f"{addr}: {e}")
                continue
            if resp.err in _TRY_NEXT:
                leader = self._forward_target(resp) if resp.err == ERR_FORWARD_TO_OTHERS else None
                problems.append(f"{addr}: {resp.err}" + (f" (leader {leader})" if leader else ""))
                if leader and leader not in tried:
                    if leader not in self.metas:
                        self.metas.append(leader)
                    candidates.insert(0, leader)
                continue
            version = 1 if self.config is None else self.config.version + 1
            cfg = TableConfig.from_response(self.table_name, resp, version, source=f"meta {addr}")
            if addr != self._leader:
                log.info("meta %s answered for table %r", addr, self.table_name)
                self._leader = addr
            log.info("table %r: app_id %d, %d partitions, config version %d (from %s)",
                     self.table_name, cfg.app_id, cfg.partition_count, cfg.version, addr)
            return cfg
        raise MetaError(f"no meta server gave the configuration of table {self.table_name!r}: "
                        + "; ".join(problems))

    @staticmethod
    def _forward_target(resp: QueryCfgResponse) -> str | None:
        return primary_address(resp.partitions[0]) if resp.partitions else None

    def _ask(self, addr: str, deadline: float) -> QueryCfgResponse:
        conn = self._pool.get(addr)
        seqid = conn.next_seqid()
        timeout_ms = max(int((deadline - time.monotonic()) * 1000), 1)
        frame = _ENCODER.struct(seqid, QueryCfgRequest(self.table_name, []), 0, 0, timeout_ms, 0)
        reply = conn.call(seqid, frame, deadline)
        try:
            err, off = reply_error(reply)
            if err is None:
                return reply_result(reply, off, QueryCfgResponse, _ACK)
        except ValueError as e:  # WireError
            raise MetaError(f"unreadable configuration reply from meta {addr}: {e}", address=addr) from e
        raise server_error(err, address=addr, rpc=RPC_QUERY_CFG)

