"""The official Python client's own test suite (tests/test_basics.py of the pypegasus3 wheel,
unmodified, from site-packages) against the onebox on the default onebox ports.

``python -m twisted.trial`` needs ``pkg_resources``, which current setuptools no longer ships, so
trial is started through its entry function (what the ``trial`` script does). It runs from a
temporary directory so that our repository's ``tests/`` cannot shadow the wheel's ``tests``.

Ordering: ``test_binary_get_ok`` stores a random, usually non-UTF-8 hash key, and pypegasus3's
scanner decodes every scanned hash key as UTF-8, so in one alphabetical run the two unordered-scan
tests fail in the *client* (UnicodeDecodeError in ``restore_key``) on any server that keeps the
record. We therefore run every test once with the unordered scans first (on a fresh onebox),
then the whole suite in one go and accept exactly that client-side failure there.
"""
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

pytestmark = pytest.mark.integration

META_PORTS = (34601, 34602, 34603)
REPLICA_PORTS = (34801, 34802, 34803)
TRIAL = "import sys; from twisted.scripts.trial import run; sys.argv[0] = 'trial'; run()"
SUITE = "tests.test_basics.TestBasics"
UNORDERED = ("test_unordered_scan_all", "test_unordered_scan_none")
MAY_FAIL = "test_set_timeout"  # assumes a 910 KB write cannot finish in 5 ms; disabled upstream
# Sets a 10 s TTL, waits 2 s and expects exactly 8: TTLs are whole seconds on every Pegasus
# server, so when the set lands late in a second and the read after the next boundary it reads 7
# (about 1-3% of runs on a busy machine). Such a failure is re-run alone, and must then pass.
SECOND_BOUNDARY = "test_ttl_N_with_phase"
RESULT_LINE = re.compile(r"^\s+(test_\w+) \.\.\.\s+\[(OK|FAIL|ERROR|SKIPPED|TODO|SUCCESS)\]\s*$", re.M)


def _ports_free() -> bool:
    for p in META_PORTS + REPLICA_PORTS:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _suite_tests() -> list[str]:
    """The suite's test names, read by a fresh interpreter in a neutral directory (inside pytest
    the name ``tests`` means our own test tree)."""
    code = ("import tests.test_basics as m; "
            "print(' '.join(sorted(n for n in dir(m.TestBasics) if n.startswith('test_'))))")
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    return out.split()


def run_trial(*names: str, rerun_boundary: bool = True) -> tuple[dict[str, str], str]:
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run([sys.executable, "-c", TRIAL, *names], cwd=cwd, capture_output=True,
                              text=True, timeout=240)
    out = proc.stdout + proc.stderr
    results = dict(RESULT_LINE.findall(out))
    if rerun_boundary and results.get(SECOND_BOUNDARY) == "FAIL" and "7 != 8" in out:
        for _ in range(2):
            again, again_out = run_trial(f"{SUITE}.{SECOND_BOUNDARY}", rerun_boundary=False)
            out += f"\n--- {SECOND_BOUNDARY} re-run (second boundary) ---\n" + again_out
            if again.get(SECOND_BOUNDARY) == "OK":
                results[SECOND_BOUNDARY] = "OK"
                break
    return results, out


@pytest.fixture(scope="module")
def default_port_onebox():
    from pegload.onebox import Onebox

    deadline = time.monotonic() + 60  # another run's onebox may hold them for a few seconds
    while not _ports_free():
        if time.monotonic() > deadline:
            pytest.skip("the default onebox ports 34601-34603/34801-34803 are in use")
        time.sleep(0.5)
    with Onebox(meta_ports=META_PORTS, replica_ports=REPLICA_PORTS, tables={"temp": 8}) as ob:
        yield ob


def test_official_suite_passes(default_port_onebox):
    names = _suite_tests()
    assert len(names) == 33
    first, out1 = run_trial(*(f"{SUITE}.{n}" for n in UNORDERED))
    rest, out2 = run_trial(*(f"{SUITE}.{n}" for n in names if n not in UNORDERED))
    results = {**first, **rest}
    assert sorted(results) == names, out1 + out2
    failed = {n: r for n, r in results.items() if r not in ("OK", "SUCCESS") and n != MAY_FAIL}
    assert not failed, out1 + out2
    print(f"official suite: {sum(r == 'OK' for r in results.values())}/33 OK; {MAY_FAIL}: {results[MAY_FAIL]}")


def test_official_suite_in_one_alphabetical_run(default_port_onebox):
    """The unmodified one-shot run: everything passes except (maybe) test_set_timeout and the
    unordered scans, which may only fail in the client's UTF-8 decoding of a binary hash key."""
    results, out = run_trial(SUITE)
    assert sorted(results) == _suite_tests(), out
    for name, result in results.items():
        if result in ("OK", "SUCCESS") or name == MAY_FAIL:
            continue
        assert name in UNORDERED, out
        block = out[out.index(f"{SUITE}.{name}") - 3000: out.index(f"{SUITE}.{name}")]
        assert "restore_key" in block and "UnicodeDecodeError" in block, out
