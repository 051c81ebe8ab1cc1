"""Write RPCs of one partition: put, multi_put, remove, multi_remove, incr, check_and_set,
check_and_mutate (server-semantics doc 5.1-5.7).

Every write request takes a decree, rejected ones included (tables are not "atomic idempotent").
Writes of one partition are applied one after another: the server runs on one gevent hub and a
handler never yields, so read-after-acknowledged-write holds trivially.
"""
from __future__ import annotations

from pegload.client.wire import (
    CheckAndMutateResponse,
    CheckAndSetResponse,
    IncrResponse,
    MultiRemoveResponse,
    UpdateResponse,
)

from .intparse import INT64_MAX, INT64_MIN, parse_int64
from .limits import MAX_HASH_KEY_LEN
from .predicates import evaluate_check, valid_check_type
from .reads import enc_prefix

OK, INVALID_ARGUMENT = 0, 4
UT_PUT = 0
MO_PUT, MO_DELETE = 0, 1

# returned instead of a response when the real server would not reply at all
NO_REPLY = None


def put(part, req, server: str):
    decree = part.store.apply([(req.key, req.value, req.expire_ts_seconds)])
    if req.type is not None and req.type != UT_PUT:
        # QUIRK reproduced: a PUT carrying an internal update type is applied but never answered
        return NO_REPLY
    return UpdateResponse(OK, part.app_id, part.index, decree, server)


def remove(part, key: bytes, server: str) -> UpdateResponse:
    decree = part.store.apply([(key, None, 0)])
    return UpdateResponse(OK, part.app_id, part.index, decree, server)


def multi_put(part, req, server: str) -> UpdateResponse:
    store = part.store
    if not req.kvs or len(req.hash_key) >= MAX_HASH_KEY_LEN:
        # empty kvs -> 4 as upstream; an over-long hash key -> 4 (DIVERGENCE: upstream aborts)
        return UpdateResponse(INVALID_ARGUMENT, part.app_id, part.index, store.consume_decree(), server)
    prefix = enc_prefix(req.hash_key)
    ts = req.expire_ts_seconds  # per-item expire_ts_seconds are ignored, as upstream
    decree = store.apply([(prefix + kv.key, kv.value, ts) for kv in req.kvs])
    return UpdateResponse(OK, part.app_id, part.index, decree, server)


def multi_remove(part, req, server: str) -> MultiRemoveResponse:
    store = part.store
    if not req.sort_keys or len(req.hash_key) >= MAX_HASH_KEY_LEN:
        return MultiRemoveResponse(INVALID_ARGUMENT, 0, part.app_id, part.index, store.consume_decree(), server)
    prefix = enc_prefix(req.hash_key)
    decree = store.apply([(prefix + sk, None, 0) for sk in req.sort_keys])
    # count is the number of requested keys (duplicates and absent keys included), as upstream
    return MultiRemoveResponse(OK, len(req.sort_keys), part.app_id, part.index, decree, server)


def incr(part, req, server: str) -> IncrResponse:
    store = part.store
    rec = store.read_live_with_ts(req.key, part.now())
    req_ts = req.expire_ts_seconds
    if rec is None:
        base = 0
        new_ts = req_ts if req_ts > 0 else 0  # an expired record's old TTL is not reused
    else:
        value, old_ts = rec
        if value:
            parsed = parse_int64(value)
            if parsed is None:
                return IncrResponse(INVALID_ARGUMENT, 0, part.app_id, part.index, store.consume_decree(), server)
            base = parsed
        else:
            base = 0
        # 0 keeps the TTL, > 0 sets it, < 0 clears it
        new_ts = old_ts if req_ts == 0 else (req_ts if req_ts > 0 else 0)
    new_value = base + req.increment
    if new_value > INT64_MAX or new_value < INT64_MIN:
        return IncrResponse(INVALID_ARGUMENT, base, part.app_id, part.index, store.consume_decree(), server)
    decree = store.apply([(req.key, str(new_value).encode(), new_ts)])
    return IncrResponse(OK, new_value, part.app_id, part.index, decree, server)


def _check(part, req):
    """``(status, check fields)`` of a validated check_and_* request's check."""
    prefix = enc_prefix(req.hash_key)
    value = part.store.read_live(prefix + req.check_sort_key, part.now())
    exists = value is not None
    status = evaluate_check(req.check_type, exists, value or b"", req.check_operand)
    if req.return_check_value:
        fields = (True, exists, value if exists else b"")
    else:
        fields = (False, False, b"")
    return status, prefix, fields


def check_and_set(part, req, server: str) -> CheckAndSetResponse:
    store = part.store
    if not valid_check_type(req.check_type) or len(req.hash_key) >= MAX_HASH_KEY_LEN:
        return CheckAndSetResponse(INVALID_ARGUMENT, False, False, b"", part.app_id, part.index,
                                   store.consume_decree(), server)
    status, prefix, (returned, exist, value) = _check(part, req)
    if status == OK:
        sk = req.set_sort_key if req.set_diff_sort_key else req.check_sort_key
        # set_expire_ts_seconds 0 means "no TTL": an existing TTL is removed
        decree = store.apply([(prefix + sk, req.set_value, req.set_expire_ts_seconds)])
    else:
        decree = store.consume_decree()
    return CheckAndSetResponse(status, returned, exist, value, part.app_id, part.index, decree, server)


def check_and_mutate(part, req, server: str) -> CheckAndMutateResponse:
    store = part.store
    # validation order as upstream: empty list, then operations, then the check type
    invalid = (not req.mutate_list
               or any(m.operation not in (MO_PUT, MO_DELETE) for m in req.mutate_list)
               or not valid_check_type(req.check_type)
               or len(req.hash_key) >= MAX_HASH_KEY_LEN)
    if invalid:
        return CheckAndMutateResponse(INVALID_ARGUMENT, False, False, b"", part.app_id, part.index,
                                      store.consume_decree(), server)
    status, prefix, (returned, exist, value) = _check(part, req)
    if status == OK:
        decree = store.apply([
            (prefix + m.sort_key, m.value if m.operation == MO_PUT else None, m.set_expire_ts_seconds)
            for m in req.mutate_list
        ])
    else:
        decree = store.consume_decree()
    return CheckAndMutateResponse(status, returned, exist, value, part.app_id, part.index, decree, server)
