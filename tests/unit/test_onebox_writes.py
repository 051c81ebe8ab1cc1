"""Write RPCs of one partition (server-semantics doc 5.1-5.7)."""

from pegload.client.wire import (
    CheckAndMutateRequest,
    CheckAndSetRequest,
    IncrRequest,
    KeyValue,
    MultiPutRequest,
    MultiRemoveRequest,
    Mutate,
    UpdateRequest,
    encode_key,
)
from pegload.onebox import reads, writes

SERVER = "127.0.0.1:34801"
OK, NOT_FOUND, INVALID, TRY_AGAIN = 0, 1, 4, 13
INT64_MAX = 2**63 - 1


def get(part, hk, sk):
    r = reads.get(part, encode_key(hk, sk), SERVER)
    return r.value if r.error == OK else None


def ttl(part, hk, sk):
    r = reads.ttl(part, encode_key(hk, sk), SERVER)
    return r.ttl_seconds if r.error == OK else None


def put(part, hk, sk, value, expire_ts=0):
    return writes.put(part, UpdateRequest(encode_key(hk, sk), value, expire_ts), SERVER)


def test_put_overwrites_value_and_ttl_and_numbers_decrees(partition, fake_clock):
    now = fake_clock.epoch_now
    r1 = put(partition, b"h", b"s", b"one", now + 100)
    r2 = put(partition, b"h", b"s", b"two")
    assert (r1.error, r1.app_id, r1.partition_index, r1.server) == (OK, 1, 0, SERVER)
    assert r2.decree == r1.decree + 1 >= 2
    assert get(partition, b"h", b"s") == b"two" and ttl(partition, b"h", b"s") == -1


def test_put_with_internal_update_type_is_applied_but_not_answered(partition):
    assert writes.put(partition, UpdateRequest(encode_key(b"h", b"s"), b"v", 0, type=1), SERVER) is None
    assert get(partition, b"h", b"s") == b"v"
    assert writes.put(partition, UpdateRequest(encode_key(b"h", b"t"), b"v", 0, type=0), SERVER).error == OK


def test_multi_put_ignores_item_ttl_last_duplicate_wins(partition, fake_clock):
    now = fake_clock.epoch_now
    kvs = [KeyValue(b"a", b"1", expire_ts_seconds=now - 5), KeyValue(b"b", b"2"), KeyValue(b"a", b"3")]
    r = writes.multi_put(partition, MultiPutRequest(b"h", kvs, now + 50), SERVER)
    assert r.error == OK
    assert get(partition, b"h", b"a") == b"3" and ttl(partition, b"h", b"a") == 50
    assert ttl(partition, b"h", b"b") == 50


def test_multi_put_empty_is_invalid_but_takes_a_decree(partition):
    d0 = put(partition, b"h", b"s", b"v").decree
    r = writes.multi_put(partition, MultiPutRequest(b"h", [], 0), SERVER)
    assert (r.error, r.decree) == (INVALID, d0 + 1)
    assert writes.multi_put(partition, MultiPutRequest(b"x" * 65535, [KeyValue(b"a", b"")], 0),
                            SERVER).error == INVALID


def test_remove_and_multi_remove(partition):
    put(partition, b"h", b"a", b"1")
    put(partition, b"h", b"b", b"2")
    assert writes.remove(partition, encode_key(b"h", b"a"), SERVER).error == OK
    assert writes.remove(partition, encode_key(b"h", b"absent"), SERVER).error == OK
    assert get(partition, b"h", b"a") is None
    r = writes.multi_remove(partition, MultiRemoveRequest(b"h", [b"b", b"b", b"nope"]), SERVER)
    assert (r.error, r.count) == (OK, 3)  # requested keys, not deleted ones
    assert get(partition, b"h", b"b") is None
    r = writes.multi_remove(partition, MultiRemoveRequest(b"h", []), SERVER)
    assert (r.error, r.count) == (INVALID, 0)
    assert r.decree > 0


def incr(part, sk, inc, ts=0, hk=b"h"):
    return writes.incr(part, IncrRequest(encode_key(hk, sk), inc, ts), SERVER)


def test_incr_absent_empty_and_parsed_bases(partition):
    r = incr(partition, b"n", 5)
    assert (r.error, r.new_value) == (OK, 5)
    assert get(partition, b"h", b"n") == b"5"
    put(partition, b"h", b"e", b"")
    assert incr(partition, b"e", -3).new_value == -3
    put(partition, b"h", b"oct", b"010")
    assert incr(partition, b"oct", 1).new_value == 9
    put(partition, b"h", b"hex", b" 0x10")
    assert incr(partition, b"hex", 0).new_value == 16
    assert get(partition, b"h", b"hex") == b"16"


def test_incr_errors_write_nothing(partition):
    put(partition, b"h", b"bad", b"12 ")
    r = incr(partition, b"bad", 1)
    assert (r.error, r.new_value) == (INVALID, 0)
    assert get(partition, b"h", b"bad") == b"12 "
    put(partition, b"h", b"big", str(INT64_MAX).encode())
    r = incr(partition, b"big", 1)
    assert (r.error, r.new_value) == (INVALID, INT64_MAX)  # overflow reports the stored value
    assert get(partition, b"h", b"big") == str(INT64_MAX).encode()


def test_incr_ttl_rules(partition, fake_clock):
    now = fake_clock.epoch_now
    put(partition, b"h", b"t", b"1", now + 100)
    incr(partition, b"t", 1, 0)
    assert ttl(partition, b"h", b"t") == 100  # 0 keeps
    incr(partition, b"t", 1, now + 7)
    assert ttl(partition, b"h", b"t") == 7  # > 0 sets
    incr(partition, b"t", 1, -1)
    assert ttl(partition, b"h", b"t") == -1  # < 0 clears
    assert get(partition, b"h", b"t") == b"4"


def test_incr_on_expired_record_starts_from_zero_without_old_ttl(partition, fake_clock):
    now = fake_clock.epoch_now
    put(partition, b"h", b"x", b"41", now + 5)
    fake_clock.t += 5
    r = incr(partition, b"x", 1, 0)
    assert r.new_value == 1 and ttl(partition, b"h", b"x") == -1
    fake_clock.t += 1
    put(partition, b"h", b"y", b"41", fake_clock.epoch_now)  # already expired
    incr(partition, b"y", 1, fake_clock.epoch_now + 30)
    assert ttl(partition, b"h", b"y") == 30


def cas(part, check_type, operand=b"", set_value=b"new", check_sk=b"c", set_sk=None, ts=0, ret=True):
    req = CheckAndSetRequest(hash_key=b"h", check_sort_key=check_sk, check_type=check_type,
                             check_operand=operand, set_diff_sort_key=set_sk is not None,
                             set_sort_key=set_sk or b"", set_value=set_value,
                             set_expire_ts_seconds=ts, return_check_value=ret)
    return writes.check_and_set(part, req, SERVER)


def test_check_and_set_pass_fail_and_check_value_fields(partition):
    r = cas(partition, 1)  # CT_VALUE_NOT_EXIST on an absent record: passes
    assert (r.error, r.check_value_returned, r.check_value_exist, r.check_value) == (OK, True, False, b"")
    assert get(partition, b"h", b"c") == b"new"
    r = cas(partition, 1, set_value=b"again")
    assert (r.error, r.check_value_exist, r.check_value) == (TRY_AGAIN, True, b"new")
    assert get(partition, b"h", b"c") == b"new"
    r = cas(partition, 3, ret=False)  # exists -> pass; fields not returned
    assert (r.error, r.check_value_returned, r.check_value_exist, r.check_value) == (OK, False, False, b"")


def test_check_and_set_diff_sort_key_and_ttl_removal(partition, fake_clock):
    put(partition, b"h", b"c", b"5")
    put(partition, b"h", b"t", b"old", fake_clock.epoch_now + 100)
    r = cas(partition, 15, operand=b"5", set_sk=b"t", set_value=b"set")
    assert r.error == OK
    assert get(partition, b"h", b"t") == b"set" and ttl(partition, b"h", b"t") == -1  # 0 removes the TTL
    assert get(partition, b"h", b"c") == b"5"


def test_check_and_set_invalid_arguments(partition):
    r = cas(partition, 18)
    assert (r.error, r.check_value_returned) == (INVALID, False)  # not returned for a bad type
    put(partition, b"h", b"c", b"abc")
    r = cas(partition, 13, operand=b"1")
    assert (r.error, r.check_value_returned, r.check_value) == (INVALID, True, b"abc")
    assert get(partition, b"h", b"c") == b"abc"
    assert cas(partition, 13, operand=b"1", check_sk=b"absent").error == TRY_AGAIN


def cam(part, check_type, mutations, operand=b"", ret=False):
    req = CheckAndMutateRequest(hash_key=b"h", check_sort_key=b"c", check_type=check_type,
                                check_operand=operand, mutate_list=mutations, return_check_value=ret)
    return writes.check_and_mutate(part, req, SERVER)


def test_check_and_mutate_applies_in_order(partition, fake_clock):
    now = fake_clock.epoch_now
    put(partition, b"h", b"gone", b"x")
    muts = [Mutate(0, b"a", b"1", now + 20), Mutate(1, b"gone", b"ignored", 5),
            Mutate(0, b"b", b"2", 0), Mutate(0, b"b", b"3", 0)]
    r = cam(partition, 1, muts, ret=True)
    assert (r.error, r.check_value_returned, r.check_value_exist) == (OK, True, False)
    assert get(partition, b"h", b"a") == b"1" and ttl(partition, b"h", b"a") == 20
    assert get(partition, b"h", b"gone") is None and get(partition, b"h", b"b") == b"3"


def test_check_and_mutate_failures(partition):
    put(partition, b"h", b"c", b"v")
    assert cam(partition, 1, [Mutate(0, b"a", b"1", 0)]).error == TRY_AGAIN
    assert get(partition, b"h", b"a") is None
    assert cam(partition, 0, []).error == INVALID
    assert cam(partition, 0, [Mutate(2, b"a", b"1", 0)]).error == INVALID
    assert cam(partition, 99, [Mutate(0, b"a", b"1", 0)]).error == INVALID
    assert cam(partition, 13, [Mutate(0, b"a", b"1", 0)], operand=b"1").error == INVALID
