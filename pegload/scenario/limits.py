"""What a stock Pegasus server refuses or cuts short, and the check that refuses a scenario whose
ops can only fail (or would silently do less than the file says), naming the limit.

The server's defaults, from apache/incubator-pegasus (commit db756dc, 2026-03) and
/work/shared/docs/pegasus-server-semantics.md (§2.1, §5.9, §5.13, §6):

=================================  ==========  ================================================
limit                              default     where
=================================  ==========  ================================================
write request body                 1 MiB       ``[replication] max_allowed_write_size``,
                                               src/replica/replica_2pc.cpp:102-106 (defined),
                                               :134-146 (``request->body_size()`` over it:
                                               ERR_INVALID_DATA, nothing written)
records per multi_get call         3000        ``[pegasus.server]
                                               rocksdb_multi_get_max_iteration_count``,
                                               src/server/pegasus_server_impl_init.cpp:456-460;
                                               pegasus_server_impl.cpp:523-526 (max_kv_count
                                               capped), :841-843 (kIncomplete past it)
records per scan batch             1000        ``rocksdb_max_iteration_count``,
                                               pegasus_server_impl_init.cpp:461-465;
                                               pegasus_server_impl.cpp:1252-1255 (batch capped)
hash key length                    < 65535     src/base/pegasus_key_schema.h:43, :67
                                               (``CHECK_LT(hash_key.length(), UINT16_MAX)``:
                                               the server aborts)
=================================  ==========  ================================================

This is the scenario's own table, not an import from ``pegload.onebox.limits`` (the embedded
server's implementation of the same numbers): a scenario is validated before any target
exists, and ``scenario`` sits below ``onebox`` in the layering (docs/architecture.md); a unit
test checks that both tables agree. A cluster configured with other values is not known here:
the limits are the stock defaults.

pegload names its own hash keys (``hk`` + at least 8 digits, at most 15 bytes for the largest
``data.hash_keys``), so no scenario can reach the hash key limit; the limit is recorded for the
test that proves it.

Request sizes are lower bounds: the Thrift framing of the request (message header with the RPC
name, field headers, length prefixes) plus the keys and values it carries, counted the way the
client encodes them (a unit test checks each bound against the wire codec's real encoding).
"""
from __future__ import annotations

from collections.abc import Iterable

MAX_ALLOWED_WRITE_SIZE = 1 << 20
MULTI_GET_MAX_ITERATION_COUNT = 3000
SCAN_MAX_ITERATION_COUNT = 1000
MAX_HASH_KEY_LEN = 65535  # a hash key must be shorter than this

# Fixed Thrift bytes of each write request besides its keys and values (see the module doc)
PUT_FRAMING = 57  # + hash key + sort key + value
MULTI_PUT_FRAMING = 62  # + hash key + per record (15 + sort key + value)
MULTI_PUT_PER_RECORD = 15
CHECK_AND_SET_FRAMING = 101  # + hash key + 2 sort keys + operand + value
MULTI_REMOVE_FRAMING = 58  # + hash key + per sort key (4 + sort key)
MULTI_REMOVE_PER_KEY = 4

_WRITE_LIMIT = (f"the server's {MAX_ALLOWED_WRITE_SIZE:,}-byte write limit "
                "(max_allowed_write_size: every such write fails with ERR_INVALID_DATA)")


def key_lengths(hash_keys: int, sort_keys: int) -> tuple[int, int]:
    """Bytes of the hash keys and sort keys pegload names for this data layout."""
    from pegload.workload.keys import KeyNames  # the key format's owner (imported late: no cycle)

    names = KeyNames(hash_keys, sort_keys)
    return len(names.hash_key(0)), len(names.sort_key(0))


def put_size(hk: int, sk: int, value: int) -> int:
    return PUT_FRAMING + hk + sk + value


def multi_put_size(hk: int, sk: int, value: int, records: int) -> int:
    return MULTI_PUT_FRAMING + hk + records * (MULTI_PUT_PER_RECORD + sk + value)


def check_and_set_size(hk: int, sk: int, value: int, operand: int) -> int:
    return CHECK_AND_SET_FRAMING + hk + 2 * sk + operand + value


def multi_remove_size(hk: int, sk: int, keys: int) -> int:
    return MULTI_REMOVE_FRAMING + hk + keys * (MULTI_REMOVE_PER_KEY + sk)


def limit_problems(data, load, phases) -> list[tuple[tuple, str]]:
    """``(field path, message)`` for every op of a valid scenario that the server would refuse
    or cut short; ``data``/``load``/``phases`` are the built schema objects."""
    out: list[tuple[tuple, str]] = []
    hk, sk = key_lengths(data.hash_keys, data.sort_keys)
    value = data.value_size.max_size
    shown = _bytes(value)

    if load.enabled:
        batch = max(1, min(load.batch, data.sort_keys))
        size = put_size(hk, sk, value) if batch == 1 else multi_put_size(hk, sk, value, batch)
        if size > MAX_ALLOWED_WRITE_SIZE:
            what = "set" if batch == 1 else f"multi_set of {batch} records"
            where = ("load", "batch") if batch > 1 and put_size(hk, sk, value) <= MAX_ALLOWED_WRITE_SIZE \
                else ("data", "value_size")
            out.append((where, f"the load phase writes with a {what} of {shown} values: at least "
                               f"{size:,} bytes, over {_WRITE_LIMIT}; lower load.batch or data.value_size"))

    for i, phase in enumerate(phases):
        for op in phase.mix:
            out.extend(_op_problems(("phases", i, "mix", op.name), op, data, hk, sk, value))
    return out


def _op_problems(path: tuple, op, data, hk: int, sk: int, value: int) -> Iterable[tuple[tuple, str]]:
    p = op.params
    shown = _bytes(value)
    if op.name in ("set", "read_modify_write"):
        size = put_size(hk, sk, value)
        if size > MAX_ALLOWED_WRITE_SIZE:
            yield (("data", "value_size"), f"{op.name} writes {shown} values: a request of at least "
                                           f"{size:,} bytes, over {_WRITE_LIMIT}")
    elif op.name == "check_and_set":
        size = check_and_set_size(hk, sk, value, len(p["operand"].encode("utf-8")))
        if size > MAX_ALLOWED_WRITE_SIZE:
            yield (path + ("operand",) if put_size(hk, sk, value) <= MAX_ALLOWED_WRITE_SIZE else ("data", "value_size"),
                   f"check_and_set writes {shown} values: a request of at least {size:,} bytes, over {_WRITE_LIMIT}")
    elif op.name == "multi_set":
        n = p["sort_keys"]
        size = multi_put_size(hk, sk, value, n)
        if size > MAX_ALLOWED_WRITE_SIZE:
            yield (path + ("sort_keys",), f"{n:,} records of {shown} per multi_set make a request of at "
                                          f"least {size:,} bytes, over {_WRITE_LIMIT}; use fewer sort_keys "
                                          "or smaller values")
    elif op.name == "multi_del":
        n = p["sort_keys"]
        size = multi_remove_size(hk, sk, n)
        if size > MAX_ALLOWED_WRITE_SIZE:
            yield (path + ("sort_keys",), f"{n:,} sort keys per multi_del make a request of at least "
                                          f"{size:,} bytes, over {_WRITE_LIMIT}")
    elif op.name in ("multi_get", "multi_get_range", "get_sort_keys"):
        wanted, field = {
            "multi_get": (p.get("sort_keys"), "sort_keys"),
            "multi_get_range": (p.get("span") or data.sort_keys, "span"),
            "get_sort_keys": (data.sort_keys, "max_kv_count"),
        }[op.name]
        own_cap = p["max_kv_count"] if p["max_kv_count"] > 0 else None
        asked = min(wanted, own_cap) if own_cap is not None else wanted
        if asked > MULTI_GET_MAX_ITERATION_COUNT:
            yield (path + (field,), f"asks for up to {asked:,} records per call, but the server returns at most "
                                    f"{MULTI_GET_MAX_ITERATION_COUNT:,} (rocksdb_multi_get_max_iteration_count) "
                                    "and answers kIncomplete, so every call would fall short; ask for "
                                    f"<= {MULTI_GET_MAX_ITERATION_COUNT:,} (max_kv_count, or fewer sort keys)")
    elif op.name in ("scan", "unordered_scan"):
        batch = p["batch_size"]
        if batch > SCAN_MAX_ITERATION_COUNT:
            yield (path + ("batch_size",), f"batch_size {batch:,}: the server returns at most "
                                           f"{SCAN_MAX_ITERATION_COUNT:,} records per scan batch "
                                           "(rocksdb_max_iteration_count), so the run would not do what "
                                           f"the file says; use batch_size <= {SCAN_MAX_ITERATION_COUNT:,}")


def _bytes(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.3g} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.3g} KiB"
    return f"{n:,}-byte"
