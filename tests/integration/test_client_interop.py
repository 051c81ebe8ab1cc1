"""Interop both ways with the official client (pypegasus3 0.0.1.1, in a subprocess): what one
writes the other reads identically, for every call both have."""
from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from pegload.client import MultiGetOptions, Pegasus, ScanOptions, error_types

pytestmark = pytest.mark.integration
pytest.importorskip("pypegasus")
DRIVER = Path(__file__).with_name("pypegasus_interop_driver.py")
jsonable = runpy.run_path(str(DRIVER), run_name="interop_driver")["jsonable"]
OK = error_types.ERR_OK.value


def official(ob, plan: list) -> list:
    out = subprocess.run([sys.executable, str(DRIVER), ",".join(ob.meta_addrs), "temp"],
                         input=json.dumps(plan), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"pypegasus3 driver failed: {out.stderr[-2000:]}"
    return json.loads(out.stdout)


def ours(c: Pegasus, plan: list) -> list:
    results = []
    for method, *args in plan:
        if method == "multi_get_opt":
            hk, start, stop, opts = args
            r = c.multi_get_opt(hk, start, stop, MultiGetOptions(**opts))
        elif method == "scan":
            hk, start, stop, opts = args
            r = [[h, s, v] for (h, s), v in c.get_scanner(hk, start, stop, ScanOptions(**opts))]
        elif method == "unordered_scan":
            r = sorted([h, s, v] for sc in c.get_unordered_scanners(args[0], ScanOptions(**args[1]))
                       for (h, s), v in sc)
        else:
            r = getattr(c, method)(*args)
        results.append(jsonable(r))
    return results


def written(prefix: str) -> tuple[list, list]:
    """A write plan and the read plan that checks it (text keys: see the driver's docstring)."""
    hk1, hk2, hk3 = f"{prefix}-one", f"{prefix}-二", f"{prefix}-three"
    writes = [
        ["set", hk1, "plain", "value"],
        ["set", hk1, "utf8", "值-ü"],
        ["set", hk1, "ttl", "expires later", 3600],
        ["set", hk1, "gone", "x"],
        ["remove", hk1, "gone"],
        ["multi_set", hk2, {f"k{i}": f"v{i}" for i in range(8)}],
        ["multi_set", hk3, {"a": "1", "b": "2", "c": "3"}, 1800],
        ["multi_del", hk2, ["k6", "k7"]],
    ]
    reads = []
    for sk in ("plain", "utf8", "ttl", "gone", "never"):
        reads += [["get", hk1, sk], ["ttl", hk1, sk], ["exist", hk1, sk]]
    reads += [
        ["multi_get", hk2, ["k1", "k3", "k7", "nope"]],
        ["multi_get", hk2, None],
        ["multi_get", hk3, None],
        ["multi_get_opt", hk2, "k1", "k4", {}],
        ["multi_get_opt", hk2, "k1", "k4", {"start_inclusive": False, "stop_inclusive": True}],
        ["multi_get_opt", hk2, "k0", "k9", {"reverse": True}],
        ["multi_get_opt", hk2, "k0", "k9", {"no_value": True}],
        ["multi_get_opt", hk2, "k", "l", {"sortkey_filter_type": 3, "sortkey_filter_pattern": "2"}],
        ["get_sort_keys", hk2],
        ["sort_key_count", hk2],
        ["sort_key_count", hk3],
        ["ttl", hk3, "b"],
        ["scan", hk2, "k0", "k9", {"batch_size": 2}],
        ["scan", hk2, "k2", "k5", {"start_inclusive": False, "stop_inclusive": True}],
        ["scan", hk1, "a", "z", {}],
        ["unordered_scan", 3, {"batch_size": 5}],
    ]
    return writes, reads


def assert_same(theirs: list, mine: list, plan: list) -> None:
    assert len(theirs) == len(mine) == len(plan)
    for call, a, b in zip(plan, theirs, mine):
        if call[0] in ("ttl", "exist") and a[0] == OK and a[1] != -1:
            assert b[0] == OK and abs(a[1] - b[1]) <= 2, call  # read a moment apart
        else:
            assert a == b, call


@pytest.fixture(scope="module")
def ob():
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}) as box:
        yield box


@pytest.fixture(scope="module")
def client(ob):
    c = Pegasus(ob.meta_addrs, "temp")
    assert c.init()
    yield c
    c.close()


def test_pegload_writes_the_official_client_reads(ob, client):
    writes, reads = written("ours")
    assert [jsonable(x) for x in ours(client, writes)] == \
        [[OK, None]] * 7 + [[OK, 2]]
    mine = ours(client, reads)
    assert_same(official(ob, reads), mine, reads)
    assert mine[0] == [OK, "0x" + b"value".hex()]
    assert mine[3] == [OK, "0x" + "值-ü".encode().hex()]


def test_official_client_writes_pegload_reads(ob, client):
    writes, reads = written("theirs")
    assert official(ob, writes) == [[OK, None]] * 7 + [[OK, 2]]
    theirs = official(ob, reads)
    assert_same(theirs, ours(client, reads), reads)
    assert theirs[-1]  # the whole-table scan saw both sides' records


def test_binary_values_both_ways(ob, client):
    value = bytes(range(256))
    assert client.set("bin-ours", "s", value) == (OK, None)
    plan = [["get", "bin-ours", "s"], ["multi_get", "bin-ours", ["s"]]]
    assert official(ob, plan) == ours(client, plan) == \
        [[OK, "0x" + value.hex()], [OK, [["0x" + b"s".hex(), "0x" + value.hex()]]]]
