"""Op executors against an in-memory table: outcomes, bytes, errors, and verification verdicts."""
import textwrap

import pytest

from pegload.client.errors import RequestTimeout
from pegload.client.table import CheckAndSetResult, MultiGetResult
from pegload.metrics import MISS, OK
from pegload.runner.ops import EXECUTORS, SELF_COMPLETING, Failures
from pegload.scenario import OP_NAMES, OPS, load_scenario_text
from pegload.workload import Op, WorkerWorkload


class DictTable:
    """The typed-core calls the executors make, over a dict keyed by (hash_key, sort_key)."""

    def __init__(self):
        self.data = {}
        self.calls = []

    def get(self, hk, sk):
        self.calls.append("get")
        return self.data.get((hk, sk))

    def set(self, hk, sk, value, ttl=0):
        self.calls.append("set")
        self.data[(hk, sk)] = value

    def multi_set(self, hk, values, ttl=0):
        self.calls.append("multi_set")
        for sk, v in values.items():
            self.data[(hk, sk)] = v

    def exist(self, hk, sk):
        return (hk, sk) in self.data

    def ttl(self, hk, sk):
        return -1 if (hk, sk) in self.data else None

    def remove(self, hk, sk):
        self.data.pop((hk, sk), None)

    def multi_del(self, hk, sks):
        for sk in sks:
            self.data.pop((hk, sk), None)
        return len(sks)

    def _hash_key(self, hk):
        return dict(sorted((sk, v) for (h, sk), v in self.data.items() if h == hk))

    def multi_get(self, hk, sks, max_kv_count=100, max_kv_size=1000000, no_value=False):
        kvs = self._hash_key(hk)
        if sks is not None:
            kvs = {sk: kvs[sk] for sk in sks if sk in kvs}
        return MultiGetResult({k: (b"" if no_value else v) for k, v in kvs.items()}, True)

    def multi_get_range(self, hk, start, stop, **kw):
        kvs = {sk: v for sk, v in self._hash_key(hk).items() if sk >= start and (not stop or sk < stop)}
        return MultiGetResult(kvs, True)

    def sort_key_count(self, hk):
        return len(self._hash_key(hk))

    def batch_get(self, records):
        return [self.data.get(r) for r in records]

    def incr(self, hk, sk, increment, ttl=0):
        value = int(self.data.get((hk, sk), b"0")) + increment
        self.data[(hk, sk)] = str(value).encode()
        return value

    def check_and_set(self, hk, csk, check_type, operand, ssk, value, ttl, ret):
        ok = (hk, csk) in self.data  # value_exist, the default check
        if ok:
            self.data[(hk, ssk)] = value
        return CheckAndSetResult(ok, False, False, None)

    def _scanner(self, items):
        class Scanner:
            closed = False

            def __init__(self):
                self.it = iter(items)

            def get_next(self):
                return next(self.it, None)

            def close(self):
                Scanner.closed = True

        return Scanner()

    def scanner(self, hk, start, stop, spec):
        return self._scanner([((hk, sk), v) for sk, v in self._hash_key(hk).items() if sk >= start])

    def unordered_scanners(self, split, spec):
        return [self._scanner(sorted(((h, s), v) for (h, s), v in self.data.items()))]


def scenario(verify: bool, mix: str = "get: 1"):
    return load_scenario_text(textwrap.dedent(f"""\
        workers: 1
        concurrency: 2
        verify: {str(verify).lower()}
        data: {{hash_keys: 4, sort_keys: 3, value_size: 40}}
        load: {{batch: 3}}
        phases:
          - duration: 1s
            mix: {{{mix}}}
        """), "unit.yaml")


def run(table, ww, op, failures):
    result = EXECUTORS[op.name](table, op, ww, failures)
    if op.name not in SELF_COMPLETING:
        ww.complete(op, True)
    return result


def load(table, ww):
    gen, f = ww.load_generator(), Failures()
    while (op := gen.next_op()) is not None:
        assert run(table, ww, op, f) == (OK, 120, 0)  # 3 values of 40 bytes per multi_set
    return f


@pytest.mark.parametrize("verify", [False, True], ids=["plain", "verified"])
@pytest.mark.parametrize("name", OP_NAMES)
def test_every_op_is_generated_executed_and_completed(name, verify):
    """The parts of each op (catalog entry, maker, executor) fit together: its ops run against a
    correct table without error or verification failure, and leave no write in flight."""
    entry = "{weight: 1, sort_keys: 2}" if "sort_keys" in OPS[name].param_names else "1"
    table, ww = DictTable(), WorkerWorkload(scenario(verify, f"{name}: {entry}"), 0)
    load(table, ww)
    gen, f = ww.phase(0).generator(0), Failures()
    for _ in range(30):
        op = gen.next_op()
        assert op.name == name
        outcome, nbytes, bad = run(table, ww, op, f)
        assert outcome in (OK, MISS) and nbytes >= 0 and bad == 0, f.examples
        if verify:
            assert all(ww.verify.begin_write(key) is not None for key, _ in op.writes or ())
            assert op.counter is None or ww.verify.begin_incr(op.counter)
            for key, version in op.writes or ():  # give the keys back as they were
                ww.verify.end_write(key, version, False)
            if op.counter is not None:
                ww.verify.end_incr(op.counter, 0, None)


def test_reads_hit_miss_and_count_bytes():
    table, ww = DictTable(), WorkerWorkload(scenario(False), 0)
    load(table, ww)
    gen = ww.phase(0).generator(0)
    op = gen.next_op()
    assert run(table, ww, op, Failures()) == (OK, 40, 0)
    table.data.clear()
    assert run(table, ww, op, Failures()) == (MISS, 0, 0)


@pytest.mark.parametrize("mix", [
    "get: 1", "exist: 1", "ttl: 1", "multi_get: {weight: 1, sort_keys: 2}", "multi_get_range: 1", "batch_get: 1",
    "scan: 1", "unordered_scan: 1", "get_sort_keys: 1", "sort_key_count: 1",
    "set: 3, get: 3, remove: 1, multi_set: {weight: 1, sort_keys: 2}, multi_del: {weight: 1, sort_keys: 2}, incr: 1, "
    "check_and_set: 1, read_modify_write: 1",
])
def test_verification_finds_nothing_wrong_in_a_correct_table(mix):
    table, ww = DictTable(), WorkerWorkload(scenario(True, mix), 0)
    load(table, ww)
    gen, f = ww.phase(0).generator(0), Failures()
    bad = sum(run(table, ww, gen.next_op(), f)[2] for _ in range(300))
    assert bad == 0, f.examples


def test_verification_catches_a_corrupted_and_a_missing_value():
    table, ww = DictTable(), WorkerWorkload(scenario(True), 0)
    load(table, ww)
    keys = sorted(table.data)
    table.data[keys[0]] = b"not what pegload wrote"
    del table.data[keys[1]]
    gen, f = ww.phase(0).generator(0), Failures(keep=50)
    bad = sum(run(table, ww, gen.next_op(), f)[2] for _ in range(400))
    assert bad >= 2
    text = "\n".join(f.examples)
    assert "corrupt" in text and "missing" in text
    assert keys[0][0].decode() in text


def test_verification_catches_a_stale_value_after_an_acknowledged_write():
    table, ww = DictTable(), WorkerWorkload(scenario(True, "set: 1"), 0)
    load(table, ww)
    key = sorted(table.data)[0]
    old = table.data[key]
    gen, f = ww.phase(0).generator(0), Failures()
    while True:  # overwrite until the chosen key got a new acknowledged version
        op = gen.next_op()
        run(table, ww, op, f)
        if (op.hash_key, op.sort_key) == key:
            break
    table.data[key] = old  # the server "lost" the acknowledged write
    op = Op("get", {})
    op.hash_key, op.sort_key = key
    op.token = ww.verify.read_token()
    outcome, _, bad = run(table, ww, op, f)
    assert outcome == OK and bad == 1 and "stale" in f.examples[-1]


def test_examples_are_capped_but_every_failure_counts():
    table, ww = DictTable(), WorkerWorkload(scenario(True), 0)
    load(table, ww)
    for k in table.data:
        table.data[k] = b"x"
    gen, f = ww.phase(0).generator(0), Failures(keep=3)
    bad = sum(run(table, ww, gen.next_op(), f)[2] for _ in range(50))
    assert bad == 50 and len(f.examples) == 3


def test_client_errors_propagate_and_self_completing_writes_release_their_key():
    class TimingOut(DictTable):
        def incr(self, *a, **kw):
            raise RequestTimeout("no reply")

    table, ww = TimingOut(), WorkerWorkload(scenario(True, "incr: 1"), 0)
    gen = ww.phase(0).generator(0)
    op = gen.next_op()
    with pytest.raises(RequestTimeout):
        EXECUTORS["incr"](table, op, ww, Failures())
    assert ww.verify.begin_incr(op.counter)  # the key is free again: the incr was completed


def test_check_and_set_with_a_failing_check_is_a_miss_not_an_error():
    table, ww = DictTable(), WorkerWorkload(scenario(False, "check_and_set: 1"), 0)
    op = ww.phase(0).generator(0).next_op()
    assert EXECUTORS["check_and_set"](table, op, ww, Failures()) == (MISS, 0, 0)
    table.data[(op.hash_key, op.sort_key)] = b"x"
    assert EXECUTORS["check_and_set"](table, op, ww, Failures())[0] == OK
