"""Read RPCs of one partition (server-semantics doc 5.8-5.12), quirks included."""
import pytest

from pegload.client.wire import (
    BatchGetRequest,
    FullKey,
    KeyValue,
    MultiGetRequest,
    MultiPutRequest,
    UpdateRequest,
    encode_key,
)
from pegload.onebox import reads, writes

SERVER = "127.0.0.1:34801"
OK, NOT_FOUND, INVALID, INCOMPLETE = 0, 1, 4, 7


def put(part, hk, sk, value=b"v", expire_ts=0):
    writes.put(part, UpdateRequest(encode_key(hk, sk), value, expire_ts), SERVER)


def fill(part, hk, sort_keys, value_of=lambda sk: b"v" + sk, expire_ts=0):
    kvs = [KeyValue(sk, value_of(sk)) for sk in sort_keys]
    assert writes.multi_put(part, MultiPutRequest(hk, kvs, expire_ts), SERVER).error == OK


def mg(part, hk, **kw):
    return reads.multi_get(part, MultiGetRequest(hash_key=hk, **kw), SERVER)


def keys(resp):
    return [kv.key for kv in resp.kvs]


# ------------------------------------------------------------------ get / ttl
def test_get_hit_miss_and_common_fields(partition):
    put(partition, b"h", b"s", b"value")
    r = reads.get(partition, encode_key(b"h", b"s"), SERVER)
    assert (r.error, r.value, r.app_id, r.partition_index, r.server) == (OK, b"value", 1, 0, SERVER)
    r = reads.get(partition, encode_key(b"h", b"nope"), SERVER)
    assert (r.error, r.value) == (NOT_FOUND, b"")
    assert reads.get(partition, b"x", SERVER).error == NOT_FOUND  # malformed key is just a miss


def test_empty_value_is_not_a_miss(partition):
    put(partition, b"h", b"empty", b"")
    r = reads.get(partition, encode_key(b"h", b"empty"), SERVER)
    assert (r.error, r.value) == (OK, b"")


def test_ttl_and_expiry(partition, fake_clock):
    now = fake_clock.epoch_now
    put(partition, b"h", b"forever")
    put(partition, b"h", b"ten", expire_ts=now + 10)
    assert reads.ttl(partition, encode_key(b"h", b"forever"), SERVER).ttl_seconds == -1
    r = reads.ttl(partition, encode_key(b"h", b"ten"), SERVER)
    assert (r.error, r.ttl_seconds) == (OK, 10)
    fake_clock.t += 9
    assert reads.ttl(partition, encode_key(b"h", b"ten"), SERVER).ttl_seconds == 1
    fake_clock.t += 1  # expire_ts == now: expired
    r = reads.ttl(partition, encode_key(b"h", b"ten"), SERVER)
    assert (r.error, r.ttl_seconds) == (NOT_FOUND, 0)
    assert reads.get(partition, encode_key(b"h", b"ten"), SERVER).error == NOT_FOUND
    assert reads.ttl(partition, encode_key(b"h", b"absent"), SERVER).error == NOT_FOUND


# ------------------------------------------------------------------ sortkey_count / batch_get
def test_sortkey_count_counts_live_records_of_one_hash_key(partition, fake_clock):
    fill(partition, b"h", [b"a", b"b", b"c"])
    fill(partition, b"h2", [b"a"])
    put(partition, b"h", b"dead", expire_ts=fake_clock.epoch_now)
    r = reads.sortkey_count(partition, b"h", SERVER)
    assert (r.error, r.count) == (OK, 3)
    assert reads.sortkey_count(partition, b"nobody", SERVER).count == 0
    assert reads.sortkey_count(partition, b"x" * 65535, SERVER).error == INVALID


def test_batch_get(partition):
    fill(partition, b"h", [b"a", b"b"])
    put(partition, b"g", b"x", b"gx")
    req = BatchGetRequest([FullKey(b"h", b"b"), FullKey(b"h", b"zz"), FullKey(b"g", b"x"), FullKey(b"h", b"b")])
    r = reads.batch_get(partition, req, SERVER)
    assert r.error == OK
    assert [(d.hash_key, d.sort_key, d.value) for d in r.data] == [
        (b"h", b"b", b"vb"), (b"g", b"x", b"gx"), (b"h", b"b", b"vb")]
    assert reads.batch_get(partition, BatchGetRequest([]), SERVER).error == INVALID


# ------------------------------------------------------------------ multi_get by keys
def test_multi_get_by_keys_request_order_duplicates_and_misses(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r = mg(partition, b"h", sort_keys=[b"c", b"zz", b"a", b"c"])
    assert (r.error, keys(r)) == (OK, [b"c", b"a", b"c"])
    assert [kv.value for kv in r.kvs] == [b"vc", b"va", b"vc"]
    assert all(kv.expire_ts_seconds is None for kv in r.kvs)


def test_multi_get_by_keys_count_cap_incomplete_only_if_more_live(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r = mg(partition, b"h", sort_keys=[b"a", b"b", b"c"], max_kv_count=2)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a", b"b"])
    # the cap is reached exactly on the last live key: complete
    r = mg(partition, b"h", sort_keys=[b"a", b"b", b"zz"], max_kv_count=2)
    assert (r.error, keys(r)) == (OK, [b"a", b"b"])


def test_multi_get_by_keys_size_cap_includes_crossing_record(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])  # each record: 1 + 2 bytes
    r = mg(partition, b"h", sort_keys=[b"a", b"b", b"c"], max_kv_size=4)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a", b"b"])


def test_multi_get_no_value_and_bad_filter(partition):
    fill(partition, b"h", [b"a"])
    r = mg(partition, b"h", sort_keys=[b"a"], no_value=True)
    assert r.kvs[0].value == b""
    for mode in ({"sort_keys": [b"a"]}, {}):
        r = mg(partition, b"h", sort_key_filter_type=4, **mode)
        assert (r.error, r.kvs) == (INVALID, [])


# ------------------------------------------------------------------ multi_get range
ABCD = [b"a", b"b", b"c", b"d"]


def test_range_doc_examples(partition):
    fill(partition, b"h", ABCD)
    fill(partition, b"i", [b"a"])  # another hash key in the same partition
    r = mg(partition, b"h", start_sortkey=b"a", stop_sortkey=b"c", start_inclusive=True, max_kv_count=2)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a", b"b"])  # c exists after the cap
    r = mg(partition, b"h", start_sortkey=b"a", start_inclusive=True, max_kv_count=4)
    assert (r.error, keys(r)) == (OK, ABCD)  # capped on the last record of the hash key


def test_range_incomplete_counts_records_beyond_stop_and_expired(partition, fake_clock):
    fill(partition, b"h", [b"a", b"b"])
    put(partition, b"h", b"z", expire_ts=fake_clock.epoch_now - 5)  # expired, still "there"
    r = mg(partition, b"h", start_sortkey=b"a", stop_sortkey=b"b", start_inclusive=True,
           stop_inclusive=False, max_kv_count=1)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a"])  # iterator sits on b (beyond stop)
    r = mg(partition, b"h", start_sortkey=b"b", start_inclusive=True, max_kv_count=1)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"b"])  # only the expired z follows


def test_range_inclusive_far_bound_reached_under_cap_is_complete(partition):
    fill(partition, b"h", ABCD)
    r = mg(partition, b"h", start_sortkey=b"a", stop_sortkey=b"b", start_inclusive=True,
           stop_inclusive=True, max_kv_count=2)
    assert (r.error, keys(r)) == (OK, [b"a", b"b"])


@pytest.mark.parametrize("start_incl, stop_incl, expected", [
    (False, False, [b"b", b"c"]), (True, False, [b"a", b"b", b"c"]),
    (False, True, [b"b", b"c", b"d"]), (True, True, ABCD),
])
def test_range_inclusivity(partition, start_incl, stop_incl, expected):
    fill(partition, b"h", ABCD)
    r = mg(partition, b"h", start_sortkey=b"a", stop_sortkey=b"d", start_inclusive=start_incl,
           stop_inclusive=stop_incl)
    assert (r.error, keys(r)) == (OK, expected)


def test_range_empty_start_exclusive_skips_empty_sort_key(partition):
    fill(partition, b"h", [b"", b"a"])
    assert keys(mg(partition, b"h")) == [b"a"]  # pypegasus3's get_sort_keys: start_inclusive absent
    assert keys(mg(partition, b"h", start_inclusive=True)) == [b"", b"a"]


def test_range_empty_ranges(partition):
    fill(partition, b"h", ABCD)
    for kw in ({"start_sortkey": b"c", "stop_sortkey": b"b"},
               {"start_sortkey": b"b", "stop_sortkey": b"b", "start_inclusive": True},
               {"start_sortkey": b"b", "stop_sortkey": b"b", "stop_inclusive": True}):
        r = mg(partition, b"h", **kw)
        assert (r.error, r.kvs) == (OK, [])
    r = mg(partition, b"h", start_sortkey=b"b", stop_sortkey=b"b", start_inclusive=True, stop_inclusive=True)
    assert keys(r) == [b"b"]


def test_range_filters_and_prefix_narrowing(partition):
    fill(partition, b"h", [b"a1", b"p1", b"p2", b"px", b"q1", b"xp"])
    r = mg(partition, b"h", start_inclusive=True, sort_key_filter_type=2, sort_key_filter_pattern=b"p")
    assert keys(r) == [b"p1", b"p2", b"px"]
    # narrowing makes the examined count small: a cap of 3 ends on the last "p" record, then
    # q1 follows in the hash key -> still incomplete (quirk)
    r = mg(partition, b"h", start_inclusive=True, sort_key_filter_type=2, sort_key_filter_pattern=b"p",
           max_kv_count=3)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"p1", b"p2", b"px"])
    assert keys(mg(partition, b"h", start_inclusive=True, sort_key_filter_type=1,
                   sort_key_filter_pattern=b"p")) == [b"p1", b"p2", b"px", b"xp"]
    assert keys(mg(partition, b"h", start_inclusive=True, sort_key_filter_type=3,
                   sort_key_filter_pattern=b"1")) == [b"a1", b"p1", b"q1"]
    assert len(mg(partition, b"h", start_inclusive=True, sort_key_filter_type=3).kvs) == 6  # empty pattern


def test_range_reverse_returns_last_records_ascending(partition):
    fill(partition, b"h", ABCD)
    r = mg(partition, b"h", start_inclusive=True, reverse=True, max_kv_count=1)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"d"])
    r = mg(partition, b"h", start_inclusive=True, reverse=True, max_kv_count=3)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"b", b"c", b"d"])


def test_range_reverse_paging_like_the_python_suite(partition):
    sks = [b"k%d" % i for i in range(50)]
    fill(partition, b"h", sks)
    remaining = sorted(sks)
    stop = b"k99"
    for page in range(5):
        r = mg(partition, b"h", start_sortkey=b"k0", stop_sortkey=stop, start_inclusive=True,
               reverse=True, max_kv_count=10)
        expected = remaining[-10:]
        remaining = remaining[:-10]
        assert keys(r) == expected
        assert r.error == (OK if page == 4 else INCOMPLETE)  # the last page ends on the start key
        stop = expected[0]


def test_range_reverse_incomplete_sees_other_hash_keys(partition):
    fill(partition, b"a", [b"x"])  # sorts before hash key "h" (same length, smaller bytes)
    fill(partition, b"h", [b"a", b"b"])
    r = mg(partition, b"h", start_inclusive=True, reverse=True, max_kv_count=2)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a", b"b"])  # partition-wide, unlike forward
    r = mg(partition, b"h", start_inclusive=True, max_kv_count=2)
    assert (r.error, keys(r)) == (OK, [b"a", b"b"])


def test_range_iteration_cap_counts_expired_and_filtered(partition, fake_clock):
    dead = fake_clock.epoch_now - 1
    sks = [b"%05d" % i for i in range(3001)]
    writes.multi_put(partition, MultiPutRequest(b"h", [KeyValue(sk, b"") for sk in sks[:3000]], dead), SERVER)
    fill(partition, b"h", [sks[3000]])
    r = mg(partition, b"h", start_inclusive=True)
    assert (r.error, r.kvs) == (INCOMPLETE, [])  # 3000 examined, all expired; one record left
    r = mg(partition, b"h", start_inclusive=True, start_sortkey=sks[1])
    assert (r.error, keys(r)) == (OK, [sks[3000]])


def test_range_count_cap_defaults_to_3000(partition):
    sks = [b"%05d" % i for i in range(3002)]
    fill(partition, b"h", sks, value_of=lambda sk: b"")
    r = mg(partition, b"h", start_inclusive=True, max_kv_count=-1)
    assert (r.error, len(r.kvs)) == (INCOMPLETE, 3000)
    r = mg(partition, b"h", start_inclusive=True, max_kv_count=5000)
    assert len(r.kvs) == 3000


def test_range_size_cap(partition):
    fill(partition, b"h", ABCD)  # 1 + 2 bytes each
    r = mg(partition, b"h", start_inclusive=True, max_kv_size=5)
    assert (r.error, keys(r)) == (INCOMPLETE, [b"a", b"b"])


def test_long_hash_key_is_invalid_not_a_crash(partition):
    r = mg(partition, b"x" * 65535, start_inclusive=True)
    assert r.error == INVALID
