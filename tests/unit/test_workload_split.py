"""Work split: every share adds up to the total, and the load phase writes every record once."""
import pytest

from pegload.scenario import load_scenario_text
from pegload.workload import WorkerWorkload, load_share, share, split_count
from pegload.workload.keys import KeyNames, KeySpace, owned_hash_key_count


@pytest.mark.parametrize("total, parts", [(0, 1), (0, 3), (1, 4), (10, 3), (1001, 7), (10**9 + 7, 64)])
def test_split_count_sums_to_total(total, parts):
    shares = split_count(total, parts)
    assert len(shares) == parts and sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert [share(total, parts, i) for i in range(parts)] == shares
    with pytest.raises(ValueError):
        split_count(total, 0)


@pytest.mark.parametrize("hash_keys, sort_keys, batch, workers", [
    (10, 10, 10, 1), (10, 10, 3, 3), (7, 5, 10, 4), (3, 1, 1, 5), (1000, 20, 7, 6)])
def test_load_share_sums_to_the_data_set(hash_keys, sort_keys, batch, workers):
    shares = [load_share(hash_keys, sort_keys, batch, workers, w) for w in range(workers)]
    assert sum(r for r, _ in shares) == hash_keys * sort_keys
    per_hash_key = -(-sort_keys // min(batch, sort_keys))
    assert sum(c for _, c in shares) == hash_keys * per_hash_key
    assert sum(owned_hash_key_count(hash_keys, workers, w) for w in range(workers)) == hash_keys


@pytest.mark.parametrize("verify", [False, True])
def test_load_generators_write_every_record_exactly_once(verify):
    sc = load_scenario_text(f"""\
workers: 3
concurrency: 2
verify: {str(verify).lower()}
data: {{hash_keys: 20, sort_keys: 7, value_size: 32}}
load: {{batch: 3}}
phases: [{{ops: 10, mix: {{get: 1}}}}]
""", "l.yaml")
    written = []
    for w in range(3):
        ww = WorkerWorkload(sc, w)
        gen = ww.load_generator()
        calls = 0
        while (op := gen.next_op()) is not None:
            calls += 1
            keys = [(op.hash_key, sk) for sk in (op.sort_keys or [op.sort_key])]
            assert op.name == "multi_set" and len(keys) <= 3 and list(op.values) == [sk for _, sk in keys]
            assert all(KeyNames.parse_hash_key(hk)[1] % 3 == w for hk, _ in keys)  # worker w: hash keys ≡ w
            written += keys
            ww.complete(op, True)
        assert (gen.issued_records, gen.issued_calls) == (gen.records, gen.calls) == load_share(20, 7, 3, 3, w)
        assert calls == gen.calls
    names = KeyNames(20, 7)
    assert sorted(written) == sorted((names.hash_key(h), names.sort_key(s)) for h in range(20) for s in range(7))


def test_load_batch_one_uses_set_and_disabled_load_has_no_generator():
    sc = load_scenario_text("load: {batch: 1}\ndata: {hash_keys: 2, sort_keys: 2}\nworkers: 1\n"
                            "phases: [{ops: 1, mix: {get: 1}}]\n", "b.yaml")
    gen = WorkerWorkload(sc, 0).load_generator()
    ops = [gen.next_op() for _ in range(4)]
    assert [op.name for op in ops] == ["set"] * 4 and gen.next_op() is None
    assert [(op.hash_key, op.sort_key) for op in ops] == [
        (b"hk00000000", b"sk00000"), (b"hk00000000", b"sk00001"),
        (b"hk00000001", b"sk00000"), (b"hk00000001", b"sk00001")]
    sc = load_scenario_text("load: false\nphases: [{ops: 1, mix: {get: 1}}]\n", "n.yaml")
    assert WorkerWorkload(sc, 0).load_generator() is None


def test_phase_op_counts_split_exactly():
    sc = load_scenario_text("""\
workers: 3
phases:
  - {name: closed, ops: 1000, mix: {get: 1}}
  - {name: open, ops: 1000, warmup: 1s, rate: 300, mix: {get: 1}}
  - {name: timed, duration: 1s, mix: {get: 1}}
""", "p.yaml")
    for index in (0, 1):
        shares = [WorkerWorkload(sc, w).phase(index).measured_ops for w in range(3)]
        assert sum(shares) == 1000, (index, shares)
    assert WorkerWorkload(sc, 0).phase(2).measured_ops is None


def test_key_space_ownership():
    space = KeySpace(10, 4, worker=1, workers=3, owned=True)
    assert space.hash_keys == 3 and space.records == 12  # hash keys 1, 4, 7
    assert [space.hash_key_index(j) for j in range(3)] == [1, 4, 7]
    assert [space.record(i) for i in (0, 3, 4, 11)] == [(1, 0), (1, 3), (4, 0), (7, 3)]
    full = KeySpace(10, 4, worker=1, workers=3, owned=False)
    assert full.hash_keys == 10 and full.record(13) == (3, 1)


def test_key_names_are_fixed_width_and_sort_numerically():
    names = KeyNames(1000, 20)
    assert names.hash_key(1234) == b"hk00001234" and names.sort_key(12) == b"sk00012"
    assert names.counter_key(5) == b"ct00000005"
    keys = [names.hash_key(i) for i in (9, 10, 99, 100, 5000)]
    assert keys == sorted(keys)
    wide = KeyNames(10**9 + 1, 10**6 + 1)
    assert wide.hash_key(3) == b"hk" + b"0" * 9 + b"3" and len(wide.sort_key(0)) == 2 + 7
    assert KeyNames.parse_hash_key(b"hk00001234") == (b"hk", 1234)
    assert KeyNames.parse_hash_key(b"ct00000001") == (b"ct", 1)
    assert KeyNames.parse_hash_key(b"user1") is None
    assert KeyNames.parse_sort_key(b"sk00012") == 12 and KeyNames.parse_sort_key(b"x") is None
