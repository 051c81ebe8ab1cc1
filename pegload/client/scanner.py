"""Scanners: one hash key's sort-key range, or a set of whole partitions (protocol doc 5.12).

State per partition: START (send GET_SCANNER from the range start, or just after the last key
received), CONTEXT (the server holds an iterator: send SCAN with its id), NEXT (move on). The
scanner keeps its state in its own variables and treats every context id other than -1 as an
opaque handle. A lost context (body status kNotFound), a primary move or a reconnect resumes *after the
last key received*, so every record is returned exactly once. Closing a scanner that holds a
context sends CLEAR_SCANNER without waiting (the server never answers it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .callpath import RouteChanged, decode_result
from .errors import ClientClosed, PegasusError, StorageError
from .routing import split_partitions
from .wire import messages as m
from .wire import rpc
from .wire.crc64 import crc64
from .wire.errors import K_INCOMPLETE, K_NOT_FOUND, K_OK
from .wire.fastpath import RequestEncoder, error_and_pairs, scan_context
from .wire.keys import encode_key, hash_key_upper_bound, next_prefix

_GET_SCANNER = RequestEncoder(rpc.RPC_GET_SCANNER)
_SCAN = RequestEncoder(rpc.RPC_SCAN)
_CLEAR = RequestEncoder(rpc.RPC_CLEAR_SCANNER)
_ACK_GET_SCANNER = rpc.RPC_GET_SCANNER + "_ACK"
_ACK_SCAN = rpc.RPC_SCAN + "_ACK"

_START, _CONTEXT, _NEXT, _FINISHED = "start", "context", "next", "finished"
_COMPLETED = -1  # context id meaning "this partition's range is exhausted"
_MAX_RESTARTS_WITHOUT_PROGRESS = 3
_FT_PREFIX = 2
_WHOLE_TABLE = (b"\x00\x00", b"\xff\xff")  # every encoded key sorts in [0000, ffff)


@dataclass(frozen=True)
class ScanSpec:
    """Immutable scan parameters (the facade's ``ScanOptions`` is copied into one)."""

    timeout_ms: int = 5000
    batch_size: int = 1000
    start_inclusive: bool = True
    stop_inclusive: bool = False
    no_value: bool = False
    hash_key_filter_type: int = 0
    hash_key_filter_pattern: bytes = b""
    sort_key_filter_type: int = 0
    sort_key_filter_pattern: bytes = b""


def _range_empty(start: bytes, start_incl: bool, stop: bytes, stop_incl: bool) -> bool:
    return start > stop or (start == stop and not (start_incl and stop_incl))


class Scanner:
    """Iterates ``((hash_key, sort_key), value)`` in ascending key order per partition.

    ``get_next()`` returns the next record or None at the end; the scanner is also an iterator
    and a context manager (``close()`` releases the server-side context).
    """

    def __init__(self, path, partitions: list, start_key: bytes, start_inclusive: bool,
                 stop_key: bytes, stop_inclusive: bool, spec: ScanSpec, route_hash: int | None) -> None:
        self._path = path  # the table's CallPath
        self._todo = list(partitions)  # partition indices (None: route by ``route_hash``)
        self._start_key, self._start_incl = start_key, start_inclusive
        self._stop_key, self._stop_incl = stop_key, stop_inclusive
        self._spec = spec
        self._route_hash = route_hash
        self._part = None
        self._state = _NEXT
        self._context = 0
        self._context_conn = None
        self._last_key: bytes | None = None
        self._buf: list = []
        self._pos = 0
        self._restarts = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_hash_key(cls, path, hash_key: bytes, start_sort_key: bytes, stop_sort_key: bytes,
                     spec: ScanSpec) -> Scanner:
        if spec.hash_key_filter_type:
            raise ValueError("get_scanner: hash-key filters apply to unordered scanners only "
                             "(a single-hash-key scan with a hash-key prefix filter can crash a real server)")
        start, start_incl = encode_key(hash_key, start_sort_key), spec.start_inclusive
        if stop_sort_key:
            stop, stop_incl = encode_key(hash_key, stop_sort_key), spec.stop_inclusive
        else:  # empty stop sort key: to the end of the hash key
            stop, stop_incl = hash_key_upper_bound(hash_key), False
        if spec.sort_key_filter_type == _FT_PREFIX and spec.sort_key_filter_pattern:
            # the server filters anyway; narrowing the range saves it from visiting the rest
            low = encode_key(hash_key, spec.sort_key_filter_pattern)
            if low > start:
                start, start_incl = low, True
            high = next_prefix(low)
            if high and high <= stop:
                stop, stop_incl = high, False
        parts = [] if _range_empty(start, start_incl, stop, stop_incl) else [None]
        return cls(path, parts, start, start_incl, stop, stop_incl, spec, crc64(hash_key))

    @classmethod
    def for_table(cls, path, max_split_count: int, spec: ScanSpec) -> list[Scanner]:
        cfg = path.config
        if cfg is None:
            raise ClientClosed(f"table {path.table_name!r} is closed or was never opened")
        start, stop = _WHOLE_TABLE
        return [cls(path, parts, start, True, stop, False, spec, None)
                for parts in split_partitions(cfg.partition_count, max_split_count)]

    # ------------------------------------------------------------------ iteration
    def get_next(self):
        """The next ``((hash_key, sort_key), value)``, or None when the scan is finished."""
        while self._pos >= len(self._buf):
            if not self._fetch():
                return None
        key, value = self._buf[self._pos]
        self._pos += 1
        n = (key[0] << 8) | key[1]
        return (key[2 : 2 + n], key[2 + n :]), value

    def __iter__(self):
        # a generator over whole batches: one resume per record instead of two method calls
        while True:
            buf = self._buf
            i, n = self._pos, len(buf)
            while i < n:
                key, value = buf[i]
                i += 1
                self._pos = i
                k = (key[0] << 8) | key[1]
                yield (key[2 : 2 + k], key[2 + k :]), value
                if self._buf is not buf:  # closed (or reset) by the consumer meanwhile
                    break
            if self._pos >= len(self._buf) and not self._fetch():
                return

    def __next__(self):
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop scanning; a server-side context still held is released (never awaited)."""
        if self._state is _CONTEXT:
            conn = self._context_conn
            if conn is not None and conn.is_open:
                cfg = self._path.config
                if cfg is not None:
                    pidx = self._partition_index(cfg)
                    frame = _CLEAR.i64(conn.next_seqid(), self._context, cfg.app_id, pidx,
                                       self._spec.timeout_ms, self._header_hash(pidx))
                    try:
                        conn.send_oneway(frame, time.monotonic() + self._spec.timeout_ms / 1000.0)
                    except PegasusError:
                        pass  # the server drops the context by itself after 5 minutes
        self._state = _FINISHED
        self._buf = []
        self._pos = 0
        self._todo = []

    # ------------------------------------------------------------------ fetching
    def _partition_index(self, cfg) -> int:
        return cfg.partition_of(self._route_hash) if self._part is None else self._part

    def _header_hash(self, pidx: int) -> int:
        # single hash key: the start key's routing hash; whole partitions: the partition index,
        # which is what split validation checks (``hash & (count-1) == index``), as Go and Java send
        return self._route_hash if self._part is None else pidx

    def _fetch(self) -> bool:
        """Fill the buffer with the next non-empty batch; False when everything was read."""
        while True:
            state = self._state
            if state is _FINISHED:
                return False
            if state is _NEXT:
                if not self._todo:
                    self._state = _FINISHED
                    return False
                self._part = self._todo.pop(0)
                self._last_key = None
                self._restarts = 0
                self._state = _START
                continue
            if state is _START:
                if self._last_key is None:
                    start, start_incl = self._start_key, self._start_incl
                else:
                    start, start_incl = self._last_key, False
                    if _range_empty(start, False, self._stop_key, self._stop_incl):
                        self._state = _NEXT
                        continue
                s = self._spec
                req = m.GetScannerRequest(start, self._stop_key, start_incl, self._stop_incl,
                                          s.batch_size, s.no_value, s.hash_key_filter_type,
                                          s.hash_key_filter_pattern, s.sort_key_filter_type,
                                          s.sort_key_filter_pattern)
                error, kvs, context = self._rpc(_GET_SCANNER.struct, req, _ACK_GET_SCANNER)
            else:
                try:
                    error, kvs, context = self._rpc(_SCAN.struct, m.ScanRequest(self._context),
                                                    _ACK_SCAN, self._context_conn)
                except RouteChanged:
                    # the context lives on the old primary; resume after the last key instead of
                    # sending its id to a server where it may name another scan's iterator
                    self._state = _START
                    continue
            if error == K_OK or (error == K_INCOMPLETE and kvs):
                # kIncomplete: the server's time limit cut the batch; resume after it
                if kvs:
                    self._last_key = kvs[-1][0]
                    self._restarts = 0
                if error == K_INCOMPLETE:
                    self._state = _START
                elif context == _COMPLETED:
                    self._state = _NEXT
                else:
                    self._state, self._context = _CONTEXT, context
                if kvs:
                    self._buf, self._pos = kvs, 0
                    return True
            elif error == K_NOT_FOUND and state is _CONTEXT:
                # the context expired or lives on a server that is no longer the primary
                self._restarts += 1
                if self._restarts > _MAX_RESTARTS_WITHOUT_PROGRESS:
                    raise StorageError("scan context lost repeatedly without progress", K_NOT_FOUND)
                self._state = _START
            else:
                raise StorageError(f"scan failed with RocksDB status {error}", error)

    def _rpc(self, encode, req, ack: str, server=None) -> tuple[int, list, int]:
        """One GET_SCANNER / SCAN: ``(error, [(full key, value), ...], context id)``."""
        part = self._part
        if part is None:
            reply, off, conn = self._path.call(encode, req, self._route_hash, self._spec.timeout_ms,
                                               server=server)
        else:
            reply, off, conn = self._path.call(encode, req, part, self._spec.timeout_ms,
                                               partition=part, server=server)
        self._context_conn = conn
        fast = error_and_pairs(reply, off)
        if fast is not None:
            context = scan_context(reply, fast[2])
            if context is not None:
                return fast[0], fast[1], context
        r = decode_result(reply, off, m.ScanResponse, ack)
        return r.error, [(kv.key, kv.value) for kv in r.kvs], r.context_id
