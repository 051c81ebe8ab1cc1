"""Shared fixtures. There is deliberately no tests/__init__.py (pypegasus3 installs a top-level
``tests`` package); pytest runs with --import-mode=importlib, so helpers shared between test files
live here as fixtures.

Onebox fixtures start the embedded cluster as a child process on free loopback ports (port 0)
and wait until every port answers (no fixed sleeps).
"""
from __future__ import annotations

import socket
import struct

import pytest

# ---------------------------------------------------------------------------------------------
# onebox: a running embedded cluster


@pytest.fixture(scope="session")
def onebox():
    """One onebox for the whole session: 3 metas + 3 replicas on free loopback ports, table
    ``temp`` with 8 partitions (app_id 1). Shared: tests must not change its faults or move its
    primaries (use ``onebox_factory`` for that) and should use their own keys."""
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}) as ob:
        yield ob


@pytest.fixture
def onebox_factory():
    """``start(**Onebox kwargs) -> Onebox``: private oneboxes (free ports unless given) for tests
    that inject faults, move primaries or need other tables; all stopped at the end."""
    from pegload.onebox import Onebox

    started = []

    def start(**kwargs):
        ob = Onebox(**kwargs)
        started.append(ob)
        return ob.start()

    yield start
    for ob in started:
        ob.stop()


@pytest.fixture
def fault_onebox(onebox_factory):
    """A private onebox (temp:8 and t32:32) whose faults a test may change."""
    return onebox_factory(tables={"temp": 8, "t32": 32})


class RawConnection:
    """A blocking Pegasus connection speaking raw frames: send pre-built request frames, read
    whole response frames (by the length prefix). For wire-level tests of the onebox."""

    def __init__(self, addr: str, timeout: float = 10.0) -> None:
        from pegload.client.wire import parse_address

        self.sock = socket.create_connection(parse_address(addr), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed by the onebox")
            self._buf += chunk

    def recv_frame(self) -> bytes:
        self._fill(4)
        n = struct.unpack_from(">i", self._buf)[0]
        self._fill(n)
        frame, self._buf = self._buf[:n], self._buf[n:]
        return frame

    def call(self, frame: bytes):
        """Send one request and decode its reply (``wire.Response``)."""
        from pegload.client import wire

        self.send(frame)
        return wire.decode_response(self.recv_frame())

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection (EOF or reset) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1 << 16) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_connect():
    """``connect("ip:port") -> RawConnection``; every connection is closed at the end."""
    conns = []

    def connect(addr: str, timeout: float = 10.0) -> RawConnection:
        c = RawConnection(addr, timeout)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        c.close()


# ---------------------------------------------------------------------------------------------
# onebox internals without sockets: one partition over a RocksDB store in tmp_path


class FakeClock:
    """Unix seconds under test control; ``t`` starts at a fixed, realistic time."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    @property
    def epoch_now(self) -> int:
        """Pegasus-epoch seconds at ``t``."""
        return int(self.t) - 1451606400


@pytest.fixture
def fake_clock():
    return FakeClock()


@pytest.fixture
def partition(tmp_path, fake_clock):
    """A ``pegload.onebox.partition.Partition`` (app 1, index 0) with a fresh store, judged by
    ``fake_clock`` for TTLs and scan-context expiry."""
    from pegload.onebox.partition import Partition
    from pegload.onebox.storage import PartitionStore

    p = Partition(1, 0, PartitionStore(str(tmp_path / "1.0.pegasus")), clock=fake_clock, mono=fake_clock)
    yield p
    p.close()


# ---------------------------------------------------------------------------------------------
# harness: `pegload run` as a child process (added by the runner/coordinator engineer; used by
# tests/integration/test_harness_*.py)


class PegloadCli:
    """Runs the real `pegload` command line (``python -m pegload.cli``) from tests."""

    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.procs: list = []

    def scenario(self, text: str, name: str = "scenario"):
        """Write a scenario file (dedented) into tmp_path and return its path."""
        import textwrap

        path = self.tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def argv(self, *args) -> list:
        import sys

        return [sys.executable, "-m", "pegload.cli", *map(str, args)]

    def run(self, *args, timeout: float = 120.0):
        """Run to completion; returns the CompletedProcess (text stdout/stderr)."""
        import subprocess

        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                              cwd=self.tmp_path)

    def start(self, *args):
        """Start without waiting (stdout/stderr piped, text); killed at teardown if still running."""
        import subprocess

        proc = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=self.tmp_path)
        self.procs.append(proc)
        return proc

    @staticmethod
    def summary(report_dir) -> dict:
        import json
        from pathlib import Path

        return json.loads((Path(report_dir) / "summary.json").read_text(encoding="utf-8"))

    @staticmethod
    def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
        """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    @staticmethod
    def children(pid: int) -> list:
        """Direct child pids of ``pid`` (Linux /proc)."""
        from pathlib import Path

        out = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return out

    @staticmethod
    def cmdline(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


@pytest.fixture
def pegload_cli(tmp_path):
    """A :class:`PegloadCli` working in tmp_path; child processes are killed at teardown."""
    cli = PegloadCli(tmp_path)
    yield cli
    cli.close()
