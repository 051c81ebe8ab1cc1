"""Verification mode over the wire: a clean run finds nothing wrong (no false alarms under a
write-heavy mix), and values corrupted or deleted behind pegload's back during the run are
caught and named."""
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.integration

# another process writes behind the harness's back: a wrong value for some records, deletes others
TAMPER = """\
from gevent import monkey; monkey.patch_all()
import sys
from pegload.client import Pegasus
c = Pegasus(sys.argv[1].split(","), "temp")
assert c.init()
for i in range(4):
    assert c.set(b"hk%08d" % i, b"sk00001", b"not what pegload wrote")[0] == 0
    assert c.remove(b"hk%08d" % (i + 10), b"sk00002")[0] == 0
c.close()
"""


def test_clean_run_with_every_write_kind_verifies_every_read(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    path = pegload_cli.scenario("""\
        workers: 2
        concurrency: 4
        verify: true
        data: {hash_keys: 30, sort_keys: 6, value_size: {uniform: [20, 300]}}
        phases:
          - name: mixed
            ops: 1500
            mix:
              get: 20
              set: 10
              multi_get: {weight: 5, sort_keys: 3}
              multi_set: {weight: 5, sort_keys: 2}
              remove: 5
              multi_del: {weight: 3, sort_keys: 2}
              incr: 5
              check_and_set: 3
              read_modify_write: 3
              exist: 3
              ttl: 3
              batch_get: {weight: 3, records: 4}
              multi_get_range: {weight: 3, span: 3}
              scan: {weight: 2, records: 10}
        """, "clean")
    out = pegload_cli.tmp_path / "report"
    r = pegload_cli.run("run", path, "--meta", ",".join(ob.meta_addrs), "--table", "temp", "--report-dir", out)
    assert r.returncode == 0, r.stderr + r.stdout
    mixed = {p["name"]: p for p in pegload_cli.summary(out)["phases"]}["mixed"]
    assert mixed["all"]["count"] == 1500 and mixed["all"]["error_count"] == 0
    assert mixed["all"]["verification_errors"] == 0
    assert "verification, phase mixed: every read checked out" in r.stdout


def test_corrupted_and_deleted_values_are_caught(pegload_cli, onebox_factory):
    ob = onebox_factory(tables={"temp": 8})
    meta = ",".join(ob.meta_addrs)
    # 20 hash keys x 5 sort keys = 100 records, read uniformly 500 times a second for 4 s
    path = pegload_cli.scenario("""\
        workers: 1
        concurrency: 4
        verify: true
        data: {hash_keys: 20, sort_keys: 5, value_size: 64}
        phases:
          - name: read
            duration: 4s
            rate: 500
            mix: {get: 1}
        """, "tamper")
    out = pegload_cli.tmp_path / "report"
    ob.counters(reset=True)
    proc = pegload_cli.start("run", path, "--meta", meta, "--table", "temp", "--report-dir", out, "--quiet")
    tampered = {}

    def tamper_once_reads_run():
        pegload_cli.wait_for(lambda: ob.counters()["requests"].get("RPC_RRDB_RRDB_GET", 0) >= 100,
                             60, "the read phase to start")
        tampered["result"] = subprocess.run([sys.executable, "-c", TAMPER, meta], capture_output=True,
                                            text=True, timeout=60)

    t = threading.Thread(target=tamper_once_reads_run, daemon=True)
    t.start()
    stdout, stderr = proc.communicate(timeout=120)
    t.join(timeout=60)
    assert tampered["result"].returncode == 0, tampered["result"].stderr
    assert proc.returncode == 0, stderr + stdout

    s = pegload_cli.summary(out)
    get = {p["name"]: p for p in s["phases"]}["read"]["ops"]["get"]
    assert get["error_count"] == 0
    assert get["verification_errors"] >= 8  # each of the 8 records is read ~20 times after the damage
    examples = "\n".join(s["self_check"]["phases"]["read"]["verification_examples"])
    assert "corrupt" in examples and "missing" in examples
    assert "hk00000000/sk00001" in examples or "hk00000001/sk00001" in examples \
        or "hk00000002/sk00001" in examples or "hk00000003/sk00001" in examples
    assert "verification, phase read:" in stdout and "failure(s)" in stdout
