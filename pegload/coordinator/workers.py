"""Worker processes as seen from the coordinator: spawn, connect, send, receive, notice deaths.

Workers are fresh interpreters (``python -m pegload.runner``), never forks: the coordinator is
not monkeypatched and must not share gevent state with them. Each one connects back to a
listening socket on 127.0.0.1 and introduces itself with a ``Hello`` carrying a per-run token,
so a stray connection cannot pose as a worker. The pool multiplexes all connections with
``selectors`` in the coordinator's one thread.
"""
from __future__ import annotations

import os
import secrets
import select
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pegload.runner.protocol import FrameReader, Hello, Message, ProtocolError, encode


class WorkerStartError(RuntimeError):
    """A worker did not start or did not connect back in time."""


@dataclass
class WorkerHandle:
    worker_id: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    sock: socket.socket | None = None
    reader: FrameReader = field(default_factory=FrameReader)
    lost: str | None = None  # why the worker is gone, once it is
    last_heard: float = 0.0  # time.monotonic() of the last bytes received from it
    lost_at: float | None = None  # time.time() when the coordinator noticed it was gone

    @property
    def name(self) -> str:
        return f"worker {self.worker_id} (pid {self.proc.pid})"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def exit_description(self) -> str:
        if hasattr(self.proc, "describe_exit"):  # a worker on another host (pegload.distributed)
            return self.proc.describe_exit()
        code = self.proc.poll()
        if code is None:
            return "is still running"
        if code < 0:
            try:
                import signal

                return f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"


@dataclass(frozen=True)
class Event:
    """What :meth:`WorkerPool.poll` reports: a message from a worker, or a worker lost."""

    worker_id: int
    message: Message | None = None
    lost: str | None = None


class LocalLauncher:
    """Where workers run: by default child processes of the coordinator, over loopback.

    The seam for other launchers (:class:`pegload.distributed.launcher.DaskLauncher` runs them
    on Dask workers): ``listen_host`` (the address the pool listens on), ``spawn`` (one
    ``Popen``-like handle and log path per worker id), ``outbound`` / ``inbound`` (every message
    to / from a worker passes through; here unchanged) and ``close``.
    """

    listen_host = "127.0.0.1"

    def spawn(self, worker_ids: list[int], connect: str, token: str, python: str,
              extra_env: dict[str, str], log_dir: Path) -> dict[int, tuple[subprocess.Popen[bytes], Path]]:
        env = dict(os.environ, **extra_env)
        out = {}
        for wid in worker_ids:
            log_path = log_dir / f"worker-{wid}.log"
            with open(log_path, "wb") as log:
                # start_new_session: a terminal Ctrl-C reaches only the coordinator, which then
                # stops the workers in order instead of having them die mid-interval.
                proc = subprocess.Popen(
                    [python, "-m", "pegload.runner", "--connect", connect, "--worker-id", str(wid),
                     "--token", token],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True,
                )
            out[wid] = (proc, log_path)
        return out

    def outbound(self, worker_id: int, msg: Message) -> Message:
        return msg

    def inbound(self, worker_id: int, msg: Message) -> Message:
        return msg

    def close(self) -> None:
        pass


class WorkerPool:
    """Spawns ``count`` workers and talks to them; use as a context manager so they never leak."""

    def __init__(self, count: int, *, python: str = sys.executable, log_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None, launcher: LocalLauncher | None = None) -> None:
        self.count = count
        self._launcher = launcher or LocalLauncher()
        self._python = python
        self._token = secrets.token_hex(16)
        self._log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="pegload-workers-"))
        self._extra_env = extra_env or {}
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self.workers: dict[int, WorkerHandle] = {}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, connect_timeout_s: float = 30.0) -> None:
        """Spawn every worker and wait until each has connected and said Hello.

        Raises:
            WorkerStartError: a worker exited or did not connect within ``connect_timeout_s``.
        """
        host = self._launcher.listen_host
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        port = self._listener.getsockname()[1]
        self._log_dir.mkdir(parents=True, exist_ok=True)
        procs = self._launcher.spawn(list(range(self.count)), f"{host}:{port}", self._token, self._python,
                                     self._extra_env, self._log_dir)
        for wid, (proc, log_path) in procs.items():
            self.workers[wid] = WorkerHandle(wid, proc, log_path)
        self._accept_all(time.monotonic() + connect_timeout_s)

    def _accept_all(self, deadline: float) -> None:
        assert self._listener is not None
        pending: dict[socket.socket, FrameReader] = {}
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        try:
            while any(w.sock is None for w in self.workers.values()):
                for w in self.workers.values():
                    if w.sock is None and w.proc.poll() is not None:
                        raise WorkerStartError(
                            f"{w.name} {w.exit_description()} before connecting:\n{w.log_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    late = [w.name for w in self.workers.values() if w.sock is None]
                    raise WorkerStartError(f"{', '.join(late)} did not connect within the start timeout")
                for key, _ in self._sel.select(min(remaining, 0.1)):
                    if key.fileobj is self._listener:
                        conn, _addr = self._listener.accept()
                        conn.setblocking(False)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        pending[conn] = FrameReader()
                        self._sel.register(conn, selectors.EVENT_READ, None)
                    else:
                        self._read_hello(key.fileobj, pending)  # type: ignore[arg-type]
        finally:
            self._sel.unregister(self._listener)
            for conn in pending:
                self._sel.unregister(conn)
                conn.close()
            self._listener.close()
        for w in self.workers.values():
            self._sel.register(w.sock, selectors.EVENT_READ, w.worker_id)  # type: ignore[arg-type]

    def _read_hello(self, conn: socket.socket, pending: dict[socket.socket, FrameReader]) -> None:
        try:
            data = conn.recv(65536)
            msgs = pending[conn].feed(data) if data else None
        except (OSError, ProtocolError):
            msgs = None
        if msgs == []:  # no whole frame yet
            return
        self._sel.unregister(conn)
        reader = pending.pop(conn)
        hello = msgs[0] if msgs else None
        w = self.workers.get(getattr(hello, "worker_id", -1))
        if not isinstance(hello, Hello) or hello.token != self._token or w is None or w.sock is not None:
            conn.close()  # closed, garbage or a stranger: not one of ours
            return
        w.sock, w.reader = conn, reader

    def close(self, grace_s: float = 5.0) -> None:
        """Close connections; give workers ``grace_s`` to exit, then kill what is left."""
        for w in self.workers.values():
            self._drop_socket(w)
        deadline = time.monotonic() + grace_s
        for w in self.workers.values():
            try:
                w.proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        self._sel.close()
        self._launcher.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- messaging -------------------------------------------------------------------------
    @property
    def alive(self) -> list[int]:
        return [wid for wid, w in self.workers.items() if w.lost is None]

    def send(self, worker_id: int, msg: Message) -> None:
        """Send to one worker; a worker that cannot be reached is marked lost, not raised."""
        w = self.workers[worker_id]
        if w.lost is not None or w.sock is None:
            return
        data = encode(self._launcher.outbound(worker_id, msg))
        try:
            w.sock.setblocking(True)  # control messages are small; the worker is reading
            w.sock.sendall(data)
        except OSError as exc:
            self._mark_lost(w, f"connection failed while sending ({exc})")
        finally:
            if w.sock is not None:
                w.sock.setblocking(False)

    def broadcast(self, msg: Message) -> None:
        for wid in self.alive:
            self.send(wid, msg)

    def poll(self, timeout_s: float) -> list[Event]:
        """Messages that arrived within ``timeout_s``, and workers that died or hung up."""
        events: list[Event] = []
        for key, _ in self._sel.select(timeout_s):
            w = self.workers[key.data]
            try:
                data = w.sock.recv(1 << 20)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError as exc:
                data, err = b"", str(exc)
            else:
                err = ""
            w.last_heard = time.monotonic()
            if not data:
                self._mark_lost(w, err or "closed its connection")
                events.append(Event(w.worker_id, lost=w.lost))
                continue
            try:
                events.extend(Event(w.worker_id, message=self._launcher.inbound(w.worker_id, m))
                              for m in w.reader.feed(data))
            except ProtocolError as exc:
                self._mark_lost(w, f"sent a malformed frame ({exc})")
                events.append(Event(w.worker_id, lost=w.lost))
        for w in self.workers.values():  # a process can die with its socket still readable later
            if w.lost is None and w.proc.poll() is not None and not self._readable(w):
                self._mark_lost(w, "")
                events.append(Event(w.worker_id, lost=w.lost))
        return events

    def heard_from_all(self) -> None:
        """Start every live worker's silence clock now (at a phase start)."""
        now = time.monotonic()
        for w in self.workers.values():
            w.last_heard = max(w.last_heard, now)

    def silent(self, limit_s: float) -> list[Event]:
        """Mark lost (and kill) the live workers not heard from for more than ``limit_s``: a
        stopped, frozen or starved process. A heartbeat comes every fraction of that."""
        events = []
        now = time.monotonic()
        for w in self.workers.values():
            if w.lost is None and w.sock is not None and w.last_heard and now - w.last_heard > limit_s:
                quiet = now - w.last_heard
                w.proc.kill()  # SIGKILL works on a stopped process; it must not resume the load later
                self._mark_lost(w, "")
                w.lost = (f"{w.name} fell silent: no heartbeat for {quiet:.1f} s (frozen, stopped or "
                          "starved); killed")
                events.append(Event(w.worker_id, lost=w.lost))
        return events

    def _readable(self, w: WorkerHandle) -> bool:
        ready = select.select([w.sock], [], [], 0)[0] if w.sock is not None else []
        return bool(ready)

    def _mark_lost(self, w: WorkerHandle, detail: str) -> None:
        if w.lost is not None:
            return
        try:
            w.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        how = w.exit_description()
        w.lost = f"{w.name} {how}" + (f": {detail}" if detail and w.proc.poll() is None else "")
        w.lost_at = time.time()
        self._drop_socket(w)

    def _drop_socket(self, w: WorkerHandle) -> None:
        if w.sock is None:
            return
        try:
            self._sel.unregister(w.sock)
        except (KeyError, ValueError):
            pass
        w.sock.close()
        w.sock = None
