"""Every RPC pypegasus3 can send, through the official client against a private onebox, plus
faults and a primary move it has to live through. The client runs in a subprocess (Twisted's
reactor) via pypegasus_driver.py, a data file next to this test."""
import json
import pathlib
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.integration
DRIVER = pathlib.Path(__file__).with_name("pypegasus_driver.py")


@pytest.fixture(scope="module")
def results():
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}) as ob:
        # run from a temporary cwd: pypegasus3 logs to ./pegasus.log
        with tempfile.TemporaryDirectory() as cwd:
            proc = subprocess.run([sys.executable, str(DRIVER), ",".join(ob.meta_addrs), ob.control_addr,
                                   ob.control_token_file],
                                  capture_output=True, text=True, timeout=90, cwd=cwd)
        counters = ob.counters()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["result"]["counters"] = counters
    return out["result"]


def test_single_key_rpcs(results):
    r = results
    assert r["init"] is True and r["set"] == "ERR_OK" and r["get"] == ["ERR_OK", "v1"]
    assert r["ttl_forever"] == [0, -1] and r["ttl_60"] in (59, 60)
    assert (r["exist"], r["remove"], r["exist_after_remove"], r["get_after_remove"]) == (
        "ERR_OK", "ERR_OK", "ERR_OBJECT_NOT_FOUND", "ERR_OBJECT_NOT_FOUND")
    assert r["get_binary"] == "00fe00"


def test_ttl_expiry(results):
    assert results["ttl_expired_after_s"] <= 2.0
    assert results["ttl_after_expiry"] == "ERR_OBJECT_NOT_FOUND"


def test_multi_key_rpcs(results):
    r = results
    assert r["multi_set"] == "ERR_OK"
    assert r["multi_get"] == ["ERR_OK", {"k03": "v03", "k07": "v07"}]
    assert r["multi_get_limited"] == ["ERR_INCOMPLETE_DATA", 5]
    assert r["multi_get_reverse"] == ["ERR_INCOMPLETE_DATA", ["k16", "k17", "k18", "k19"]]
    assert r["multi_get_prefix"] == ["ERR_OK", [f"k{i:02d}" for i in range(10, 20)]]
    assert r["get_sort_keys"] == ["ERR_OK", 20] and r["sort_key_count"] == [0, 20]
    assert r["multi_del"] == ["ERR_OK", 3] and r["sort_key_count_after_del"] == 18
    assert r["multi_del_empty"] == [4, 0]  # body kInvalidArgument for an empty key list


def test_hash_key_scanner(results):
    assert results["scan"] == [f"s{i:02d}" for i in range(2, 8)]


def test_unordered_scanners_return_every_record_exactly_once(results):
    written = sorted(map(tuple, results["written"]))
    scanned = [tuple(x) for x in results["unordered"] if x[0].startswith("u")]
    assert sorted(scanned) == written  # no loss, no duplicate
    assert results["partitions_written"] == list(range(8))


def test_faults_seen_by_the_official_client(results):
    assert results["busy"] == "ERR_BUSY"
    assert results["delayed_get_with_100ms_timeout"] == "ERR_TIMEOUT"


def test_primary_move_followed_by_the_official_client(results):
    r = results
    assert r["move"]["ballot"] == 2
    assert r["get_right_after_move"] == "ERR_INVALID_STATE"
    assert r["get_after_refresh"] == ["ERR_OK", "moved"]


def test_server_counted_what_the_client_sent(results):
    req = results["counters"]["requests"]
    assert req["RPC_RRDB_RRDB_GET_SCANNER"] >= 8 and req["RPC_RRDB_RRDB_SCAN"] >= 1
    assert req["RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"] >= 6  # 3 metas at init, 3 after the move
    assert results["counters"]["errors"]["ERR_INVALID_STATE"] >= 1
