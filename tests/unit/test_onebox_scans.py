"""Scanners of one partition (server-semantics doc 5.13-5.15), quirks included."""
from pegload.client.wire import GetScannerRequest, KeyValue, MultiPutRequest, ScanRequest, encode_key, next_prefix
from pegload.onebox import scans, writes

SERVER = "127.0.0.1:34801"
OK, NOT_FOUND, INVALID = 0, 1, 4
FULL_START, FULL_STOP = b"\x00\x00", b"\xff\xff"


def fill(part, hk, sort_keys, expire_ts=0):
    kvs = [KeyValue(sk, b"v" + sk) for sk in sort_keys]
    writes.multi_put(part, MultiPutRequest(hk, kvs, expire_ts), SERVER)


def open_scan(part, start=FULL_START, stop=FULL_STOP, start_inclusive=True, stop_inclusive=False, **kw):
    req = GetScannerRequest(start_key=start, stop_key=stop, start_inclusive=start_inclusive,
                            stop_inclusive=stop_inclusive, **kw)
    return scans.get_scanner(part, req, SERVER)


def drain(part, first):
    """All keys of a scan, following context ids; also returns every reply."""
    replies = [first]
    r = first
    while r.error == OK and r.context_id != -1:
        r = scans.scan(part, ScanRequest(r.context_id), SERVER)
        replies.append(r)
    return [kv.key for x in replies for kv in x.kvs], replies


def test_full_scan_returns_full_encoded_keys_in_order_once(partition):
    fill(partition, b"hk", [b"b", b"a"])
    fill(partition, b"z", [b"1"])
    keys, replies = drain(partition, open_scan(partition, batch_size=2))
    assert keys == [encode_key(b"z", b"1"), encode_key(b"hk", b"a"), encode_key(b"hk", b"b")]
    assert replies[-1].context_id == -1
    assert replies[0].kvs[0].value == b"v1" and replies[0].kvs[0].expire_ts_seconds is None


def test_every_batch_gets_a_new_single_use_context_id(partition):
    fill(partition, b"h", [b"%02d" % i for i in range(7)])
    r1 = open_scan(partition, batch_size=3)
    assert r1.context_id > 0 and len(r1.kvs) == 3
    r2 = scans.scan(partition, ScanRequest(r1.context_id), SERVER)
    assert r2.context_id not in (r1.context_id, -1) and len(r2.kvs) == 3
    stale = scans.scan(partition, ScanRequest(r1.context_id), SERVER)  # consumed
    assert (stale.error, stale.kvs, stale.context_id) == (NOT_FOUND, [], 0)
    r3 = scans.scan(partition, ScanRequest(r2.context_id), SERVER)
    assert (len(r3.kvs), r3.context_id) == (1, -1)


def test_context_kept_when_iterator_sits_past_the_stop_key(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r = open_scan(partition, start=encode_key(b"h", b"a"), stop=encode_key(b"h", b"b"),
                  stop_inclusive=False, batch_size=1)
    assert [kv.key for kv in r.kvs] == [encode_key(b"h", b"a")] and r.context_id > 0
    r = scans.scan(partition, ScanRequest(r.context_id), SERVER)
    assert (r.kvs, r.context_id) == ([], -1)  # an empty last batch


def test_hash_key_scan_never_leaves_the_hash_key(partition):
    fill(partition, b"h", [b"a", b"b"])
    fill(partition, b"i", [b"a"])
    keys, replies = drain(partition, open_scan(partition, start=encode_key(b"h", b""),
                                                  stop=FULL_STOP, batch_size=2))
    assert keys == [encode_key(b"h", b"a"), encode_key(b"h", b"b")]
    assert replies[0].context_id == -1  # capped on the hash key's last record: completed


def test_stop_inclusive_and_start_exclusive(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r = open_scan(partition, start=encode_key(b"h", b"a"), stop=encode_key(b"h", b"c"),
                  start_inclusive=False, stop_inclusive=True)
    assert [kv.key for kv in r.kvs] == [encode_key(b"h", b"b"), encode_key(b"h", b"c")]
    assert r.context_id == -1


def test_empty_range_answers_context_zero(partition):
    fill(partition, b"h", [b"a"])
    r = open_scan(partition, start=encode_key(b"h", b"b"), stop=encode_key(b"h", b"a"))
    assert (r.error, r.kvs, r.context_id) == (OK, [], 0)
    r = open_scan(partition, start=encode_key(b"h", b"a"), stop=encode_key(b"h", b"a"), stop_inclusive=False)
    assert r.context_id == 0


def test_filters_expired_records_and_options(partition, fake_clock):
    now = fake_clock.epoch_now
    fill(partition, b"user1", [b"x", b"y"], expire_ts=now + 60)
    fill(partition, b"user2", [b"x"])
    fill(partition, b"other", [b"x"])
    fill(partition, b"user3", [b"x"], expire_ts=now)  # expired
    r = open_scan(partition, hash_key_filter_type=2, hash_key_filter_pattern=b"user",
                  sort_key_filter_type=1, sort_key_filter_pattern=b"x", return_expire_ts=True)
    assert [(kv.key, kv.expire_ts_seconds) for kv in r.kvs] == [
        (encode_key(b"user1", b"x"), now + 60), (encode_key(b"user2", b"x"), 0)]
    r = open_scan(partition, no_value=True, only_return_count=True)
    assert (r.kvs, r.kv_count) == ([], 4)
    r = open_scan(partition, no_value=True)
    assert all(kv.value == b"" for kv in r.kvs) and r.kv_count is None


def test_hash_prefix_filter_raises_the_start_of_full_scans(partition):
    fill(partition, b"aa", [b"1"])
    fill(partition, b"bb", [b"1"])
    r = open_scan(partition, hash_key_filter_type=2, hash_key_filter_pattern=b"bb", batch_size=1)
    assert [kv.key for kv in r.kvs] == [encode_key(b"bb", b"1")]
    # on a single-hash-key scan the same raise is an upstream abort: we answer 4
    r = open_scan(partition, start=encode_key(b"aa", b""), hash_key_filter_type=2,
                  hash_key_filter_pattern=b"bb")
    assert (r.error, r.context_id) == (INVALID, 0)


def test_invalid_requests(partition):
    assert open_scan(partition, hash_key_filter_type=7).error == INVALID
    assert open_scan(partition, sort_key_filter_type=-1).error == INVALID
    for bad_start in (b"", b"\x00", b"\x00\x05ab"):
        r = open_scan(partition, start=bad_start)
        assert (r.error, r.context_id) == (INVALID, 0)


def test_examined_cap_gives_empty_batch_with_context(partition, fake_clock):
    fill(partition, b"h", [b"%04d" % i for i in range(1001)], expire_ts=fake_clock.epoch_now)
    fill(partition, b"h", [b"zz"])
    r = open_scan(partition, start=encode_key(b"h", b""), stop=next_prefix(encode_key(b"h", b"")))
    assert (r.kvs, r.context_id > 0) == ([], True)  # 1000 examined, all expired
    r = scans.scan(partition, ScanRequest(r.context_id), SERVER)
    assert ([kv.key for kv in r.kvs], r.context_id) == ([encode_key(b"h", b"zz")], -1)


def test_batch_size_is_capped_at_1000(partition):
    fill(partition, b"h", [b"%04d" % i for i in range(1200)])
    r = open_scan(partition, batch_size=5000)
    assert len(r.kvs) == 1000 and r.context_id > 0


def test_snapshot_at_get_scanner_time(partition):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r = open_scan(partition, batch_size=1)
    fill(partition, b"h", [b"bb"])  # written after the scanner was opened
    keys, _ = drain(partition, r)
    assert encode_key(b"h", b"bb") not in keys and len(keys) == 3


def test_clear_scanner_never_answers_and_drops_the_context(partition):
    fill(partition, b"h", [b"a", b"b"])
    r = open_scan(partition, batch_size=1)
    assert scans.clear_scanner(partition, r.context_id, SERVER) is None
    assert scans.clear_scanner(partition, 123, SERVER) is None
    assert scans.scan(partition, ScanRequest(r.context_id), SERVER).error == NOT_FOUND


def test_contexts_expire_after_five_minutes(partition, fake_clock):
    fill(partition, b"h", [b"a", b"b", b"c"])
    r1 = open_scan(partition, batch_size=1)
    fake_clock.t += 299
    r2 = scans.scan(partition, ScanRequest(r1.context_id), SERVER)
    assert r2.error == OK and r2.context_id > 0
    fake_clock.t += 300
    assert scans.scan(partition, ScanRequest(r2.context_id), SERVER).error == NOT_FOUND


def test_primary_move_drops_contexts(partition):
    fill(partition, b"h", [b"a", b"b"])
    r = open_scan(partition, batch_size=1)
    partition.drop_scan_contexts()
    assert scans.scan(partition, ScanRequest(r.context_id), SERVER).error == NOT_FOUND
