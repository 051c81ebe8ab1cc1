"""Verification: the single-writer version bookkeeping, and an end-to-end simulation against an
in-memory store where lost and corrupted writes must be caught and nothing else flagged."""
import random

import pytest

from pegload.scenario import load_scenario_text
from pegload.workload import CORRECT, CORRUPT, MISSING, STALE, WorkerWorkload, make_value
from pegload.workload.verify import VerifyState

K = (b"hk00000000", b"sk00000")


def value(version, key=K):
    return make_value(key[0], key[1], version, 64)


def written(state, key=K, versions=1):
    for _ in range(versions):
        v = state.begin_write(key)
        state.end_write(key, v, True)
    return state


def test_fresh_read_after_acknowledged_writes():
    st = written(VerifyState(), versions=2)
    token = st.read_token()
    assert st.classify(K, token, value(2)).status == CORRECT
    assert st.classify(K, token, value(2)).version == 2
    stale = st.classify(K, token, value(1))
    assert stale.status == STALE and "version 1 read after version 2 was acknowledged" in stale.reason
    assert st.classify(K, token, None).status == MISSING
    assert st.classify(K, token, value(3)).status == CORRUPT  # never written
    assert st.classify(K, token, b"garbage").status == CORRUPT
    assert st.expected_version(K) == 2


def test_reads_concurrent_with_writes_may_see_either_version():
    st = written(VerifyState())
    token = st.read_token()  # read sent while version 1 is the floor
    v2 = st.begin_write(K)
    assert st.classify(K, token, value(2)).status == CORRECT  # in flight, may be visible
    st.end_write(K, v2, True)
    assert st.classify(K, token, value(1)).status == CORRECT  # acknowledged after the read was sent
    assert st.classify(K, st.read_token(), value(1)).status == STALE


def test_one_write_in_flight_per_key():
    st = VerifyState()
    v = st.begin_write(K)
    assert st.begin_write(K) is None
    assert st.begin_writes([K, (b"hk00000000", b"sk00001")]) is None  # all or nothing
    assert st.begin_write((b"hk00000000", b"sk00001")) == 1
    st.end_write(K, v, False)
    assert st.begin_write(K) == 2


def test_unknown_outcome_is_never_flagged_later():
    st = written(VerifyState())
    v2 = st.begin_write(K)
    st.end_write(K, v2, None)  # timed out: may land at any time
    written(st, versions=2)  # versions 3, 4 acknowledged
    token = st.read_token()
    assert st.classify(K, token, value(2)).status == CORRECT  # the late write landed
    assert st.classify(K, token, value(4)).status == CORRECT
    assert st.classify(K, token, value(1)).status == STALE  # older than the unknown write: lost


def test_not_applied_writes_do_not_move_the_floor():
    st = written(VerifyState())
    v = st.begin_write(K)
    st.end_write(K, v, False)  # e.g. check_and_set whose check failed
    assert st.classify(K, st.read_token(), value(1)).status == CORRECT


def test_removes():
    st = written(VerifyState())
    v = st.begin_write(K, tombstone=True)
    st.end_write(K, v, True)
    token = st.read_token()
    assert st.classify(K, token, None).status == CORRECT
    assert st.classify_presence(K, token, False).status == CORRECT
    resurrected = st.classify_presence(K, token, True)
    assert resurrected.status == STALE and "removal" in resurrected.reason
    assert st.classify(K, token, value(1)).status == STALE
    written(st)  # version 3 written again
    token = st.read_token()
    assert st.classify_presence(K, token, True).status == CORRECT
    assert st.classify_presence(K, token, False).status == MISSING
    assert VerifyState().classify_presence(K, 0, True).status == CORRUPT  # never written by anyone


def test_two_acknowledgements_during_a_read_make_it_lenient():
    st = written(VerifyState())
    token = st.read_token()
    written(st, versions=2)  # versions 2 and 3 acknowledged while the read was in flight
    assert st.classify(K, token, value(1)).status == CORRECT  # floor unknown: integrity only
    assert st.classify(K, st.read_token(), value(1)).status == STALE


def test_counters():
    st = VerifyState()
    c = (b"ct00000000", b"sk00000")
    assert st.begin_incr(c) and not st.begin_incr(c)
    assert st.end_incr(c, 1, 41).status == CORRECT  # first answer pins (may hold an old run's count)
    assert st.begin_incr(c)
    assert st.end_incr(c, 1, 42).status == CORRECT
    st.begin_incr(c)
    lost = st.end_incr(c, 1, 42)
    assert lost.status == STALE and "lost" in lost.reason
    st.begin_incr(c)
    assert st.end_incr(c, 5, 50).status == CORRUPT  # 42 + 5 expected
    st.begin_incr(c)
    assert st.end_incr(c, 5, None).status == CORRECT  # unknown outcome: slack of 5 from now on
    st.begin_incr(c)
    assert st.end_incr(c, 1, 56).status == CORRECT  # 50 + 1 + the unknown 5
    st.begin_incr(c)
    assert st.end_incr(c, -2, 54).status == CORRECT


# --- end-to-end simulation --------------------------------------------------------------------

SIM = """\
workers: 2
concurrency: 6
verify: true
data: {hash_keys: 40, sort_keys: 8, value_size: {uniform: [20, 80]}}
load: {batch: 4}
phases:
  - ops: 4000
    keys: {distribution: zipfian, theta: 0.8}
    mix:
      get: 20
      set: {weight: 10, insert: true}
      multi_get: {weight: 5, sort_keys: 3}
      multi_set: {weight: 5, sort_keys: 3}
      multi_get_range: {weight: 3, span: 4}
      exist: {weight: 3, keys: latest}
      ttl: 2
      remove: 4
      multi_del: {weight: 2, sort_keys: 2}
      incr: 4
      check_and_set: 3
      read_modify_write: 3
      batch_get: {weight: 3, records: 4}
      scan: {weight: 2, records: 5}
      unordered_scan: {weight: 1, records: 50}
      sort_key_count: 1
      get_sort_keys: 1
"""


class Store:
    """A linearizable in-memory table; each op is applied atomically when executed."""

    def __init__(self):
        self.data = {}
        self.counters = {}

    def run(self, ww, op, fault=None):
        """Execute ``op`` and return the verification verdicts. fault: None, "lose" (acknowledge a
        write without applying it), "corrupt" (store damaged bytes), "unknown" (apply it but
        report an unknown outcome)."""
        verdicts, d = [], self.data
        name = op.name

        def write(pairs):
            if fault == "lose":
                return
            for key, val in pairs:
                if val is None:
                    d.pop(key, None)
                else:
                    d[key] = val if fault != "corrupt" else val[:-1] + bytes([val[-1] ^ 1])

        if name in ("set", "check_and_set", "read_modify_write"):
            key = (op.hash_key, op.sort_key)
            if name == "read_modify_write":
                verdicts.append(ww.check_point(op, *key, d.get(key)))
            applied = True
            if name == "check_and_set":
                applied = key in d  # value_exist
            if applied:
                write([(key, op.value)])
            ww.complete(op, None if fault == "unknown" else applied)
        elif name == "multi_set":
            write([((op.hash_key, sk), v) for sk, v in op.values.items()])
            ww.complete(op, None if fault == "unknown" else True)
        elif name in ("remove", "multi_del"):
            write([((op.hash_key, sk), None) for sk in (op.sort_keys or [op.sort_key])])
            ww.complete(op, None if fault == "unknown" else True)
        elif name == "incr":
            key = (op.hash_key, op.sort_key)
            self.counters[key] = self.counters.get(key, 0) + (0 if fault == "lose" else op.increment)
            verdicts.append(ww.complete(op, True, self.counters[key]))
        elif name == "get":
            verdicts.append(ww.check_point(op, op.hash_key, op.sort_key, d.get((op.hash_key, op.sort_key))))
        elif name == "multi_get":
            verdicts += [ww.check_point(op, op.hash_key, sk, d.get((op.hash_key, sk))) for sk in op.sort_keys]
        elif name == "batch_get":
            verdicts += [ww.check_point(op, hk, sk, d.get((hk, sk))) for hk, sk in op.records]
        elif name in ("exist", "ttl"):
            verdicts.append(ww.check_presence(op, op.hash_key, op.sort_key, (op.hash_key, op.sort_key) in d))
        elif name in ("multi_get_range", "scan"):
            stop = op.stop_sort_key if name == "multi_get_range" else b""
            for (hk, sk), val in sorted(d.items()):
                if hk == op.hash_key and sk >= op.sort_key and (not stop or sk < stop):
                    verdicts.append(ww.check_scanned(op, hk, sk, val))
        elif name == "unordered_scan":
            for (hk, sk), val in sorted(d.items())[:50]:
                verdicts.append(ww.check_scanned(op, hk, sk, val))
        if name not in ("set", "multi_set", "remove", "multi_del", "check_and_set", "read_modify_write", "incr"):
            ww.complete(op, True)
        return [v for v in verdicts if v is not None]


def simulate(fault_rate=0.0, fault="lose", seed=7, steps=6000):
    sc = load_scenario_text(SIM, "sim.yaml")
    store = Store()
    workloads = [WorkerWorkload(sc, w) for w in range(2)]
    for ww in workloads:  # the load phase of both workers (worker 1 only feeds whole-table scans)
        gen = ww.load_generator()
        while (op := gen.next_op()) is not None:
            assert store.run(ww, op) == []
    ww = workloads[0]
    gens = [ww.phase(0).generator(g) for g in range(sc.concurrency)]
    rng = random.Random(seed)
    pending, outcomes, faulty_keys = [], [], set()
    for _ in range(steps):
        # keep up to `concurrency` ops in flight; execute them in random order
        while len(pending) < sc.concurrency:
            pending.append(gens[rng.randrange(len(gens))].next_op())
        op = pending.pop(rng.randrange(len(pending)))
        is_write = op.writes is not None or op.counter is not None
        inject = fault if is_write and rng.random() < fault_rate else None
        if inject:
            faulty_keys.update(k for k, _ in (op.writes or []))
            if op.counter:
                faulty_keys.add(op.counter)
        outcomes += [(op.name, v) for v in store.run(ww, op, inject)]
    for op in pending:
        store.run(ww, op)
    return outcomes, faulty_keys


def ww_inserts_seen(outcomes):
    """Some reads judged records that the phase inserted (latest distribution)."""
    return any(name == "exist" and v.ok for name, v in outcomes)


def test_simulation_without_faults_flags_nothing():
    outcomes, _ = simulate()
    assert len(outcomes) > 5000
    bad = [(name, v) for name, v in outcomes if v.status != CORRECT]
    assert bad == []
    assert ww_inserts_seen(outcomes)
    assert {name for name, _ in outcomes} >= {"get", "multi_get", "batch_get", "exist", "ttl", "multi_get_range",
                                               "scan", "unordered_scan", "incr", "read_modify_write"}


def test_simulation_with_unknown_outcomes_flags_nothing():
    outcomes, _ = simulate(fault_rate=0.2, fault="unknown")
    assert [v for _, v in outcomes if v.status != CORRECT] == []


def test_simulation_catches_lost_writes():
    outcomes, faulty = simulate(fault_rate=0.02, fault="lose")
    bad = [v for _, v in outcomes if v.status != CORRECT]
    assert faulty and len(bad) >= 5
    assert {v.status for v in bad} <= {STALE, MISSING}
    assert STALE in {v.status for v in bad}


def test_simulation_catches_corruption():
    outcomes, _ = simulate(fault_rate=0.02, fault="corrupt")
    bad = [v for _, v in outcomes if v.status != CORRECT]
    assert bad and {v.status for v in bad} == {CORRUPT}
    # the last byte was flipped: the filler, or the CRC itself when the value is header-only
    assert all("damaged value bytes" in v.reason or "checksum does not match" in v.reason for v in bad)


@pytest.mark.parametrize("seed", [1, 2])
def test_simulation_is_quiet_for_other_seeds(seed):
    outcomes, _ = simulate(seed=seed, steps=3000)
    assert [v for _, v in outcomes if v.status != CORRECT] == []


def test_scanned_records_are_judged_by_what_this_worker_knows():
    sc = load_scenario_text(SIM, "sim.yaml")
    ww = WorkerWorkload(sc, 0)
    gen = ww.load_generator()
    while (op := gen.next_op()) is not None:
        ww.complete(op, True)
    op = ww.phase(0).generator(0).next_op()
    mine, other = (b"hk00000000", b"sk00001"), (b"hk00000001", b"sk00001")  # worker 0 / worker 1
    assert ww.check_scanned(op, *mine, make_value(*mine, 1, 30)).status == CORRECT
    assert ww.check_scanned(op, *mine, make_value(*mine, 9, 30)).status == CORRUPT  # never written
    assert ww.check_scanned(op, *other, make_value(*other, 9, 30)).status == CORRECT  # integrity only
    assert ww.check_scanned(op, *other, b"x" * 30).status == CORRUPT
    # not part of this scenario's data (an earlier run's leftovers, counters): not judged
    assert ww.check_scanned(op, b"hk00000001", b"sk00099", b"junk") is None
    assert ww.check_scanned(op, b"hk00009999", b"sk00001", b"junk") is None
    assert ww.check_scanned(op, b"ct00000000", b"sk00001", b"17") is None
    assert ww.check_scanned(op, b"user", b"x", b"junk") is None
