"""Scanners of one partition: get_scanner, scan, clear_scanner and the context cache
(server-semantics doc 5.13-5.15).

A context keeps the live RocksDB iterator (a snapshot taken at get_scanner time, as upstream) and
every parameter of the get_scanner request. Ids are single use: each continued batch is filed
under a new id. Unused ids expire five minutes after they were issued.
"""
from __future__ import annotations

import random
import time
from collections import OrderedDict

from pegload.client.wire import KeyValue, ScanResponse

from . import value_schema
from .limits import MAX_HASH_KEY_LEN, SCAN_CONTEXT_TIMEOUT_S, SCAN_MAX_ITERATION_COUNT, Deadline
from .predicates import FT_MATCH_PREFIX, filter_matches, valid_filter_type
from .reads import enc_prefix

OK, NOT_FOUND, INVALID_ARGUMENT, INCOMPLETE = 0, 1, 4, 7
COMPLETED = -1
_HDR = value_schema.HEADER_LEN
NO_REPLY = None


class ScanContext:
    __slots__ = ("it", "stop", "stop_incl", "prefix", "hk_ftype", "hk_pattern", "sk_ftype",
                 "sk_pattern", "no_value", "return_expire_ts", "only_return_count", "batch")

    def __init__(self, **kw) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


class ScanContexts:
    """Saved scan contexts of one partition replica, by id."""

    def __init__(self, clock=time.monotonic, timeout_s: float = SCAN_CONTEXT_TIMEOUT_S) -> None:
        self._clock = clock
        self._timeout = timeout_s
        self._items: OrderedDict[int, tuple[float, ScanContext]] = OrderedDict()
        # upstream starts a per-replica counter at a random value; we keep ids positive and
        # well inside i64, as the semantics doc recommends (clients skip clear_scanner for < 0)
        self._next_id = random.randint(1, 1 << 31) << 16

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self) -> None:
        limit = self._clock() - self._timeout
        items = self._items
        while items:
            cid, (issued, _) = next(iter(items.items()))
            if issued > limit:
                break
            del items[cid]

    def put(self, ctx: ScanContext) -> int:
        self._expire()
        cid = self._next_id
        self._next_id += 1
        self._items[cid] = (self._clock(), ctx)
        return cid

    def take(self, cid: int) -> ScanContext | None:
        self._expire()
        entry = self._items.pop(cid, None)
        return None if entry is None else entry[1]

    def discard(self, cid: int) -> None:
        self._items.pop(cid, None)

    def clear(self) -> None:
        self._items.clear()


def _split(key: bytes) -> tuple[bytes, bytes]:
    # keys written through multi-key RPCs are always well formed; a PUT may store a malformed
    # encoded key, which we split leniently instead of failing the whole scan
    n = (key[0] << 8) | key[1] if len(key) >= 2 else 0
    return key[2 : 2 + n], key[2 + n :]


def _i32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def get_scanner(part, req, server: str) -> ScanResponse:
    def fail(status):
        return ScanResponse(status, [], 0, part.app_id, part.index, server)

    if not valid_filter_type(req.hash_key_filter_type) or not valid_filter_type(req.sort_key_filter_type):
        return fail(INVALID_ARGUMENT)  # context_id stays at its default 0
    start = req.start_key
    if len(start) < 2 or 2 + ((start[0] << 8) | start[1]) > len(start):
        return fail(INVALID_ARGUMENT)  # DIVERGENCE: the real server aborts on such a start key
    hk_len = (start[0] << 8) | start[1]
    full = hk_len == 0 or bool(req.full_scan)
    start_incl = req.start_inclusive
    stop, stop_incl = req.stop_key, req.stop_inclusive
    hk_pattern = req.hash_key_filter_pattern
    if req.hash_key_filter_type == FT_MATCH_PREFIX and hk_pattern:
        if len(hk_pattern) >= MAX_HASH_KEY_LEN:
            return fail(INVALID_ARGUMENT)
        raised = enc_prefix(hk_pattern)
        if raised > start:
            if not full:
                # DIVERGENCE: upstream hits an assertion (abort) for this single-hash-key case
                return fail(INVALID_ARGUMENT)
            start, start_incl = raised, True
    if start > stop or (start == stop and not (start_incl and stop_incl)):
        # QUIRK reproduced: an empty range answers context_id 0, not -1
        return fail(OK)
    bs = req.batch_size
    ctx = ScanContext(
        it=part.store.iterator(), stop=stop, stop_incl=stop_incl,
        # non-full scans never leave the start key's hash key (prefix iteration upstream)
        prefix=None if full else start[: 2 + hk_len],
        hk_ftype=req.hash_key_filter_type, hk_pattern=hk_pattern,
        sk_ftype=req.sort_key_filter_type, sk_pattern=req.sort_key_filter_pattern,
        no_value=req.no_value, return_expire_ts=bool(req.return_expire_ts),
        only_return_count=bool(req.only_return_count),
        batch=bs if 0 < bs < SCAN_MAX_ITERATION_COUNT else SCAN_MAX_ITERATION_COUNT,
    )
    # validate_partition_hash only matters while split validation is on (a table env that the
    # onebox never sets), so it has no effect here, as on a default server
    it = ctx.it
    it.seek(start)
    if not start_incl and it.valid() and it.key() == start:
        it.next()
    return _walk(part, ctx, SCAN_MAX_ITERATION_COUNT, server)


def scan(part, req, server: str) -> ScanResponse:
    ctx = part.scanners.take(req.context_id)
    if ctx is None:
        return ScanResponse(NOT_FOUND, [], 0, part.app_id, part.index, server)
    # in scan the examined-record cap equals the batch size
    return _walk(part, ctx, ctx.batch, server)


def clear_scanner(part, context_id: int, server: str):
    part.scanners.discard(context_id)
    return NO_REPLY  # never answered, also not for unknown ids


def _walk(part, ctx: ScanContext, max_examined: int, server: str) -> ScanResponse:
    now = part.now()
    it = ctx.it
    stop, stop_incl, prefix = ctx.stop, ctx.stop_incl, ctx.prefix
    hk_ftype, hk_pattern = ctx.hk_ftype, ctx.hk_pattern
    sk_ftype, sk_pattern = ctx.sk_ftype, ctx.sk_pattern
    filtering = bool((hk_ftype and hk_pattern) or (sk_ftype and sk_pattern))
    no_value, with_ts, count_only = ctx.no_value, ctx.return_expire_ts, ctx.only_return_count
    batch = ctx.batch
    deadline = Deadline()
    kvs = []
    count = examined = 0
    capped = timed_out = False
    while it.valid():
        k = it.key()
        if prefix is not None and not k.startswith(prefix):
            break
        if k > stop or (k == stop and not stop_incl):
            break
        examined += 1
        raw = it.value()
        ts = value_schema.expire_ts(raw)
        if not (0 < ts <= now):
            if filtering:
                hk, sk = _split(k)
                matched = filter_matches(hk_ftype, hk_pattern, hk) and filter_matches(sk_ftype, sk_pattern, sk)
            else:
                matched = True
            if matched:
                count += 1
                if not count_only:
                    kvs.append(KeyValue(k, b"" if no_value else raw[_HDR:], _i32(ts) if with_ts else None))
        if k == stop:
            break  # inclusive stop key processed: complete
        it.next()
        if count >= batch or examined >= max_examined:
            capped = True
            break
        if deadline.passed(examined):
            timed_out = True
            break
    kv_count = count if count_only else None
    if timed_out:
        # the time cap: partial batch, error 7, no context kept
        return ScanResponse(INCOMPLETE, kvs, 0, part.app_id, part.index, server, kv_count)
    if capped and it.valid() and (prefix is None or it.key().startswith(prefix)):
        # QUIRK reproduced: a context is kept whenever the iterator still sits on a record of the
        # iteration space, even one past the stop key; the next batch may then be empty
        context_id = part.scanners.put(ctx)
    else:
        context_id = COMPLETED
    return ScanResponse(OK, kvs, context_id, part.app_id, part.index, server, kv_count)
