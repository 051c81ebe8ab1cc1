"""The typed core: one table's operations as blocking (greenlet-cooperative) calls.

Results are plain values (``None`` for a miss); failures raise ``PegasusError`` subclasses.
Every operation goes through the table's ``CallPath`` (``callpath.py``): route by hash, encode,
send, and on a retriable error refresh the configuration and/or back off, within the call's own
deadline. Scanners share that path; this module only builds requests and reads results.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

import gevent

from .args import hash_key_arg as _hash_key
from .args import sort_keys_arg as _sort_keys
from .args import to_bytes
from .args import ttl_arg as _ttl
from .callpath import DEFAULT_TIMEOUT_MS, CallPath, ConnectionFactory, decode_result
from .errors import ClientClosed, PegasusError, StorageError
from .routing import TableConfig
from .scanner import Scanner, ScanSpec
from .wire import messages as m
from .wire import rpc
from .wire.crc64 import crc64
from .wire.errors import K_INCOMPLETE, K_NOT_FOUND, K_OK, K_TRY_AGAIN
from .wire.fastpath import RequestEncoder, error_and_pairs, read_response_value, response_error
from .wire.keys import encode_key, expire_ts_for_ttl

__all__ = ["Table", "MultiGetResult", "CheckAndSetResult", "DEFAULT_TIMEOUT_MS"]

_monotonic = time.monotonic

_ENC = {name: RequestEncoder(name) for name in rpc.RPCS}
_GET = _ENC[rpc.RPC_GET]
_PUT = _ENC[rpc.RPC_PUT]
_ACK_GET = rpc.RPC_GET + "_ACK"


def _put_frame(seqid, req, app_id, pidx, timeout, phash):
    return _PUT.update(seqid, req[0], req[1], req[2], app_id, pidx, timeout, phash)


_put_frame.rpc_name = rpc.RPC_PUT

_HASH_CACHE_MAX = 1 << 16


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
                 timeout_ms: int = DEFAULT_TIMEOUT_MS, hub=None,
                 connection_factory: ConnectionFactory | None = None) -> None:
        """``connection_factory(address, on_reconnect)`` replaces ``Connection`` (unit tests
        pass ``testing.FakeNetwork().connection``)."""
        if not isinstance(table_name, str) or not table_name:
            raise ValueError(f"table_name must be a non-empty str, not {table_name!r}")
        if timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be positive, not {timeout_ms}")
        self.table_name = table_name
        self.timeout_ms = int(timeout_ms)
        self._path = CallPath(meta_addrs, table_name, self.timeout_ms,
                              connection_factory=connection_factory, hub=hub)
        self._call = self._path.call  # bound once: every operation goes through it
        self._hashes: dict[bytes, int] = {}

    # ------------------------------------------------------------------ lifecycle
    @property
    def config(self) -> TableConfig | None:
        return self._path.config

    @property
    def pool(self):
        """The ``ConnectionPool`` (``pool.pending_count()`` proves no call leaks)."""
        return self._path.pool

    @property
    def meta(self):
        """The ``MetaResolver`` (``meta.refresh(deadline)`` forces a refresh)."""
        return self._path.meta

    @property
    def counters(self):
        """Retry and reconnection counters (``counters.snapshot()``; see ``counters.py``)."""
        return self._path.counters

    def open(self, timeout_ms: int | None = None) -> TableConfig:
        """Fetch the table configuration (raises MetaError / TableNotFound)."""
        if self._path.closed:
            raise ClientClosed(f"table {self.table_name!r} was closed")
        deadline = _monotonic() + (timeout_ms or self.timeout_ms) / 1000.0
        return self._path.meta.refresh(deadline)

    def connect_all(self, timeout_ms: int | None = None) -> list[str]:
        """Open the connections to every primary now; returns the addresses that failed."""
        return self._path.connect_all(_monotonic() + (timeout_ms or self.timeout_ms) / 1000.0)

    def close(self) -> None:
        """Close every connection; calls in flight fail with ClientClosed."""
        self._path.close()

    # ------------------------------------------------------------------ routing hashes
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
        return self._ttl(hash_key, sort_key, timeout_ms, "ttl")

    def exist(self, hash_key, sort_key, timeout_ms: int | None = None) -> bool:
        return self._ttl(hash_key, sort_key, timeout_ms, "exist") is not None

    def _ttl(self, hash_key, sort_key, timeout_ms, op: str) -> int | None:
        hk, sk = to_bytes(hash_key, "hash_key"), to_bytes(sort_key, "sort_key")
        reply, off, _ = self._call(_ENC[rpc.RPC_TTL].blob, encode_key(hk, sk), self._key_hash(hk, sk),
                                   timeout_ms, op=op)
        r = self._result(reply, off, rpc.RPC_TTL)
        if r.error == K_OK:
            return r.ttl_seconds
        if r.error == K_NOT_FOUND:
            return None
        raise StorageError(f"{op} failed with RocksDB status {r.error}", r.error, response=r)

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
        return self._multi_get(req, timeout_ms, "multi_get")

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
        return self._multi_get(req, timeout_ms, "multi_get_range")

    def _multi_get(self, req, timeout_ms, op: str) -> MultiGetResult:
        reply, off, _ = self._call(_ENC[rpc.RPC_MULTI_GET].struct, req, self._key_hash(req.hash_key, b""),
                                   timeout_ms, op=op)
        fast = error_and_pairs(reply, off)
        if fast is not None and (fast[0] == K_OK or fast[0] == K_INCOMPLETE):
            return MultiGetResult(dict(fast[1]), fast[0] == K_OK)
        r = self._result(reply, off, rpc.RPC_MULTI_GET)
        if r.error == K_OK or r.error == K_INCOMPLETE:
            return MultiGetResult({kv.key: kv.value for kv in r.kvs}, r.error == K_OK)
        raise StorageError(f"{op} failed with RocksDB status {r.error}", r.error, response=r)

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
        cfg = self._path.config
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
    def scanner(self, hash_key, start_sort_key=b"", stop_sort_key=b"", options=None) -> Scanner:
        """A scanner over one hash key's sort-key range (see ``scanner.ScanSpec``)."""
        return Scanner.for_hash_key(self._path, _hash_key(hash_key, "get_scanner"),
                                    to_bytes(start_sort_key, "start_sort_key"),
                                    to_bytes(stop_sort_key, "stop_sort_key"), options or ScanSpec())

    def unordered_scanners(self, max_split_count: int, options=None) -> list[Scanner]:
        """Scanners that together cover the whole table, each over a set of partitions."""
        return Scanner.for_table(self._path, max_split_count, options or ScanSpec())
