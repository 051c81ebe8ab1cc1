"""The typed core: one table's operations as blocking (greenlet-cooperative) calls.

Results are plain values (``None`` for a miss); failures raise ``PegasusError`` subclasses.
Every operation goes through ``Table._call``: route by hash, encode, send, and on a retriable
error refresh the configuration and/or back off, within the call's own deadline.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from typing import NamedTuple

import gevent

from .errors import (Busy, ClientClosed, ConnectionLost, PegasusError, ProtocolError, RequestTimeout,
                     StaleRoute, StorageError, server_error)
from .meta import MetaResolver
from .pool import ConnectionPool
from .routing import TableConfig
from .wire import messages as m
from .wire import rpc
from .wire.crc64 import crc64
from .wire.fastpath import (RequestEncoder, error_and_pairs, read_response_value, reply_error,
                            reply_result, response_error)
from .args import hash_key_arg as _hash_key
from .args import sort_keys_arg as _sort_keys
from .args import to_bytes
from .args import ttl_arg as _ttl
from .wire.keys import encode_key, expire_ts_for_ttl
from .wire.thrift import WireError

log = logging.getLogger("pgclient.table")

DEFAULT_TIMEOUT_MS = 2000  # the official Python client's default
MAX_ATTEMPTS = 16  # retries stop at the deadline or after this many attempts, whichever is first
_monotonic = time.monotonic

_ENC = {name: RequestEncoder(name) for name in rpc.RPCS}
_GET = _ENC[rpc.RPC_GET]
_PUT = _ENC[rpc.RPC_PUT]
_ACK_GET = rpc.RPC_GET + "_ACK"


def _put_frame(seqid, req, app_id, pidx, timeout, phash):
    return _PUT.update(seqid, req[0], req[1], req[2], app_id, pidx, timeout, phash)


_put_frame.rpc_name = rpc.RPC_PUT

# RocksDB status codes (protocol doc 4.3)
K_OK, K_NOT_FOUND, K_INVALID_ARGUMENT, K_INCOMPLETE, K_TRY_AGAIN = 0, 1, 4, 7, 13
_HASH_CACHE_MAX = 1 << 16


def decode_result(reply: bytes, off: int, cls, ack: str):
    """The response struct of an ERR_OK reply; a malformed one is a ProtocolError."""
    try:
        return reply_result(reply, off, cls, ack)
    except WireError as e:
        raise ProtocolError(f"unreadable {ack} reply: {e}") from e


def _rpc_name(encode) -> str:
    """The RPC an encode function belongs to (a RequestEncoder method or a tagged function)."""
    owner = getattr(encode, "__self__", encode)
    return getattr(owner, "rpc_name", "?")


class RouteChanged(Exception):
    """Internal: a request bound to one server (a scan context) can no longer go there."""


class MultiGetResult(NamedTuple):
    kvs: dict[bytes, bytes]  # sort key -> value, in the server's order
    complete: bool  # False: the server stopped on a limit and there may be more


class CheckAndSetResult(NamedTuple):
    set_succeed: bool
    check_value_returned: bool
    check_value_exist: bool
    check_value: bytes | None


class Table:
    """One Pegasus table reached through ``meta_addrs``.

    >>> t = Table(["127.0.0.1:34601"], "temp"); t.open()       # doctest: +SKIP
    >>> t.set(b"hk", b"sk", b"v"); t.get(b"hk", b"sk")          # doctest: +SKIP
    b'v'
    """

    def __init__(self, meta_addrs: list[str], table_name: str, *,
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, hub=None) -> None:
        if not isinstance(table_name, str) or not table_name:
            raise ValueError(f"table_name must be a non-empty str, not {table_name!r}")
        if timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be positive, not {timeout_ms}")
        self.table_name = table_name
        self.timeout_ms = int(timeout_ms)
        self.pool = ConnectionPool(hub)
        self.meta = MetaResolver(list(meta_addrs), table_name, self.pool, self.timeout_ms, self._apply)
        self._config: TableConfig | None = None
        self._conns: tuple = ()
        self._hashes: dict[bytes, int] = {}
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def config(self) -> TableConfig | None:
        return self._config

    def open(self, timeout_ms: int | None = None) -> TableConfig:
        """Fetch the table configuration (raises MetaError / TableNotFound)."""
        if self._closed:
            raise ClientClosed(f"table {self.table_name!r} was closed")
        deadline = _monotonic() + (timeout_ms or self.timeout_ms) / 1000.0
        return self.meta.refresh(deadline)

    def connect_all(self, timeout_ms: int | None = None) -> list[str]:
        """Open the connections to every primary now; returns the addresses that failed."""
        deadline = _monotonic() + (timeout_ms or self.timeout_ms) / 1000.0

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
        """Close every connection; calls in flight fail with ClientClosed."""
        self._closed = True
        self.meta.closed = True
        self._config = None
        self._conns = ()
        self.pool.close()

    def _apply(self, cfg: TableConfig) -> None:
        if self._closed:
            return
        conns = tuple(self.pool.get(a) if a else None for a in cfg.primaries)
        self._config, self._conns = cfg, conns
        self.pool.reconcile(cfg.addresses() | set(self.meta.metas))

    # ------------------------------------------------------------------ the one request path
    def _key_hash(self, hk: bytes, sk: bytes) -> int:
        """Routing hash of a single-record key (the L == 0 rule: empty hash key -> sort key)."""
        if not hk:
            return crc64(sk)
        h = self._hashes.get(hk)
        if h is None:
            h = crc64(hk)
            if len(self._hashes) >= _HASH_CACHE_MAX:
                self._hashes.clear()
            self._hashes[hk] = h
        return h

    def _call(self, encode, arg, hash_value: int, timeout_ms, idempotent: bool = True,
              partition: int | None = None, server=None):
        """Send one request and return ``(reply frame, body offset, connection)`` of its ERR_OK
        reply.

        ``encode`` is a ``RequestEncoder`` method; routing is by ``hash_value`` unless
        ``partition`` is given (unordered scanners). With ``server`` (a Connection) the request
        is only valid there (a scan context): ``RouteChanged`` is raised if the route moved.
        """
        if not timeout_ms or timeout_ms <= 0:  # 0 / None: the table's default
            timeout_ms = self.timeout_ms
        deadline = _monotonic() + timeout_ms / 1000.0
        attempt = 0
        retried: PegasusError | None = None
        while True:
            cfg = self._config
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
                                   rpc=_rpc_name(encode))
            except PegasusError as e:
                attempt += 1
                self._before_retry(e, cfg, deadline, attempt, idempotent, retried)
                retried = e

    def _before_retry(self, e: PegasusError, cfg: TableConfig, deadline: float, attempt: int,
                      idempotent: bool, retried: PegasusError | None) -> None:
        """Raise unless the call should be retried; refresh and back off first.

        A call that runs out of time while retrying reports the error it was retrying
        (ERR_BUSY, ERR_SESSION_RESET, ...), which says more than ERR_TIMEOUT.
        """
        if isinstance(e, RequestTimeout):
            self.meta.refresh_in_background()  # a silent primary may have moved
            raise retried or e
        if not e.retriable or attempt >= MAX_ATTEMPTS or self._closed:
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
            delay = min(0.002 * (1 << min(attempt, 6)), 0.1) * (0.5 + random.random())
            if _monotonic() + delay >= deadline:
                raise e
            gevent.sleep(delay)
        elif _monotonic() >= deadline:
            raise e

    def _result(self, reply: bytes, off: int, rpc_name: str):
        spec = rpc.RPCS[rpc_name]
        return decode_result(reply, off, spec.response, spec.ack_name)

    # ------------------------------------------------------------------ single records
    def get(self, hash_key, sort_key, timeout_ms: int | None = None) -> bytes | None:
        """The value, or None when the record does not exist (or expired)."""
        hk = hash_key if hash_key.__class__ is bytes else to_bytes(hash_key, "hash_key")
        sk = sort_key if sort_key.__class__ is bytes else to_bytes(sort_key, "sort_key")
        reply, off, _ = self._call(_GET.blob, encode_key(hk, sk), self._key_hash(hk, sk), timeout_ms)
        rv = read_response_value(reply, off)
        if rv is None:
            r = decode_result(reply, off, m.ReadResponse, _ACK_GET)
            rv = r.error, r.value
        if rv[0] == K_OK:
            return rv[1]
        if rv[0] == K_NOT_FOUND:
            return None
        raise StorageError(f"get failed with RocksDB status {rv[0]}", rv[0])

    def set(self, hash_key, sort_key, value, ttl_seconds: int = 0, timeout_ms: int | None = None) -> None:
        hk = hash_key if hash_key.__class__ is bytes else to_bytes(hash_key, "hash_key")
        sk = sort_key if sort_key.__class__ is bytes else to_bytes(sort_key, "sort_key")
        v = value if value.__class__ is bytes else to_bytes(value, "value")
        req = (encode_key(hk, sk), v, _ttl(ttl_seconds, "set") if ttl_seconds else 0)
        reply, off, _ = self._call(_put_frame, req, self._key_hash(hk, sk), timeout_ms)
        if response_error(reply, off) != K_OK:
            self._check_write(reply, off, rpc.RPC_PUT, "set")

    def remove(self, hash_key, sort_key, timeout_ms: int | None = None) -> None:
        hk, sk = to_bytes(hash_key, "hash_key"), to_bytes(sort_key, "sort_key")
        reply, off, _ = self._call(_ENC[rpc.RPC_REMOVE].blob, encode_key(hk, sk),
                                self._key_hash(hk, sk), timeout_ms)
        if response_error(reply, off) != K_OK:
            self._check_write(reply, off, rpc.RPC_REMOVE, "remove")

    def _check_write(self, reply: bytes, off: int, rpc_name: str, op: str):
        r = self._result(reply, off, rpc_name)
        if r.error != K_OK:
            raise StorageError(f"{op} failed with RocksDB status {r.error}", r.error, response=r)
        return r

    def ttl(self, hash_key, sort_key, timeout_ms: int | None = None) -> int | None:
        """Seconds left, -1 for no TTL, None when the record does not exist."""
        hk, sk = to_bytes(hash_key, "hash_key"), to_bytes(sort_key, "sort_key")
        reply, off, _ = self._call(_ENC[rpc.RPC_TTL].blob, encode_key(hk, sk), self._key_hash(hk, sk),
                                timeout_ms)
        r = self._result(reply, off, rpc.RPC_TTL)
        if r.error == K_OK:
            return r.ttl_seconds
        if r.error == K_NOT_FOUND:
            return None
        raise StorageError(f"ttl failed with RocksDB status {r.error}", r.error, response=r)

    def exist(self, hash_key, sort_key, timeout_ms: int | None = None) -> bool:
        return self.ttl(hash_key, sort_key, timeout_ms) is not None

    def incr(self, hash_key, sort_key, increment: int = 1, ttl_seconds: int = 0,
             timeout_ms: int | None = None) -> int:
        """Add ``increment`` to the integer value (missing = 0) and return the new value.

        ``ttl_seconds``: 0 keeps the record's TTL, > 0 sets it, -1 removes it.
        """
        hk, sk = to_bytes(hash_key, "hash_key"), to_bytes(sort_key, "sort_key")
        if ttl_seconds < -1:
            raise ValueError(f"incr: ttl must be -1, 0 or positive, not {ttl_seconds}")
        expire = -1 if ttl_seconds == -1 else expire_ts_for_ttl(ttl_seconds)
        req = m.IncrRequest(encode_key(hk, sk), increment, expire)
        reply, off, _ = self._call(_ENC[rpc.RPC_INCR].struct, req, self._key_hash(hk, sk), timeout_ms,
                                idempotent=False)
        r = self._check_write(reply, off, rpc.RPC_INCR, "incr")
        return r.new_value

    # ------------------------------------------------------------------ one hash key, many sort keys
    def multi_set(self, hash_key, items, ttl_seconds: int = 0, timeout_ms: int | None = None) -> None:
        """Write ``items`` (a mapping or pairs of sort key -> value) atomically under one hash key."""
        hk = _hash_key(hash_key, "multi_set")
        pairs = items.items() if isinstance(items, Mapping) else items
        kvs = [m.KeyValue(to_bytes(k, "sort_key"), to_bytes(v, "value"), None) for k, v in pairs]
        req = m.MultiPutRequest(hk, kvs, _ttl(ttl_seconds, "multi_set"))
        reply, off, _ = self._call(_ENC[rpc.RPC_MULTI_PUT].struct, req, self._key_hash(hk, b""), timeout_ms)
        self._check_write(reply, off, rpc.RPC_MULTI_PUT, "multi_set")

    def multi_del(self, hash_key, sort_keys, timeout_ms: int | None = None) -> int:
        """Remove the listed sort keys; returns the server's count (the number of keys sent)."""
        hk = _hash_key(hash_key, "multi_del")
        req = m.MultiRemoveRequest(hk, _sort_keys(sort_keys, "multi_del"), None)
        reply, off, _ = self._call(_ENC[rpc.RPC_MULTI_REMOVE].struct, req, self._key_hash(hk, b""),
                                timeout_ms)
        return self._check_write(reply, off, rpc.RPC_MULTI_REMOVE, "multi_del").count

    def sort_key_count(self, hash_key, timeout_ms: int | None = None) -> int:
        """Live records under the hash key (-1 when the server hit its time limit)."""
        hk = _hash_key(hash_key, "sort_key_count")
        reply, off, _ = self._call(_ENC[rpc.RPC_SORTKEY_COUNT].blob, hk, self._key_hash(hk, b""), timeout_ms)
        r = self._result(reply, off, rpc.RPC_SORTKEY_COUNT)
        if r.error != K_OK:
            raise StorageError(f"sort_key_count failed with RocksDB status {r.error}", r.error, response=r)
        return r.count

    def multi_get(self, hash_key, sort_keys=None, *, max_kv_count: int = 100,
                  max_kv_size: int = 1000000, no_value: bool = False,
                  timeout_ms: int | None = None) -> MultiGetResult:
        """Listed sort keys (missing ones are left out); None or empty: the whole hash key, as
        the official clients do."""
        hk = _hash_key(hash_key, "multi_get")
        keys = [] if sort_keys is None else _sort_keys(sort_keys, "multi_get")
        req = m.MultiGetRequest(hk, keys, max_kv_count, max_kv_size, no_value, b"", b"",
                                True, False, 0, b"", False)
        return self._multi_get(req, timeout_ms)

    def multi_get_range(self, hash_key, start_sort_key=b"", stop_sort_key=b"", *,
                        start_inclusive: bool = True, stop_inclusive: bool = False,
                        sort_key_filter_type: int = 0, sort_key_filter_pattern=b"",
                        no_value: bool = False, reverse: bool = False, max_kv_count: int = 100,
                        max_kv_size: int = 1000000, timeout_ms: int | None = None) -> MultiGetResult:
        """Sort keys in a range (empty stop = to the end of the hash key), filtered, optionally
        the last ones first (``reverse``; results are still in ascending order)."""
        hk = _hash_key(hash_key, "multi_get_range")
        req = m.MultiGetRequest(hk, [], max_kv_count, max_kv_size, no_value,
                                to_bytes(start_sort_key, "start_sort_key"),
                                to_bytes(stop_sort_key, "stop_sort_key"), bool(start_inclusive),
                                bool(stop_inclusive), int(sort_key_filter_type),
                                to_bytes(sort_key_filter_pattern, "sort_key_filter_pattern"), bool(reverse))
        return self._multi_get(req, timeout_ms)

    def _multi_get(self, req, timeout_ms) -> MultiGetResult:
        reply, off, _ = self._call(_ENC[rpc.RPC_MULTI_GET].struct, req, self._key_hash(req.hash_key, b""),
                                timeout_ms)
        fast = error_and_pairs(reply, off)
        if fast is not None and (fast[0] == K_OK or fast[0] == K_INCOMPLETE):
            return MultiGetResult(dict(fast[1]), fast[0] == K_OK)
        r = self._result(reply, off, rpc.RPC_MULTI_GET)
        if r.error == K_OK or r.error == K_INCOMPLETE:
            return MultiGetResult({kv.key: kv.value for kv in r.kvs}, r.error == K_OK)
        raise StorageError(f"multi_get failed with RocksDB status {r.error}", r.error, response=r)

    def check_and_set(self, hash_key, check_sort_key, check_type: int, check_operand,
                      set_sort_key, set_value, ttl_seconds: int = 0, return_check_value: bool = False,
                      timeout_ms: int | None = None) -> CheckAndSetResult:
        """Write ``set_sort_key = set_value`` if the check on ``check_sort_key`` passes.

        ``set_succeed`` is False when the check failed (nothing was written).
        """
        hk = _hash_key(hash_key, "check_and_set")
        csk = to_bytes(check_sort_key, "check_sort_key")
        ssk = to_bytes(set_sort_key, "set_sort_key")
        req = m.CheckAndSetRequest(hk, csk, int(check_type), to_bytes(check_operand, "check_operand"),
                                   ssk != csk, ssk, to_bytes(set_value, "set_value"),
                                   _ttl(ttl_seconds, "check_and_set"), bool(return_check_value))
        reply, off, _ = self._call(_ENC[rpc.RPC_CHECK_AND_SET].struct, req, self._key_hash(hk, b""),
                                timeout_ms, idempotent=False)
        r = self._result(reply, off, rpc.RPC_CHECK_AND_SET)
        if r.error not in (K_OK, K_TRY_AGAIN):
            raise StorageError(f"check_and_set failed with RocksDB status {r.error}", r.error, response=r)
        return CheckAndSetResult(r.error == K_OK, r.check_value_returned, r.check_value_exist,
                                 r.check_value if r.check_value_exist else None)

    # ------------------------------------------------------------------ many hash keys
    def batch_get(self, keys, timeout_ms: int | None = None) -> list[bytes | None]:
        """Values of ``(hash_key, sort_key)`` pairs, in order (None where missing).

        One BATCH_GET per partition, all partitions in flight at once.
        """
        cfg = self._config
        if cfg is None:
            raise ClientClosed(f"table {self.table_name!r} is closed or was never opened")
        full = [(_hash_key(hk, "batch_get"), to_bytes(sk, "sort_key")) for hk, sk in keys]
        groups: dict[int, list[int]] = {}
        for i, (hk, _) in enumerate(full):
            groups.setdefault(cfg.partition_of(self._key_hash(hk, b"")), []).append(i)
        out: list[bytes | None] = [None] * len(full)

        def fetch(indices: list[int]) -> PegasusError | None:
            req = m.BatchGetRequest([m.FullKey(*full[i]) for i in indices])
            try:
                # routed (and hashed) by the first key's hash key, as the Java client does
                reply, off, _ = self._call(_ENC[rpc.RPC_BATCH_GET].struct, req,
                                        self._key_hash(full[indices[0]][0], b""), timeout_ms)
            except PegasusError as e:
                return e
            r = self._result(reply, off, rpc.RPC_BATCH_GET)
            if r.error != K_OK:
                return StorageError(f"batch_get failed with RocksDB status {r.error}", r.error, response=r)
            found = {(d.hash_key, d.sort_key): d.value for d in r.data}
            for i in indices:
                out[i] = found.get(full[i])
            return None

        parts = list(groups.values())
        jobs = [gevent.spawn(fetch, idx) for idx in parts[1:]]
        errors = [fetch(parts[0])] if parts else []
        gevent.joinall(jobs)
        errors += [j.value if j.successful() else j.exception for j in jobs]
        for e in errors:
            if e is not None:
                raise e
        return out

    # ------------------------------------------------------------------ scanners
    def scanner(self, hash_key, start_sort_key=b"", stop_sort_key=b"", options=None):
        """A scanner over one hash key's sort-key range (see ``scanner.ScanSpec``)."""
        from .scanner import Scanner, ScanSpec

        return Scanner.for_hash_key(self, _hash_key(hash_key, "get_scanner"),
                                    to_bytes(start_sort_key, "start_sort_key"),
                                    to_bytes(stop_sort_key, "stop_sort_key"), options or ScanSpec())

    def unordered_scanners(self, max_split_count: int, options=None):
        """Scanners that together cover the whole table, each over a set of partitions."""
        from .scanner import Scanner, ScanSpec

        return Scanner.for_table(self, max_split_count, options or ScanSpec())
