"""Every call of the facade against the onebox, including the official client's documented edge
cases: filters, inclusive bounds, reverse, limits, TTL expiry, scanners."""
from __future__ import annotations

import time
import uuid

import gevent
import pytest

from pegload.client import MultiGetOptions, Pegasus, ScanOptions, cas_check_type, error_types, filter_type

pytestmark = pytest.mark.integration
OK = error_types.ERR_OK.value
NOT_FOUND = error_types.ERR_OBJECT_NOT_FOUND.value
INCOMPLETE = error_types.ERR_INCOMPLETE_DATA.value


@pytest.fixture(scope="module")
def client(onebox):
    c = Pegasus(onebox.meta_addrs, "temp")
    assert c.init() is True
    yield c
    c.close()


@pytest.fixture
def hk():
    """A hash key no other test uses (the onebox is shared)."""
    return "client-api-" + uuid.uuid4().hex[:12]


def fill(client, hk, sort_keys, value=lambda sk: b"v-" + sk):
    assert client.multi_set(hk, {sk: value(sk) for sk in sort_keys}) == (OK, None)


def test_single_record_calls(client, hk):
    assert client.get(hk, "s") == (NOT_FOUND, b"")
    assert client.ttl(hk, "s") == (NOT_FOUND, 0)
    assert client.exist(hk, "s") == (NOT_FOUND, 0)
    assert client.set(hk, "s", "text value") == (OK, None)
    assert client.get(hk, "s") == (OK, b"text value")  # str in, bytes out
    assert client.get(hk.encode(), b"s") == (OK, b"text value")
    assert client.ttl(hk, "s") == (OK, -1) and client.exist(hk, "s") == (OK, -1)
    assert client.remove(hk, "s") == (OK, None)
    assert client.remove(hk, "s") == (OK, None)  # removing a missing record is fine
    assert client.get(hk, "s") == (NOT_FOUND, b"")


def test_binary_keys_and_values_round_trip_exactly(client):
    hk, sk, value = b"\xff\x00\xfe" + uuid.uuid4().bytes, b"\x00\xff", bytes(range(256))
    assert client.set(hk, sk, value) == (OK, None)
    assert client.get(hk, sk) == (OK, value)
    assert client.multi_get(hk, {sk}) == (OK, {sk: value})
    assert list(client.get_scanner(hk, b"", b"")) == [((hk, sk), value)]
    assert client.set("中文" + hk.hex(), "键", "值") == (OK, None)
    assert client.get("中文" + hk.hex(), "键") == (OK, "值".encode())


def test_empty_hash_key_single_record_follows_the_sort_key_rule(client):
    sk = "client-api-empty-hk-" + uuid.uuid4().hex
    assert client.set("", sk, "v") == (OK, None)
    assert client.get("", sk) == (OK, b"v")
    assert client.remove("", sk) == (OK, None)


def test_ttl_counts_down_and_records_expire(client, hk):
    assert client.set(hk, "long", "v", ttl=3600) == (OK, None)
    code, left = client.ttl(hk, "long")
    assert code == OK and 3590 <= left <= 3600
    assert client.set(hk, "short", "v", ttl=1) == (OK, None)
    assert client.get(hk, "short") == (OK, b"v")
    deadline = time.monotonic() + 5
    while client.get(hk, "short")[0] == OK and time.monotonic() < deadline:
        gevent.sleep(0.1)
    assert client.get(hk, "short") == (NOT_FOUND, b"")
    assert client.ttl(hk, "short") == (NOT_FOUND, 0)
    assert client.multi_get(hk, None)[1] == {b"long": b"v"}
    assert client.sort_key_count(hk) == (OK, 1)
    assert list(client.get_scanner(hk, "", "")) == [((hk.encode(), b"long"), b"v")]
    # multi_set applies one TTL to every pair
    assert client.multi_set(hk, {"m1": "a", "m2": "b"}, ttl=100) == (OK, None)
    assert 90 <= client.ttl(hk, "m2")[1] <= 100


def test_multi_set_multi_get_and_limits(client, hk):
    keys = [b"k%02d" % i for i in range(20)]
    fill(client, hk, keys)
    assert client.sort_key_count(hk) == (OK, 20)
    assert client.multi_get(hk, {b"k03", b"k07", b"missing"}) == (OK, {b"k03": b"v-k03", b"k07": b"v-k07"})
    assert client.multi_get(hk, ["k01", "k02"]) == (OK, {b"k01": b"v-k01", b"k02": b"v-k02"})
    code, kvs = client.multi_get(hk, None)
    assert code == OK and list(kvs) == keys  # ascending sort-key order
    assert client.multi_get(hk, set()) == (OK, kvs)  # empty set: the whole hash key, as officially
    code, kvs = client.multi_get(hk, None, max_kv_count=5)
    assert code == INCOMPLETE and list(kvs) == keys[:5]
    code, kvs = client.multi_get(hk, None, max_kv_size=30)  # checked before each pair is added
    assert code == INCOMPLETE and 0 < len(kvs) < 20
    code, kvs = client.multi_get(hk, None, no_value=True)
    assert code == OK and set(kvs.values()) == {b""} and len(kvs) == 20
    code, kvs = client.get_sort_keys(hk)
    assert code == OK and list(kvs) == keys and set(kvs.values()) == {b""}
    assert client.get_sort_keys(hk, max_kv_count=3) == (INCOMPLETE, {k: b"" for k in keys[:3]})
    assert client.multi_del(hk, {b"k00", b"k01", b"nope"}) == (OK, 3)  # count = keys sent
    assert client.sort_key_count(hk) == (OK, 18)
    assert client.multi_del(hk, set())[0] == 4  # the server refuses an empty list (kInvalidArgument)
    assert client.multi_set(hk, {})[0] == 4


def test_multi_get_opt_bounds_filters_reverse(client, hk):
    keys = [b"a1", b"a2", b"b1", b"b2", b"ba", b"c1"]
    fill(client, hk, keys)

    def opt(**kw):
        o = MultiGetOptions()
        for k, v in kw.items():
            setattr(o, k, v)
        return o

    def sks(start, stop, o=None, **kw):
        code, kvs = client.multi_get_opt(hk, start, stop, o or MultiGetOptions(), **kw)
        assert code in (OK, INCOMPLETE)
        return list(kvs), code

    assert sks("a2", "b2") == ([b"a2", b"b1"], OK)  # [start, stop) by default
    assert sks("a2", "b2", opt(start_inclusive=False, stop_inclusive=True))[0] == [b"b1", b"b2"]
    assert sks("a2", "b2", opt(start_inclusive=True, stop_inclusive=True))[0] == [b"a2", b"b1", b"b2"]
    assert sks("a2", "a2", opt(stop_inclusive=True))[0] == [b"a2"]
    assert sks("b", "")[0] == [b"b1", b"b2", b"ba", b"c1"]  # empty stop: to the end
    assert sks("", "")[0] == keys
    ft = filter_type
    assert sks("", "", opt(sortkey_filter_type=ft.FT_MATCH_PREFIX, sortkey_filter_pattern="b"))[0] == \
        [b"b1", b"b2", b"ba"]
    assert sks("", "", opt(sortkey_filter_type=ft.FT_MATCH_POSTFIX, sortkey_filter_pattern="1"))[0] == \
        [b"a1", b"b1", b"c1"]
    assert sks("", "", opt(sortkey_filter_type=ft.FT_MATCH_ANYWHERE, sortkey_filter_pattern="a"))[0] == \
        [b"a1", b"a2", b"ba"]
    # reverse returns the *last* pairs of the range, still in ascending order
    keys_rev, code = sks("", "", opt(reverse=True), max_kv_count=2)
    assert keys_rev == [b"ba", b"c1"] and code == INCOMPLETE
    assert sks("", "", opt(no_value=True))[0] == keys
    code, kvs = client.multi_get_opt(hk, "", "", opt(no_value=True))
    assert set(kvs.values()) == {b""}


def test_incr(client, hk):
    assert client.incr(hk, "n") == (OK, 1)
    assert client.incr(hk, "n", 41) == (OK, 42)
    assert client.incr(hk, "n", -50) == (OK, -8)
    assert client.get(hk, "n") == (OK, b"-8")
    assert client.incr(hk, "t", 5, ttl=100) == (OK, 5)
    assert 90 <= client.ttl(hk, "t")[1] <= 100
    assert client.incr(hk, "t", 1, ttl=-1) == (OK, 6)
    assert client.ttl(hk, "t") == (OK, -1)
    client.set(hk, "text", "abc")
    assert client.incr(hk, "text", 1)[0] == 4  # kInvalidArgument: not an integer


def test_check_and_set(client, hk):
    ct = cas_check_type
    code, r = client.check_and_set(hk, "c", ct.CT_VALUE_NOT_EXIST, "", "c", "first")
    assert code == OK and r.set_succeed
    code, r = client.check_and_set(hk, "c", ct.CT_VALUE_NOT_EXIST, "", "c", "second",
                                   return_check_value=True)
    assert code == OK and not r.set_succeed and r.check_value_exist and r.check_value == b"first"
    assert client.get(hk, "c") == (OK, b"first")
    code, r = client.check_and_set(hk, "c", ct.CT_VALUE_BYTES_EQUAL, "first", "other", "x", ttl=50)
    assert code == OK and r.set_succeed
    assert client.get(hk, "other") == (OK, b"x") and client.get(hk, "c") == (OK, b"first")
    assert 40 <= client.ttl(hk, "other")[1] <= 50
    assert client.check_and_set(hk, "c", ct.CT_VALUE_INT_LESS, "x", "c", "y")[0] == 4


def test_batch_get_spans_partitions_in_order(client, hk):
    pairs = [(f"{hk}-{i}", f"s{i}") for i in range(30)]
    for h, s in pairs[::2]:
        client.set(h, s, h + s)
    code, values = client.batch_get(pairs + [pairs[0]])
    assert code == OK
    assert values == [(h + s).encode() if i % 2 == 0 else None for i, (h, s) in enumerate(pairs)] + \
        [(pairs[0][0] + pairs[0][1]).encode()]
    assert client.batch_get([]) == (OK, [])


def test_scanner_bounds_batches_filters_and_iteration(client, hk):
    keys = [b"s%03d" % i for i in range(25)]
    fill(client, hk, keys)
    hkb = hk.encode()

    def scan(start, stop, **kw):
        s = client.get_scanner(hk, start, stop, ScanOptions(**kw))
        out = []
        while (item := s.get_next()) is not None:
            out.append(item)
        s.close()
        return out

    everything = scan("", "", batch_size=4)  # seven batches through SCAN contexts
    assert everything == [((hkb, k), b"v-" + k) for k in keys]
    assert [k for (_, k), _ in scan("s005", "s010")] == keys[5:10]
    assert [k for (_, k), _ in scan("s005", "s010", start_inclusive=False, stop_inclusive=True)] == keys[6:11]
    assert [k for (_, k), _ in scan("s005", "s005", stop_inclusive=True)] == [b"s005"]
    assert scan("s010", "s005") == [] and scan("s005", "s005") == []
    assert [k for (_, k), _ in scan("", "", sort_key_filter_type=filter_type.FT_MATCH_PREFIX,
                                    sort_key_filter_pattern="s01")] == keys[10:20]
    assert [k for (_, k), _ in scan("", "", sort_key_filter_type=filter_type.FT_MATCH_POSTFIX,
                                    sort_key_filter_pattern="7", batch_size=2)] == [b"s007", b"s017"]
    assert {v for _, v in scan("", "", no_value=True)} == {b""}
    with client.get_scanner(hk, "", "", ScanOptions(batch_size=3)) as s:
        assert [k for (_, k), _ in s] == keys  # iterator protocol
    # an options object is read when the scanner is made and never changed by it
    o = ScanOptions(start_inclusive=False, stop_inclusive=True)
    client.get_scanner(hk, "s001", "", o)
    assert (o.start_inclusive, o.stop_inclusive) == (False, True)


def test_closing_a_scanner_mid_way_releases_the_server_context(client, hk, onebox):
    fill(client, hk, [b"x%03d" % i for i in range(30)])
    before = onebox.counters()["requests"].get("RPC_RRDB_RRDB_CLEAR_SCANNER", 0)
    s = client.get_scanner(hk, "", "", ScanOptions(batch_size=5))
    assert s.get_next() is not None
    s.close()
    assert s.get_next() is None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if onebox.counters()["requests"].get("RPC_RRDB_RRDB_CLEAR_SCANNER", 0) == before + 1:
            break
        gevent.sleep(0.02)
    assert onebox.counters()["requests"].get("RPC_RRDB_RRDB_CLEAR_SCANNER", 0) == before + 1
    assert client.table.pool.pending_count() == 0  # CLEAR_SCANNER is never awaited
    # a scanner read to the end holds no context, so closing it sends nothing: a get on the same
    # hash key (same partition, same connection, after the close) sees the count unchanged
    s = client.get_scanner(hk, "", "", ScanOptions(batch_size=100))
    assert len(list(s)) == 30
    s.close()
    assert client.get(hk, "x000")[0] == 0
    assert onebox.counters()["requests"].get("RPC_RRDB_RRDB_CLEAR_SCANNER", 0) == before + 1


def test_unordered_scanners_return_every_record_exactly_once(onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    with Pegasus(ob.meta_addrs, "temp") as c:
        assert c.init()
        written = {}
        for i in range(60):
            h = f"u{i:03d}"
            kv = {f"s{j}": f"{h}-{j}" for j in range(i % 4 + 1)}
            assert c.multi_set(h, kv) == (OK, None)
            written.update({(h.encode(), k.encode()): v.encode() for k, v in kv.items()})
        for split in (1, 3, 8, 100):
            scanners = c.get_unordered_scanners(split, ScanOptions(batch_size=7))
            assert len(scanners) == min(split, 8)
            seen = [((h, s), v) for sc in scanners for (h, s), v in sc]
            assert len(seen) == len(written), split
            assert dict(seen) == written
            for sc in scanners:
                keys = [k for k, _ in sc]
                assert keys == []  # exhausted
        # filters on the whole-table scan
        o = ScanOptions(hash_key_filter_type=filter_type.FT_MATCH_PREFIX, hash_key_filter_pattern="u00",
                        sort_key_filter_type=filter_type.FT_MATCH_POSTFIX, sort_key_filter_pattern="0")
        got = sorted(k for sc in c.get_unordered_scanners(4, o) for k, _ in sc)
        assert got == sorted(k for k in written if k[0].startswith(b"u00") and k[1].endswith(b"0"))
        with pytest.raises(ValueError, match="max_split_count must be positive"):
            c.get_unordered_scanners(0)


def test_unknown_table_and_bad_meta(onebox):
    assert Pegasus(onebox.meta_addrs, "no_such_table").init() is False
    c = Pegasus(onebox.meta_addrs, "temp")
    assert c.init()
    c.close()
    assert c.get("a", "b") == (error_types.ERR_INVALID_STATE.value, None)


def test_servers_sending_host_port_fields(onebox_factory):
    ob = onebox_factory(tables={"temp": 8}, send_host_port=True)
    with Pegasus(ob.meta_addrs, "temp") as c:
        assert c.init()
        assert set(c.table.config.primaries) <= set(ob.replica_addrs)
        assert c.set("hp", "s", "v") == (OK, None) and c.get("hp", "s") == (OK, b"v")


def test_calls_after_the_process_blocked_outside_gevent_keep_their_full_timeout(onebox, hk):
    """A plain (not monkeypatched) process that blocks between calls (time.sleep, a subprocess)
    leaves libev's cached clock stale; a timer armed from it would fire at once and the next call
    would time out without waiting. Regression: the interop test saw ERR_TIMEOUT after running
    the official client in a subprocess."""
    c = Pegasus(onebox.meta_addrs, "temp", timeout=300)
    try:
        assert c.init() is True
        assert c.set(hk, "s", "v") == (OK, None)
        time.sleep(0.6)  # blocking: twice the call timeout passes with the hub not running
        assert c.get(hk, "s") == (OK, b"v")
        time.sleep(0.6)
        assert c.multi_get(hk, ["s"]) == (OK, {b"s": b"v"})
    finally:
        c.close()
