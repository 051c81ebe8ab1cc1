"""An agent: a long-running task on one Dask worker that owns that host's pegload workers.

:func:`run_agent` is what the coordinator submits to a Dask worker. It runs in one of the Dask
worker's threads and never imports gevent: the Dask worker process is not monkeypatched and must
not be. It starts fresh worker interpreters (``python -m pegload.runner``, exactly as the local
path does), which connect straight to the coordinator with their global worker ids; the agent
itself keeps a small control connection (:mod:`pegload.distributed.control`) to answer clock
pings, send heartbeats and CPU figures, report worker exits with their log tails, and kill on
request.

No orphans: each worker gets ``PR_SET_PDEATHSIG = SIGKILL`` (Linux), so it dies with the Dask
worker process (and with this thread, which outlives the workers by construction); when the
coordinator's control connection drops or says stop, the agent ends its workers (they also stop
on their own when their coordinator connection closes) and returns.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pegload.distributed.control import BEAT_S, ControlError, Reader, encode

STOP_GRACE_S = 5.0  # after stop (or losing the coordinator), time for workers to exit by themselves
LOG_TAIL_BYTES = 8192


@dataclass(frozen=True)
class AgentSpec:
    """What an agent needs; plain data, pickled by Dask to the worker."""

    index: int
    control: str  # coordinator's control listener, HOST:PORT
    connect: str  # coordinator's worker listener, HOST:PORT
    token: str
    worker_ids: tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec function that makes the child die with the thread that started it (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _dask_worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process; None when it is gone (or psutil is missing)."""
    try:
        import psutil  # a dependency of distributed
    except ImportError:
        return None
    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.Error, OSError):
        return None
    return float(t.user + t.system)


class _Agent:
    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        host, _, port = spec.control.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(10)
        self.reader = Reader()
        self.logs = Path(tempfile.mkdtemp(prefix=f"pegload-agent{spec.index}-"))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.reported: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.connected = True

    def send(self, msg: dict[str, Any]) -> None:
        if not self.connected:
            return
        try:
            self.sock.sendall(encode(msg))
        except OSError:
            self.connected = False

    def spawn(self) -> None:
        s = self.spec
        env = dict(os.environ, **s.env)
        preexec = _parent_death_signal()
        for wid in s.worker_ids:
            with open(self.logs / f"worker-{wid}.log", "wb") as log:
                self.procs[wid] = subprocess.Popen(
                    [sys.executable, "-m", "pegload.runner", "--connect", s.connect,
                     "--worker-id", str(wid), "--token", s.token],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True, preexec_fn=preexec)  # noqa: PLW1509 - only prctl + getppid, see above
        self.send({"t": "started", "pids": {str(w): p.pid for w, p in self.procs.items()}})

    def _log_tail(self, wid: int) -> str:
        try:
            with open(self.logs / f"worker-{wid}.log", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(f.tell() - LOG_TAIL_BYTES, 0))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _reap(self) -> bool:
        """Report workers that ended; True when every worker has."""
        for wid, proc in self.procs.items():
            code = proc.poll()
            if code is not None and wid not in self.reported:
                self.reported[wid] = code
                self.send({"t": "exited", "wid": wid, "code": code, "log": self._log_tail(wid)})
        return len(self.reported) == len(self.procs)

    def _beat(self) -> None:
        for wid, proc in self.procs.items():
            if wid not in self.reported:
                cpu = _cpu_seconds(proc.pid)
                if cpu is not None:
                    self.cpu[wid] = cpu
        self.send({"t": "beat", "cpu": {str(w): c for w, c in self.cpu.items()}})

    def _handle(self, msg: dict[str, Any], t1: float) -> bool:
        """Act on one message; False when it says stop."""
        kind = msg["t"]
        if kind == "ping":
            self.send({"t": "pong", "seq": msg.get("seq"), "t0": msg.get("t0"), "t1": t1, "t2": time.time()})
        elif kind == "kill":
            proc = self.procs.get(int(msg.get("wid", -1)))
            if proc is not None and proc.poll() is None:
                proc.kill()
        elif kind == "stop":
            return False
        return True

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        self.sock.setblocking(False)
        sel.register(self.sock, selectors.EVENT_READ)
        next_beat = time.monotonic()
        try:
            while self.connected:
                for _key, _ in sel.select(0.05):
                    try:
                        data = self.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    t1 = time.time()
                    if not data:
                        self.connected = False  # the coordinator is gone: stop everything
                        break
                    try:
                        msgs = self.reader.feed(data)
                    except ControlError:
                        self.connected = False
                        break
                    for msg in msgs:
                        if not self._handle(msg, t1):
                            return
                self._reap()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + BEAT_S
                    self._beat()
        finally:
            sel.close()

    def stop(self) -> None:
        """End every worker: they stop by themselves once the coordinator is done with them;
        whatever is left after the grace period is killed."""
        deadline = time.monotonic() + STOP_GRACE_S
        while not self._reap() and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._reap()

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            shutil.rmtree(self.logs, ignore_errors=True)


def run_agent(spec: AgentSpec) -> dict[str, Any]:
    """The Dask task: runs until the coordinator says stop or goes away; returns the exit codes."""
    agent = _Agent(spec)
    try:
        agent.send({"t": "hello", "agent": spec.index, "token": spec.token, "host": socket.gethostname(),
                    "pid": os.getpid(), "dask_worker": _dask_worker_address()})
        agent.spawn()
        agent.serve()
    finally:
        agent.stop()
        agent.close()
    return {"agent": spec.index, "exit_codes": {str(w): c for w, c in agent.reported.items()}}
