"""The operation catalog: every op a phase mix may use, the client call it maps to, what its key
chooser picks, and its parameters (name, type, default, limits, meaning).

This table drives validation (unknown/invalid parameters), the defaults in ``OpSpec.params``
and the schema reference in ``docs/scenarios.md`` (a test checks that every parameter here is
documented there).

Key units: ``record`` ops pick one (hash key, sort key) record; ``hash_key`` ops pick a hash key
(and a window of sort keys where they need several); ``table`` ops pick no key.

An op is defined once per layer, each layer keyed by the names of ``OPS`` (the layering of
docs/architecture.md keeps the parts apart: scenario and workload are pure, only the runner
talks to the client):

- here: its ``OpInfo`` (parameters and their validation, key unit, whether it writes);
- ``pegload.workload.makers``: its maker (how a greenlet builds its requests) and whether its
  requests depend on the key alone, so that unverified reads can be memoised;
- ``pegload.runner.ops``: its executor (the client calls, outcome, verification) and whether the
  executor reports the write's outcome to the workload itself.

Both higher layers collect their parts in an :class:`OpTable`, which refuses a part for an
unknown op or a second part for one op, and whose ``check_complete()`` (run when the module is
imported) names any op left without its part.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

# CAS check types by their protocol number; the wire enum name is "CT_" + name.upper().
CHECK_TYPES = {
    "no_check": 0,
    "value_not_exist": 1,
    "value_not_exist_or_empty": 2,
    "value_exist": 3,
    "value_not_empty": 4,
    "value_match_anywhere": 5,
    "value_match_prefix": 6,
    "value_match_postfix": 7,
    "value_bytes_less": 8,
    "value_bytes_less_or_equal": 9,
    "value_bytes_equal": 10,
    "value_bytes_greater_or_equal": 11,
    "value_bytes_greater": 12,
    "value_int_less": 13,
    "value_int_less_or_equal": 14,
    "value_int_equal": 15,
    "value_int_greater_or_equal": 16,
    "value_int_greater": 17,
}
# Sort-key filter types by protocol number (FT_NO_FILTER, FT_MATCH_ANYWHERE, _PREFIX, _POSTFIX).
FILTER_TYPES = {"none": 0, "anywhere": 1, "prefix": 2, "postfix": 3}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "bool" | "str" | "choice" | "ttl"
    default: Any
    doc: str
    min: int | None = None
    max: int | None = None
    choices: tuple = ()


@dataclass(frozen=True)
class OpInfo:
    name: str
    unit: str  # "record" | "hash_key" | "table"
    writes: bool
    call: str  # the pegload.client.Pegasus call it performs
    doc: str
    params: tuple[Param, ...] = ()

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


_TTL = Param("ttl", "ttl", None, "TTL in seconds for what this op writes; null = data.ttl, 0 = none", min=0)
_N_SORT_KEYS = Param("sort_keys", "int", 10, "sort keys per call: a window of consecutive sort keys of the hash key, "
                     "from a random start (wraps around)", min=1)
_MAX_COUNT = Param("max_kv_count", "int", 100, "max records returned (<= 0: the server cap, 3000)")
_MAX_SIZE = Param("max_kv_size", "int", 1_000_000, "max bytes returned (<= 0: the server cap)")
_NO_VALUE = Param("no_value", "bool", False, "return sort keys only, without values")
_BATCH = Param("batch_size", "int", 100, "records per scanner round trip", min=1)

OPS: dict[str, OpInfo] = {
    op.name: op
    for op in (
        OpInfo("set", "record", True, "set(hk, sk, value, ttl)", "write one record",
               (_TTL, Param("insert", "bool", False, "write a new record after the data set instead of overwriting one "
                                                     "(grows the key space; `latest` reads follow it)"))),
        OpInfo("multi_set", "hash_key", True, "multi_set(hk, {sk: value}, ttl)",
               "write several sort keys of one hash key atomically", (_N_SORT_KEYS, _TTL)),
        OpInfo("get", "record", False, "get(hk, sk)", "read one record"),
        OpInfo("multi_get", "hash_key", False, "multi_get(hk, sort_keys, max_kv_count, max_kv_size, no_value)",
               "read n sort keys of one hash key", (_N_SORT_KEYS, _NO_VALUE, _MAX_COUNT, _MAX_SIZE)),
        OpInfo("multi_get_range", "record", False,
               "multi_get_opt(hk, start_sk, stop_sk, MultiGetOptions, max_kv_count, max_kv_size)",
               "range read within one hash key, starting at the chosen record's sort key",
               (Param("span", "int", 10, "sort keys in the range [start, start+span); 0 = to the end of the hash key",
                      min=0),
                Param("start_inclusive", "bool", True, "include the start sort key"),
                Param("stop_inclusive", "bool", False, "include the stop sort key"),
                Param("reverse", "bool", False,
                      "walk backwards (the server returns the last records of the range, ascending)"),
                Param("filter_type", "choice", "none", "sort-key filter", choices=tuple(FILTER_TYPES)),
                Param("filter_pattern", "str", "", "sort-key filter pattern"),
                _NO_VALUE, _MAX_COUNT, _MAX_SIZE)),
        OpInfo("get_sort_keys", "hash_key", False, "get_sort_keys(hk, max_kv_count, max_kv_size)",
               "list the sort keys of one hash key", (_MAX_COUNT, _MAX_SIZE)),
        OpInfo("sort_key_count", "hash_key", False, "sort_key_count(hk)", "count the sort keys of one hash key"),
        OpInfo("exist", "record", False, "exist(hk, sk)", "check that a record exists"),
        OpInfo("ttl", "record", False, "ttl(hk, sk)", "read a record's remaining TTL"),
        OpInfo("remove", "record", True, "remove(hk, sk)", "delete one record"),
        OpInfo("multi_del", "hash_key", True, "multi_del(hk, sort_keys)", "delete n sort keys of one hash key",
               (_N_SORT_KEYS,)),
        OpInfo("incr", "record", True, "incr(ct_hk, sk, increment)",
               "atomic increment of a counter record; counters live under their own hash keys (prefix `ct`), "
               "so data records stay valid",
               (Param("increment", "int", 1, "the amount added"),)),
        OpInfo("check_and_set", "record", True, "check_and_set(hk, sk, check_type, operand, sk, value)",
               "conditional write: set the record's new value when the check on its current value passes",
               (Param("check_type", "choice", "value_exist", "the check", choices=tuple(CHECK_TYPES)),
                Param("operand", "str", "", "the check operand (for match/bytes/int checks)"))),
        OpInfo("read_modify_write", "record", True, "get(hk, sk), then set(hk, sk, new value)",
               "YCSB's read-modify-write: read a record and write a new value back; "
               "measured as one op from the get's start to the set's reply",
               (_TTL,)),
        OpInfo("batch_get", "record", False, "batch_get([(hk, sk), ...])",
               "read n records that may belong to different hash keys",
               (Param("records", "int", 10, "records per call, each chosen by the key distribution", min=1),)),
        OpInfo("scan", "record", False, "get_scanner(hk, start_sk, b'', ScanOptions) + get_next()",
               "hash-key scan from the chosen record's sort key, reading at most `records` records",
               (Param("records", "int", 100, "max records read before the scanner is closed", min=1),
                _BATCH, _NO_VALUE)),
        OpInfo("unordered_scan", "table", False, "get_unordered_scanners(split, ScanOptions) + get_next()",
               "whole-table scan over unordered scanners (one after another), reading at most `records` records",
               (Param("records", "int", 1000, "max records read in total", min=1),
                Param("split", "int", 1, "max_split_count: how many scanners to ask for", min=1),
                _BATCH, _NO_VALUE)),
    )
}
OP_NAMES: tuple[str, ...] = tuple(OPS)
WRITE_OPS = frozenset(name for name, op in OPS.items() if op.writes)


P = TypeVar("P")


class OpTable(dict[str, P], Generic[P]):
    """One layer's part of every op (the workload's makers, the runner's executors), keyed by the
    names of :data:`OPS`. ``what`` names the part in errors ("executor")."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def add(self, name: str, part: P) -> None:
        if name not in OPS:
            raise ValueError(f"{self.what} for {name!r}, which is not an operation of pegload.scenario.ops.OPS")
        if name in self:
            raise ValueError(f"a second {self.what} for operation {name!r}")
        self[name] = part

    def check_complete(self) -> None:
        """Raise naming every op of OPS without a part here (an op added to the catalog only)."""
        missing = [name for name in OPS if name not in self]
        if missing:
            raise RuntimeError(f"operation(s) {', '.join(missing)} have no {self.what}: every op of "
                               f"pegload.scenario.ops.OPS needs one (see docs/architecture.md, adding an op)")
