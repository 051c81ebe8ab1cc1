"""Drive a onebox through the official Python client pypegasus3 (Twisted), as an independent
referee. Not a test module: test_onebox_pypegasus.py runs it in a subprocess (Twisted's reactor
must own its process) and asserts on the JSON it prints.

usage: python pypegasus_driver.py META_ADDRS(comma-separated) CONTROL_ADDR CONTROL_TOKEN_FILE
"""
import json
import sys
import time

from pypegasus.base.ttypes import error_types
from pypegasus.pgclient import Pegasus
from pypegasus.utils.tools import MultiGetOptions, ScanOptions
from twisted.internet import defer, reactor
from twisted.internet.defer import inlineCallbacks

from pegload.client import wire
from pegload.onebox import ControlClient


def code(result):
    """Name of a pypegasus result code: frame errors come back bare, storage ones in a tuple."""
    c = result[0] if isinstance(result, tuple) else result
    return c.name if isinstance(c, error_types) else error_types(c).name


def sleep(seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


def partition_of(hash_key, count=8):
    return wire.partition_index(wire.hash_key_hash(hash_key.encode()), count)


@inlineCallbacks
def scenario(metas, control, token_file):
    R = {}
    ctl = ControlClient(control, token_file)
    c = Pegasus(metas, "temp", timeout=2000)
    R["init"] = bool((yield c.init()))

    # single-key RPCs
    R["set"] = code((yield c.set("drv", "s1", "v1")))
    got = yield c.get("drv", "s1")
    R["get"] = [code(got), got[1].decode()]
    R["ttl_forever"] = list((yield c.ttl("drv", "s1")))
    yield c.set("drv", "s60", "v", 60)
    R["ttl_60"] = (yield c.ttl("drv", "s60"))[1]
    R["exist"] = code((yield c.exist("drv", "s1")))
    R["remove"] = code((yield c.remove("drv", "s1")))
    R["exist_after_remove"] = code((yield c.exist("drv", "s1")))
    R["get_after_remove"] = code((yield c.get("drv", "s1")))
    yield c.set(b"drv-\x00\xff", b"\x01\x00", b"\x00\xfe\x00")
    got = yield c.get(b"drv-\x00\xff", b"\x01\x00")
    R["get_binary"] = got[1].hex()
    # pypegasus3 decodes scanned hash keys as UTF-8: leave no binary hash key for the scans below
    yield c.remove(b"drv-\x00\xff", b"\x01\x00")

    # TTL expiry, judged by the server's clock
    yield c.set("drv", "short", "x", 1)
    t0 = time.monotonic()
    while code((yield c.get("drv", "short"))) != "ERR_OBJECT_NOT_FOUND":
        if time.monotonic() - t0 > 5:
            break
        yield sleep(0.05)
    R["ttl_expired_after_s"] = round(time.monotonic() - t0, 2)
    R["ttl_after_expiry"] = code((yield c.ttl("drv", "short")))

    # multi-key RPCs
    kvs = {f"k{i:02d}": f"v{i:02d}" for i in range(20)}
    R["multi_set"] = code((yield c.multi_set("drv-multi", kvs)))
    rc, got = yield c.multi_get("drv-multi", {"k03", "k07", "missing"})
    R["multi_get"] = [code(rc), {k.decode(): v.decode() for k, v in got.items()}]
    rc, got = yield c.multi_get("drv-multi", {f"k{i:02d}" for i in range(20)}, 5)
    R["multi_get_limited"] = [code(rc), len(got)]
    opt = MultiGetOptions()
    opt.reverse = True
    rc, got = yield c.multi_get_opt("drv-multi", "k00", "k99", opt, 4)
    R["multi_get_reverse"] = [code(rc), sorted(k.decode() for k in got)]
    opt = MultiGetOptions()
    opt.sortkey_filter_type = 2  # FT_MATCH_PREFIX
    opt.sortkey_filter_pattern = "k1"
    rc, got = yield c.multi_get_opt("drv-multi", "", "", opt)
    R["multi_get_prefix"] = [code(rc), sorted(k.decode() for k in got)]
    rc, keys = yield c.get_sort_keys("drv-multi")
    R["get_sort_keys"] = [code(rc), len(keys)]
    R["sort_key_count"] = list((yield c.sort_key_count("drv-multi")))
    rc, n = yield c.multi_del("drv-multi", {"k00", "k01", "nope"})
    R["multi_del"] = [code(rc), n]
    R["sort_key_count_after_del"] = (yield c.sort_key_count("drv-multi"))[1]
    # kInvalidArgument passes through pypegasus3 as the raw rocksdb code (not an error_types)
    R["multi_del_empty"] = list((yield c.multi_del("drv-multi", set())))

    # one hash key's scanner, small batches
    yield c.multi_set("drv-scan", {f"s{i:02d}": "x" for i in range(10)})
    o = ScanOptions()
    o.batch_size = 3
    s = c.get_scanner("drv-scan", "s02", "s08", o)
    seen = []
    while True:
        item = yield s.get_next()
        if item is None:
            break
        seen.append(item[0][1])
    s.close()
    R["scan"] = seen

    # unordered scanners over all 8 partitions: every record exactly once
    written = []
    for i in range(60):
        hk = f"u{i:03d}"
        yield c.multi_set(hk, {"a": "1", "b": "2", "c": "3"})
        written += [[hk, sk] for sk in "abc"]
    R["written"] = written
    o = ScanOptions()
    o.batch_size = 7
    scanned = []
    for sc in c.get_unordered_scanners(3, o):
        while True:
            item = yield sc.get_next()
            if item is None:
                break
            scanned.append(list(item[0]))
        sc.close()
    R["unordered"] = scanned
    R["partitions_written"] = sorted({partition_of(hk) for hk, _ in written})

    # fault injection seen by the official client
    ctl.call("set_faults", busy_fraction=1.0)
    R["busy"] = code((yield c.get("drv", "s60")))
    ctl.call("set_faults", busy_fraction=0.0, delay_ms=400)
    R["delayed_get_with_100ms_timeout"] = code((yield c.get("drv", "s60", 100)))
    ctl.call("clear_faults")
    yield sleep(0.45)  # let the delayed reply arrive and be discarded before going on

    # primary move: the old primary refuses, the client re-queries the meta and follows
    yield c.set("drv-move", "s", "moved")
    pidx = partition_of("drv-move")
    desc = ctl.call("move_primary", table="temp", partition=pidx)
    R["move"] = desc
    R["get_right_after_move"] = code((yield c.get("drv-move", "s")))
    t0 = time.monotonic()
    while True:
        got = yield c.get("drv-move", "s")
        if code(got) == "ERR_OK" or time.monotonic() - t0 > 8:
            break
        yield sleep(0.1)
    R["get_after_refresh"] = [code(got), got[1].decode() if isinstance(got, tuple) and got[1] else None]
    R["refresh_took_s"] = round(time.monotonic() - t0, 2)
    c.close()
    ctl.close()
    return R


def main():
    metas = sys.argv[1].split(",")
    control, token_file = sys.argv[2], sys.argv[3]
    out = {}

    def done(result):
        out["result"] = result
        reactor.stop()

    def failed(f):
        out["error"] = f.getTraceback()
        reactor.stop()

    reactor.callWhenRunning(lambda: scenario(metas, control, token_file).addCallbacks(done, failed))
    reactor.run()
    print(json.dumps(out))
    return 0 if "result" in out else 1


if __name__ == "__main__":
    sys.exit(main())
