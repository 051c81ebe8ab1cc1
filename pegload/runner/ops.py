"""Op executors: one function per scenario op that sends an ``Op`` (pegload.workload) through
the client and says what came back.

Each executor returns ``(outcome, nbytes, verification failures)``; ``outcome`` is
:data:`~pegload.metrics.OK` (a hit, for reads), :data:`~pegload.metrics.MISS` (found nothing,
or a check_and_set whose check did not pass) or, through the caller, the Pegasus error name of
the exception the client raised. ``nbytes`` counts value bytes written or read.

The executors call the client's typed core (``Pegasus(...).table``, the object behind every
facade call) rather than the facade's ``(code, value)`` tuples: the facade returns RocksDB
statuses as raw numbers that collide with its own error codes (status 4 and ERR_APP_NOT_EXIST
are both 4), while the core's exceptions carry the exact name (``ERR_TIMEOUT``,
``ROCKSDB_STATUS_4``) the report must show.

Verification: every write tells the workload whether it was applied (``ww.complete``), every
read hands what it got to ``ww.check_*``; a verdict other than correct counts as one
verification failure, and the first few are kept with their reason for the report. For most
writes the caller reports the outcome (applied when no exception came back); an executor
registered with ``completes_itself=True`` reports it itself, because its outcome is more than
success (check_and_set's check may fail, incr returns a value to verify, read_modify_write sends
two requests).

Each executor is registered for its op with ``@executes(name)`` into :data:`EXECUTORS`, an
``OpTable`` keyed by the op catalog (``pegload.scenario.ops``); importing this module fails
naming any op of the catalog left without an executor.
"""
from __future__ import annotations

from collections.abc import Callable

from pegload.client.scanner import ScanSpec
from pegload.metrics import MISS, OK
from pegload.scenario import CHECK_TYPES, FILTER_TYPES
from pegload.scenario.ops import OpTable
from pegload.workload import Op, VerifyResult, WorkerWorkload

Result = tuple[str, int, int]
Executor = Callable[[object, Op, WorkerWorkload, "Failures"], Result]

EXECUTORS: OpTable[Executor] = OpTable("executor")
_self_completing: set[str] = set()


def executes(name: str, *, completes_itself: bool = False) -> Callable[[Executor], Executor]:
    """Register the decorated function as the executor of op ``name``; ``completes_itself``: it
    calls ``ww.complete`` itself (otherwise the caller does, for writes)."""

    def register(fn: Executor) -> Executor:
        EXECUTORS.add(name, fn)
        if completes_itself:
            _self_completing.add(name)
        return fn

    return register


# the client raised: did the write land? Unknown (None) keeps verification lenient.
APPLIED_UNKNOWN = None


class Failures:
    """Verification failures: a count per op plus the first ``keep`` examples with reasons."""

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self.examples: list[str] = []

    def judge(self, op: Op, hk: bytes, sk: bytes, verdict: VerifyResult | None) -> int:
        """1 if ``verdict`` is a failure (kept as an example while there is room), else 0."""
        if verdict is None or verdict.ok:
            return 0
        if len(self.examples) < self.keep:
            key = f"{hk.decode('ascii', 'backslashreplace')}/{sk.decode('ascii', 'backslashreplace')}"
            self.examples.append(f"{op.name} {key}: {verdict.status}: {verdict.reason}")
        return 1


@executes("set")
def _set(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    t.set(op.hash_key, op.sort_key, op.value, op.ttl or 0)
    return OK, len(op.value), 0


@executes("multi_set")
def _multi_set(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    t.multi_set(op.hash_key, op.values, op.ttl or 0)
    return OK, sum(len(v) for v in op.values.values()), 0


@executes("get")
def _get(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    v = t.get(op.hash_key, op.sort_key)
    if ww.verify is None:
        return (MISS, 0, 0) if v is None else (OK, len(v), 0)
    bad = f.judge(op, op.hash_key, op.sort_key, ww.check_point(op, op.hash_key, op.sort_key, v))
    return (MISS, 0, bad) if v is None else (OK, len(v), bad)


@executes("exist")
def _exist(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    present = t.exist(op.hash_key, op.sort_key)
    bad = f.judge(op, op.hash_key, op.sort_key, ww.check_presence(op, op.hash_key, op.sort_key, present))
    return (OK if present else MISS), 0, bad


@executes("ttl")
def _ttl(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    ttl = t.ttl(op.hash_key, op.sort_key)
    bad = f.judge(op, op.hash_key, op.sort_key,
                  ww.check_presence(op, op.hash_key, op.sort_key, ttl is not None))
    return (MISS if ttl is None else OK), 0, bad


@executes("multi_get")
def _multi_get(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    r = t.multi_get(op.hash_key, op.sort_keys, max_kv_count=p["max_kv_count"],
                    max_kv_size=p["max_kv_size"], no_value=p["no_value"])
    bad = 0
    if ww.verify is not None and r.complete:  # a limit that cut the answer short hides absences
        for sk in op.sort_keys:
            v = r.kvs.get(sk)
            verdict = (ww.check_presence(op, op.hash_key, sk, v is not None) if p["no_value"]
                       else ww.check_point(op, op.hash_key, sk, v))
            bad += f.judge(op, op.hash_key, sk, verdict)
    return (OK if r.kvs else MISS), sum(len(v) for v in r.kvs.values()), bad


@executes("multi_get_range")
def _multi_get_range(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    r = t.multi_get_range(op.hash_key, op.sort_key, op.stop_sort_key,
                          start_inclusive=p["start_inclusive"], stop_inclusive=p["stop_inclusive"],
                          sort_key_filter_type=FILTER_TYPES[p["filter_type"]],
                          sort_key_filter_pattern=p["filter_pattern"], no_value=p["no_value"],
                          reverse=p["reverse"], max_kv_count=p["max_kv_count"], max_kv_size=p["max_kv_size"])
    bad = 0
    if ww.verify is not None and not p["no_value"]:
        for sk, v in r.kvs.items():
            bad += f.judge(op, op.hash_key, sk, ww.check_scanned(op, op.hash_key, sk, v))
    return (OK if r.kvs else MISS), sum(len(v) for v in r.kvs.values()), bad


@executes("get_sort_keys")
def _get_sort_keys(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    r = t.multi_get(op.hash_key, None, max_kv_count=p["max_kv_count"], max_kv_size=p["max_kv_size"],
                    no_value=True)
    return (OK if r.kvs else MISS), 0, 0


@executes("sort_key_count")
def _sort_key_count(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    return (OK if t.sort_key_count(op.hash_key) else MISS), 0, 0


@executes("remove")
def _remove(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    t.remove(op.hash_key, op.sort_key)
    return OK, 0, 0


@executes("multi_del")
def _multi_del(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    t.multi_del(op.hash_key, op.sort_keys)
    return OK, 0, 0


@executes("batch_get")
def _batch_get(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    values = t.batch_get(op.records)
    bad, nbytes, hits = 0, 0, 0
    for (hk, sk), v in zip(op.records, values):
        if v is not None:
            hits += 1
            nbytes += len(v)
        bad += f.judge(op, hk, sk, ww.check_point(op, hk, sk, v))
    return (OK if hits else MISS), nbytes, bad


def _scan_spec(p: dict) -> ScanSpec:
    return ScanSpec(batch_size=p["batch_size"], no_value=p["no_value"])


def _drain(scanners, limit: int, op: Op, ww: WorkerWorkload, f: Failures, no_value: bool) -> Result:
    """Read up to ``limit`` records from the scanners one after another, then close them all."""
    read = nbytes = bad = 0
    try:
        for scanner in scanners:
            while read < limit:
                item = scanner.get_next()
                if item is None:
                    break
                (hk, sk), v = item
                read += 1
                nbytes += len(v)
                if not no_value:
                    bad += f.judge(op, hk, sk, ww.check_scanned(op, hk, sk, v))
            if read >= limit:
                break
    finally:
        for scanner in scanners:
            scanner.close()
    return (OK if read else MISS), nbytes, bad


@executes("scan")
def _scan(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    scanner = t.scanner(op.hash_key, op.sort_key, b"", _scan_spec(p))
    return _drain([scanner], p["records"], op, ww, f, p["no_value"])


@executes("unordered_scan")
def _unordered_scan(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    scanners = t.unordered_scanners(p["split"], _scan_spec(p))
    return _drain(scanners, p["records"], op, ww, f, p["no_value"])


@executes("incr", completes_itself=True)
def _incr(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    try:
        new_value = t.incr(op.hash_key, op.sort_key, op.increment, 0)
    except BaseException:
        ww.complete(op, APPLIED_UNKNOWN)
        raise
    bad = f.judge(op, op.hash_key, op.sort_key, ww.complete(op, True, new_value))
    return OK, 0, bad


@executes("check_and_set", completes_itself=True)
def _check_and_set(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    p = op.params
    try:
        r = t.check_and_set(op.hash_key, op.sort_key, CHECK_TYPES[p["check_type"]], p["operand"],
                            op.sort_key, op.value, op.ttl or 0, False)
    except BaseException:
        ww.complete(op, APPLIED_UNKNOWN)
        raise
    ww.complete(op, r.set_succeed)
    return (OK, len(op.value), 0) if r.set_succeed else (MISS, 0, 0)


@executes("read_modify_write", completes_itself=True)
def _read_modify_write(t, op: Op, ww: WorkerWorkload, f: Failures) -> Result:
    try:
        v = t.get(op.hash_key, op.sort_key)
    except BaseException:
        ww.complete(op, False)  # the write was never sent
        raise
    bad = f.judge(op, op.hash_key, op.sort_key, ww.check_point(op, op.hash_key, op.sort_key, v))
    try:
        t.set(op.hash_key, op.sort_key, op.value, op.ttl or 0)
    except BaseException:
        ww.complete(op, APPLIED_UNKNOWN)
        raise
    ww.complete(op, True)
    return OK, len(op.value) + (len(v) if v else 0), bad


# ops whose executor calls ww.complete itself; for the other writes the caller does it
SELF_COMPLETING = frozenset(_self_completing)
EXECUTORS.check_complete()
