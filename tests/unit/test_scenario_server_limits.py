"""Validation knows the stock server's limits (issue 9: `value_size: 2MiB` passed validation and
every write then failed). Request-size bounds are checked against the wire codec's encoding."""
import pytest

from pegload.client.wire import messages as m
from pegload.client.wire.frames import encode_request_body
from pegload.client.wire.keys import encode_key
from pegload.client.wire.rpc import RPC_CHECK_AND_SET, RPC_MULTI_PUT, RPC_MULTI_REMOVE, RPC_PUT
from pegload.onebox import limits as onebox_limits
from pegload.scenario import ScenarioError, load_scenario_text
from pegload.scenario import limits as L
from pegload.workload.keys import KeyNames


def problems(text):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "s.yaml")
    return info.value.errors


def scenario(data="", load="", mix="{get: 1}"):
    return f"data: {{hash_keys: 100, sort_keys: 10{data}}}\n{load}phases:\n  - duration: 5s\n    mix: {mix}\n"


def test_a_value_over_the_write_limit_is_refused_at_value_size():
    errs = problems("data:\n  hash_keys: 100\n  value_size: 2MiB\nload: {batch: 1}\nphases:\n"
                    "  - duration: 5s\n    mix: {get: 9, set: 1}\n")
    assert len(errs) == 2
    assert all(e.startswith("s.yaml:3 data.value_size: ") for e in errs)
    assert "set writes 2 MiB values: a request of at least 2,097,2" in errs[1]
    assert "1,048,576-byte write limit (max_allowed_write_size" in errs[1]


def test_values_just_under_the_limit_pass_when_the_request_fits():
    load_scenario_text(scenario(", value_size: 1000000", "load: {batch: 1}\n", "{set: 1}"), "s.yaml")
    errs = problems(scenario(", value_size: 1048570", "load: {batch: 1}\n", "{set: 1}"))
    assert len(errs) == 2 and "data.value_size" in errs[0]  # the load's sets and the phase's


def test_the_load_batch_is_checked():
    errs = problems(scenario(", value_size: 200KiB"))  # default batch 10: 2 MB multi_sets
    assert len(errs) == 1
    assert errs[0].startswith("s.yaml:1 load.batch: the load phase writes with a multi_set of 10 records of 200 KiB")
    errs = problems("data: {hash_keys: 10, sort_keys: 5000, value_size: 1KiB}\nload:\n  batch: 2000\n"
                    "phases:\n  - duration: 5s\n    mix: {get: 1}\n")
    assert len(errs) == 1 and errs[0].startswith("s.yaml:3 load.batch: ")


def test_multi_set_and_multi_del_counts():
    errs = problems("data: {hash_keys: 10, sort_keys: 5000, value_size: 1KiB}\nload: false\nphases:\n"
                    "  - duration: 5s\n    mix:\n      multi_set: {weight: 1, sort_keys: 2000}\n"
                    "      multi_del: {weight: 1, sort_keys: 100}\n")
    assert len(errs) == 1 and errs[0].startswith("s.yaml:6 phases[0].mix.multi_set.sort_keys: 2,000 records of 1 KiB")
    errs = problems("data: {hash_keys: 10, sort_keys: 200000, value_size: 10}\nload: false\nphases:\n"
                    "  - duration: 5s\n    mix: {multi_del: {weight: 1, sort_keys: 100000}}\n")
    assert len(errs) == 1 and "100,000 sort keys per multi_del" in errs[0]


def test_read_counts_over_the_server_caps():
    text = ("data: {hash_keys: 10, sort_keys: 5000}\nload: false\nphases:\n  - duration: 5s\n    mix:\n"
            "      multi_get: {weight: 1, sort_keys: 4000, max_kv_count: -1}\n"
            "      multi_get_range: {weight: 1, span: 0, max_kv_count: 0}\n"
            "      get_sort_keys: {weight: 1, max_kv_count: 3500}\n"
            "      scan: {weight: 1, batch_size: 1001}\n"
            "      unordered_scan: {weight: 1, batch_size: 1000}\n")
    errs = problems(text)
    assert [e.split(":")[1].split()[0] for e in errs] == ["6", "7", "8", "9"]
    assert "at most 3,000 (rocksdb_multi_get_max_iteration_count)" in errs[0]
    assert "phases[0].mix.multi_get_range.span: asks for up to 5,000 records" in errs[1]
    assert "at most 1,000 records per scan batch (rocksdb_max_iteration_count)" in errs[3]
    # the op's own smaller cap makes the same reads fine
    load_scenario_text(text.replace("max_kv_count: -1}", "max_kv_count: 100}")
                       .replace("max_kv_count: 0}", "max_kv_count: 3000}").replace("3500", "3000")
                       .replace("1001", "1000").replace("span: 0,", "span: 3000,"), "s.yaml")


def test_the_shipped_and_default_scenarios_are_within_the_limits():
    load_scenario_text(scenario(), "s.yaml")


def test_the_tables_agree_with_the_onebox():
    assert L.MAX_ALLOWED_WRITE_SIZE == onebox_limits.MAX_ALLOWED_WRITE_SIZE
    assert L.MULTI_GET_MAX_ITERATION_COUNT == onebox_limits.MULTI_GET_MAX_ITERATION_COUNT
    assert L.SCAN_MAX_ITERATION_COUNT == onebox_limits.SCAN_MAX_ITERATION_COUNT
    assert L.MAX_HASH_KEY_LEN == onebox_limits.MAX_HASH_KEY_LEN


def test_pegload_hash_keys_never_reach_the_hash_key_limit():
    longest = KeyNames(10**12, 10**7)  # the largest data layout validation accepts
    assert len(longest.hash_key(10**12 - 1)) < L.MAX_HASH_KEY_LEN
    assert len(longest.counter_key(10**12 - 1)) < L.MAX_HASH_KEY_LEN


@pytest.mark.parametrize("hash_keys,sort_keys", [(100, 10), (10**9, 10**6)])
@pytest.mark.parametrize("value", [0, 100, 4096])
def test_request_size_bounds_match_the_encoding(hash_keys, sort_keys, value):
    names = KeyNames(hash_keys, sort_keys)
    hk, sk = names.hash_key(hash_keys - 1), names.sort_key(sort_keys - 1)
    assert L.key_lengths(hash_keys, sort_keys) == (len(hk), len(sk))
    v = b"v" * value

    def body(rpc, args):
        return len(encode_request_body(rpc, 1, args))

    put = body(RPC_PUT, m.UpdateRequest(key=encode_key(hk, sk), value=v, expire_ts_seconds=0))
    assert L.put_size(len(hk), len(sk), value) == put
    for n in (1, 7):
        kvs = [m.KeyValue(key=sk, value=v) for _ in range(n)]
        mput = body(RPC_MULTI_PUT, m.MultiPutRequest(hash_key=hk, kvs=kvs, expire_ts_seconds=0))
        assert L.multi_put_size(len(hk), len(sk), value, n) == mput
        mrem = body(RPC_MULTI_REMOVE, m.MultiRemoveRequest(hash_key=hk, sort_keys=[sk] * n))
        assert L.multi_remove_size(len(hk), len(sk), n) == mrem
    cas = body(RPC_CHECK_AND_SET, m.CheckAndSetRequest(hash_key=hk, check_sort_key=sk, check_type=3,
                                                       check_operand=b"op", set_diff_sort_key=False,
                                                       set_sort_key=sk, set_value=v))
    assert L.check_and_set_size(len(hk), len(sk), value, 2) == cas
