"""Read RPCs of one partition: get, multi_get, batch_get, sortkey_count, ttl
(server-semantics doc 5.8-5.12). Pure functions over a Partition and a decoded request."""
from __future__ import annotations

from pegload.client.wire import (
    BatchGetResponse,
    CountResponse,
    FullData,
    KeyValue,
    MultiGetResponse,
    ReadResponse,
    TtlResponse,
    next_prefix,
)

from . import value_schema
from .limits import (
    INT32_MAX,
    MAX_HASH_KEY_LEN,
    MULTI_GET_MAX_ITERATION_COUNT,
    MULTI_GET_MAX_ITERATION_SIZE,
    Deadline,
)
from .predicates import FT_MATCH_PREFIX, filter_matches, valid_filter_type

OK, NOT_FOUND, INVALID_ARGUMENT, INCOMPLETE = 0, 1, 4, 7
_HDR = value_schema.HEADER_LEN


def enc_prefix(hash_key: bytes) -> bytes:
    """``enc(H, "")``; callers have checked ``len(H) < 65535``."""
    n = len(hash_key)
    return bytes((n >> 8, n & 0xFF)) + hash_key


def get(part, key: bytes, server: str) -> ReadResponse:
    value = part.store.read_live(key, part.now())
    if value is None:
        return ReadResponse(NOT_FOUND, b"", part.app_id, part.index, server)
    return ReadResponse(OK, value, part.app_id, part.index, server)


def ttl(part, key: bytes, server: str) -> TtlResponse:
    now = part.now()
    rec = part.store.read_live_with_ts(key, now)
    if rec is None:
        return TtlResponse(NOT_FOUND, 0, part.app_id, part.index, server)
    ts = rec[1]
    # the server computes in u32 and hands back an i32: wrap the same way
    secs = -1 if ts == 0 else _i32(ts - now)
    return TtlResponse(OK, secs, part.app_id, part.index, server)


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def sortkey_count(part, hash_key: bytes, server: str) -> CountResponse:
    if len(hash_key) >= MAX_HASH_KEY_LEN:
        # DIVERGENCE: the real server aborts on such a hash key; we answer invalid argument
        return CountResponse(INVALID_ARGUMENT, 0, part.app_id, part.index, server)
    now = part.now()
    prefix = enc_prefix(hash_key)
    it = part.store.iterator()
    it.seek(prefix)
    count = examined = 0
    deadline = Deadline()
    while it.valid():
        k = it.key()
        if not k.startswith(prefix):
            break
        examined += 1
        ts = value_schema.expire_ts(it.value())
        if not (0 < ts <= now):
            count += 1
        if deadline.passed(examined):
            # QUIRK reproduced: the time cap reports count -1 with body status 0
            return CountResponse(OK, -1, part.app_id, part.index, server)
        it.next()
    return CountResponse(OK, count, part.app_id, part.index, server)


def batch_get(part, req, server: str) -> BatchGetResponse:
    if not req.keys:
        return BatchGetResponse(INVALID_ARGUMENT, [], part.app_id, part.index, server)
    if any(len(k.hash_key) >= MAX_HASH_KEY_LEN for k in req.keys):
        # DIVERGENCE: real server aborts; answer invalid argument
        return BatchGetResponse(INVALID_ARGUMENT, [], part.app_id, part.index, server)
    now = part.now()
    store = part.store
    data = []
    for k in req.keys:
        value = store.read_live(enc_prefix(k.hash_key) + k.sort_key, now)
        if value is not None:
            data.append(FullData(k.hash_key, k.sort_key, value))
    return BatchGetResponse(OK, data, part.app_id, part.index, server)


def multi_get(part, req, server: str) -> MultiGetResponse:
    def answer(status, kvs):
        return MultiGetResponse(status, kvs, part.app_id, part.index, server)

    if not valid_filter_type(req.sort_key_filter_type):
        return answer(INVALID_ARGUMENT, [])  # checked in both modes
    if len(req.hash_key) >= MAX_HASH_KEY_LEN:
        return answer(INVALID_ARGUMENT, [])  # DIVERGENCE: the real server aborts
    mkc = req.max_kv_count
    count_cap = mkc if 0 < mkc < MULTI_GET_MAX_ITERATION_COUNT else MULTI_GET_MAX_ITERATION_COUNT
    if req.sort_keys:
        status, kvs = _multi_get_by_keys(part, req, count_cap)
    else:
        status, kvs = _multi_get_range(part, req, count_cap)
    return answer(status, kvs)


def _multi_get_by_keys(part, req, count_cap: int):
    """Request order, duplicates kept, absent keys skipped; no server size cap in this mode."""
    size_cap = req.max_kv_size if req.max_kv_size > 0 else None
    now = part.now()
    store = part.store
    prefix = enc_prefix(req.hash_key)
    no_value = req.no_value
    kvs = []
    size = 0
    for sk in req.sort_keys:
        value = store.read_live(prefix + sk, now)
        if value is None:
            continue
        # the cap is checked before adding each live record: 7 only if one more record exists
        if len(kvs) >= count_cap or (size_cap is not None and size >= size_cap):
            return INCOMPLETE, kvs
        if no_value:
            value = b""
        kvs.append(KeyValue(sk, value))
        size += len(sk) + len(value)
    return OK, kvs


def _multi_get_range(part, req, count_cap: int):
    hash_key = req.hash_key
    prefix = enc_prefix(hash_key)
    plen = len(prefix)
    lower = prefix + req.start_sortkey
    lower_incl = req.start_inclusive
    if req.stop_sortkey:
        upper = prefix + req.stop_sortkey
        upper_incl = req.stop_inclusive
    else:  # empty stop sort key = to the end of the hash key (stop_inclusive ignored)
        upper = next_prefix(prefix)
        upper_incl = False
    ftype = req.sort_key_filter_type
    pattern = req.sort_key_filter_pattern
    if ftype == FT_MATCH_PREFIX and pattern:
        plower = prefix + pattern
        if plower > lower:
            lower, lower_incl = plower, True
        pupper = next_prefix(plower)
        if pupper <= upper:
            upper, upper_incl = pupper, False
    if lower > upper or (lower == upper and not (lower_incl and upper_incl)):
        return OK, []

    size_cap = min(req.max_kv_size if req.max_kv_size > 0 else INT32_MAX, MULTI_GET_MAX_ITERATION_SIZE)
    now = part.now()
    no_value = req.no_value
    deadline = Deadline()
    it = part.store.iterator()
    kvs = []
    size = examined = 0
    capped = False

    def take(k: bytes, raw: bytes) -> None:
        nonlocal size
        ts = value_schema.expire_ts(raw)
        if 0 < ts <= now:
            return
        sk = k[plen:]
        if not filter_matches(ftype, pattern, sk):
            return
        value = b"" if no_value else raw[_HDR:]
        kvs.append(KeyValue(sk, value))
        size += len(sk) + len(value)

    def over_cap() -> bool:
        return (len(kvs) >= count_cap or examined >= MULTI_GET_MAX_ITERATION_COUNT
                or size >= size_cap or deadline.passed(examined))

    if not req.reverse:
        it.seek(lower)
        if not lower_incl and it.valid() and it.key() == lower:
            it.next()  # the excluded start record is not examined
        while it.valid():
            k = it.key()
            if not k.startswith(prefix):
                break  # forward iteration is confined to the hash key (prefix bloom setting)
            if k > upper or (k == upper and not upper_incl):
                break
            examined += 1
            take(k, it.value())
            if k == upper:
                break  # the inclusive far bound itself: complete, even when a cap is reached
            it.next()
            if over_cap():
                capped = True
                break
        # QUIRK reproduced: "incomplete" means the iterator still sits on some record of this
        # hash key, even an expired one or one beyond the stop bound
        incomplete = capped and it.valid() and it.key().startswith(prefix)
        return (INCOMPLETE if incomplete else OK), kvs

    it.seek_for_prev(upper)
    if not upper_incl and it.valid() and it.key() == upper:
        it.prev()
    while it.valid():
        k = it.key()
        if k < lower or (k == lower and not lower_incl):
            break
        examined += 1
        take(k, it.value())
        if k == lower:
            break
        it.prev()
        if over_cap():
            capped = True
            break
    kvs.reverse()  # reverse mode still answers in ascending order
    # reverse iteration is not confined to the hash key: any earlier record of the partition
    incomplete = capped and it.valid()
    return (INCOMPLETE if incomplete else OK), kvs
