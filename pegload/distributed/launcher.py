"""The coordinator's side of a Dask run: place one agent per Dask worker, hand the worker pool
process handles that live on other hosts, watch the agents, correct their clocks.

:class:`DaskLauncher` is the launcher seam of :class:`pegload.coordinator.workers.WorkerPool`
(the local one starts child processes). ``spawn`` submits :func:`pegload.distributed.agent.run_agent`
to each chosen Dask worker, pinned there (``workers=[address]``, ``allow_other_workers=False``,
``pure=False``, no retries), waits for every agent's control connection and its workers' pids,
measures each agent's clock offset and returns one :class:`RemoteProc` per worker. From then on a
thread serves the control connections: pongs (the clock, again every second), heartbeats with
CPU figures, worker exits with their log tails. An agent whose connection closes or who is
silent for :data:`~pegload.distributed.control.LOST_AFTER_S` is lost: its workers read as
exited, so the pool reports them lost and the run is marked crashed.

The worker pool passes every message through :meth:`outbound` / :meth:`inbound`: a
``StartPhase`` instant is moved onto the agent's clock, an interval's timestamps back onto the
coordinator's, and each interval is also booked to its agent (:mod:`pegload.distributed.book`).
"""
from __future__ import annotations

import secrets
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pegload.distributed import DaskLaunchError
from pegload.distributed.agent import AgentSpec, run_agent
from pegload.distributed.book import AgentBook, PhaseGrid, shift_snapshot
from pegload.distributed.clock import (
    SAMPLES,
    ClockOffset,
    Exchange,
    estimate,
    uncertainty_reason,
)
from pegload.distributed.control import LOST_AFTER_S, ControlError, Reader, encode
from pegload.runner.protocol import Interval, Message, PhaseDone, StartPhase

RUN_ENDED = "the run ended"  # what close() marks every agent with (not a failure)
PING_EVERY_S = 1.0  # clock re-measured this often during the run (drift is reported)
RECENT_EXCHANGES = 16  # the running estimate keeps the best of this many recent exchanges


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def scheduler_host(address: str) -> str:
    """``tcp://10.0.0.5:8786`` -> ``10.0.0.5``."""
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0].strip("[]")


def default_listen_host(address: str) -> str:
    """The coordinator's address as the scheduler's network sees it: loopback when the
    scheduler is on loopback, else the local address the route to the scheduler leaves from
    (a UDP ``connect`` only consults the routing table; nothing is sent)."""
    host = scheduler_host(address)
    if _is_loopback(host):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 9))
        return str(probe.getsockname()[0])


class RemoteProc:
    """A worker process on an agent's host, with the part of ``subprocess.Popen`` the worker
    pool uses: ``pid``, ``poll``, ``wait``, ``kill``, plus ``describe_exit``."""

    def __init__(self, agent: _AgentLink, worker_id: int, pid: int) -> None:
        self.agent = agent
        self.worker_id = worker_id
        self.pid = pid
        self.returncode: int | None = None
        self.how: str | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self.agent.changed:
            if not self.agent.changed.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired(f"worker {self.worker_id}", timeout or 0.0)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        self.agent.send({"t": "kill", "wid": self.worker_id})

    def describe_exit(self) -> str:
        code = self.returncode
        where = self.agent.where
        if code is None:
            return f"is still running on {where}"
        if self.how:
            return f"was lost with {self.how}"
        if code < 0:
            return f"was killed by signal {-code} on {where}"
        return f"exited with status {code} on {where}"


class _AgentLink:
    """The coordinator's view of one agent."""

    def __init__(self, index: int, dask_worker: str, worker_ids: tuple[int, ...], grid: PhaseGrid) -> None:
        self.index = index
        self.dask_worker = dask_worker
        self.worker_ids = worker_ids
        self.sock: socket.socket | None = None
        self.reader = Reader()
        self.host = ""
        self.pid = 0
        self.procs: dict[int, RemoteProc] = {}
        self.exchanges: list[Exchange] = []
        self.clock: ClockOffset | None = None  # the estimate used to correct this agent's times
        self.latest: ClockOffset | None = None  # the running estimate (drift = latest - clock)
        self.max_drift_s = 0.0
        self.cpu: dict[int, float] = {}
        self.first_beat: float | None = None
        self.last_seen = time.monotonic()
        self.lost: str | None = None
        self.future: Any = None
        self.book = AgentBook(index, worker_ids, grid)
        self.changed = threading.Condition()
        self._send_lock = threading.Lock()
        self._seq = 0

    @property
    def name(self) -> str:
        return f"agent {self.index}"

    @property
    def where(self) -> str:
        return f"{self.host or '?'} (dask worker {self.dask_worker})"

    def send(self, msg: dict[str, Any]) -> None:
        sock = self.sock
        if sock is None or self.lost is not None:
            return
        with self._send_lock:
            try:
                sock.sendall(encode(msg))
            except OSError:
                pass  # the reader side notices the closed connection and names it

    def ping(self) -> None:
        self._seq += 1
        self.send({"t": "ping", "seq": self._seq, "t0": time.time()})

    def pong(self, msg: dict[str, Any], t3: float) -> None:
        x = Exchange(float(msg["t0"]), float(msg["t1"]), float(msg["t2"]), t3)
        self.exchanges.append(x)
        if self.clock is not None:
            self.latest = estimate(self.exchanges[-RECENT_EXCHANGES:])
            drift = abs(self.latest.offset_s - self.clock.offset_s)
            # only what lies outside both bounds is drift rather than measurement noise
            self.max_drift_s = max(self.max_drift_s, drift - self.latest.bound_s - self.clock.bound_s, 0.0)

    def mark_lost(self, why: str) -> None:
        with self.changed:
            if self.lost is not None:
                return
            self.lost = why
            for p in self.procs.values():
                if p.returncode is None:
                    p.returncode, p.how = -1, f"{self.name} on {self.where}: {why}"
            self.changed.notify_all()


class DaskLauncher:
    """Runs a session's workers on Dask; see the module docstring.

    ``connect()`` first (the number of agents decides the run's worker count), then hand it to
    the worker pool; ``close()`` ends everything, ``annotate(result)`` adds the agents to the run.
    """

    def __init__(self, address: str, *, agents: int | None = None, listen: str | None = None,
                 start_timeout_s: float = 60.0) -> None:
        self.address = address
        self.requested = agents
        self.listen_host = listen or default_listen_host(address)
        self.start_timeout_s = start_timeout_s
        self.client: Any = None
        self.dask_workers: list[str] = []
        self.links: list[_AgentLink] = []
        self.by_worker: dict[int, _AgentLink] = {}
        self.interval_s = 1.0  # the workers' interval (Plan.interval_s default)
        self.grid = PhaseGrid(self.interval_s)
        self.warnings: list[str] = []
        self.say: Callable[[str], None] = lambda text: None  # progress lines (the run's Progress)
        self.warn: Callable[[str], None] = lambda text: None
        self.interrupted: Callable[[], bool] = lambda: False  # Ctrl-C while the agents start
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._log_dir: Path | None = None

    # -- the cluster -------------------------------------------------------------------------
    def connect(self) -> int:
        """Connect to the scheduler and choose the Dask workers; returns the number of agents.

        Raises:
            DaskLaunchError: unreachable scheduler, no workers, or fewer than ``agents``.
        """
        try:
            from distributed import Client
        except ImportError:
            raise DaskLaunchError("--dask needs the `distributed` package: pip install 'pegload[dask]'") from None
        try:
            self.client = Client(self.address, timeout=10, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DaskLaunchError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.close()
            raise DaskLaunchError(f"the Dask scheduler at {self.address} has no workers")
        n = self.requested or len(workers)
        if n > len(workers):
            self.close()
            raise DaskLaunchError(f"--agents {n}, but the Dask scheduler at {self.address} has only "
                                  f"{len(workers)} worker(s); one agent per Dask worker")
        self.dask_workers = workers[:n]
        return n

    # -- the launcher seam -------------------------------------------------------------------
    def spawn(self, worker_ids: list[int], connect: str, token: str, python: str,
              extra_env: dict[str, str], log_dir: Path) -> dict[int, tuple[RemoteProc, Path]]:
        """Start the agents (worker ids split in contiguous, equal shares) and return one
        handle and one local log path per worker. ``python`` is the coordinator's: unused, each
        host runs its Dask worker's interpreter. Raises :class:`DaskLaunchError`."""
        if self.client is None:
            self.connect()
        n = len(self.dask_workers)
        if len(worker_ids) % n:
            raise DaskLaunchError(f"{len(worker_ids)} workers do not split evenly over {n} agents")
        per = len(worker_ids) // n
        self._log_dir = log_dir
        self._listener = socket.create_server((self.listen_host, 0))
        control = f"{self.listen_host}:{self._listener.getsockname()[1]}"
        run_key = secrets.token_hex(4)
        for i, addr in enumerate(self.dask_workers):
            link = _AgentLink(i, addr, tuple(worker_ids[i * per:(i + 1) * per]), self.grid)
            self.links.append(link)
            for wid in link.worker_ids:
                self.by_worker[wid] = link
            spec = AgentSpec(i, control, connect, token, link.worker_ids, dict(extra_env))
            link.future = self.client.submit(run_agent, spec, key=f"pegload-agent-{i}-{run_key}",
                                             workers=[addr], allow_other_workers=False, pure=False, retries=0)
        self._accept(token)
        self._measure_clocks()
        self._thread = threading.Thread(target=self._serve, name="pegload-agents", daemon=True)
        self._thread.start()
        return {wid: (link.procs[wid], log_dir / f"worker-{wid}.log")
                for link in self.links for wid in link.worker_ids}

    def outbound(self, worker_id: int, msg: Message) -> Message:
        if isinstance(msg, StartPhase):
            clock = self.by_worker[worker_id].clock
            if clock is not None:
                return replace(msg, start_at=clock.to_agent(msg.start_at))
        return msg

    def inbound(self, worker_id: int, msg: Message) -> Message:
        link = self.by_worker.get(worker_id)
        if link is None:
            return msg
        if isinstance(msg, Interval):
            try:
                snap, blob = shift_snapshot(msg.blob, -link.clock.offset_s if link.clock else 0.0)
            except ValueError:
                return msg  # the session names the malformed interval
            link.book.add_snapshot(snap)
            return replace(msg, blob=blob)
        if isinstance(msg, PhaseDone):
            link.book.phase_done(msg.phase, msg.sent, msg.dropped)
        return msg

    def close(self) -> None:
        """Stop every agent (they end their workers), cancel the tasks, disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for link in self.links:
            link.send({"t": "stop"})
        futures = [link.future for link in self.links if link.future is not None]
        running = [link.future for link in self.links if link.future is not None and link.lost is None]
        deadline = time.monotonic() + 10.0  # each agent ends its workers, then its task returns
        while running and not all(f.done() for f in running):
            if time.monotonic() > deadline:
                self.warn("pegload: agent task(s) still running 10 s after stop; cancelling them")
                break
            time.sleep(0.05)
        for link in self.links:
            if link.sock is not None:
                link.sock.close()
                link.sock = None
            link.mark_lost(RUN_ENDED)
        if self.client is not None:
            try:
                if futures:
                    self.client.cancel(futures, force=True)
            finally:
                self.client.close(timeout=5)
                self.client = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._sel.close()

    # -- start -------------------------------------------------------------------------------
    def _accept(self, token: str) -> None:
        assert self._listener is not None
        deadline = time.monotonic() + self.start_timeout_s
        self._listener.settimeout(0.1)
        pending: dict[socket.socket, Reader] = {}
        waiting = {link.index: link for link in self.links}
        try:
            while any(not link.procs for link in self.links):
                for link in self.links:
                    if link.future.done() and not link.procs:
                        raise DaskLaunchError(f"agent {link.index} on dask worker {link.dask_worker} "
                                              f"ended before starting its workers: {self._task_error(link)}")
                if self.interrupted():
                    raise DaskLaunchError("interrupted while the agents were starting")
                if time.monotonic() > deadline:
                    late = [f"agent {link.index} (dask worker {link.dask_worker})"
                            for link in self.links if not link.procs]
                    raise DaskLaunchError(f"{', '.join(late)} did not start within {self.start_timeout_s:g} s")
                try:
                    conn, _ = self._listener.accept()
                    conn.settimeout(0.05)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    pending[conn] = Reader()
                except TimeoutError:
                    pass
                for conn, reader in list(pending.items()):
                    try:
                        data = conn.recv(65536)
                        msgs = reader.feed(data) if data else None
                    except TimeoutError:
                        continue
                    except (OSError, ControlError):
                        msgs = None
                    if msgs is None:
                        conn.close()
                        del pending[conn]
                        continue
                    for msg in msgs:
                        self._greet(conn, msg, pending, waiting, token)
        finally:
            for conn in pending:
                conn.close()
            self._listener.close()  # every agent is in (or the start failed): accept no one else
            self._listener = None
        for link in self.links:
            assert link.sock is not None
            link.sock.setblocking(False)
            self._sel.register(link.sock, selectors.EVENT_READ, link)

    def _greet(self, conn: socket.socket, msg: dict[str, Any], pending: dict[socket.socket, Reader],
               waiting: dict[int, _AgentLink], token: str) -> None:
        if msg["t"] == "hello":
            link = waiting.get(int(msg.get("agent", -1)))
            if link is None or msg.get("token") != token or link.sock is not None:
                conn.close()
                pending.pop(conn, None)
                return
            link.sock, link.reader = conn, pending[conn]
            link.host, link.pid = str(msg.get("host", "")), int(msg.get("pid", 0))
            link.dask_worker = str(msg.get("dask_worker") or link.dask_worker)
        elif msg["t"] == "started":
            link = next((x for x in self.links if x.sock is conn), None)
            if link is not None:
                link.procs = {int(w): RemoteProc(link, int(w), int(pid)) for w, pid in msg["pids"].items()}
                del pending[conn]

    def _task_error(self, link: _AgentLink) -> str:
        try:
            exc = link.future.exception(timeout=1)
        except Exception as e:  # noqa: BLE001 - cancelled, or the worker vanished
            return f"{type(e).__name__}: {e}"
        return f"{type(exc).__name__}: {exc}" if exc else "returned early"

    def _measure_clocks(self) -> None:
        """SAMPLES ping exchanges with every agent (in turn per agent, agents in parallel)."""
        deadline = time.monotonic() + 10.0
        for _ in range(SAMPLES):
            for link in self.links:
                link.ping()
            want = {link.index: len(link.exchanges) + 1 for link in self.links}
            while any(len(link.exchanges) < want[link.index] for link in self.links if link.lost is None):
                if time.monotonic() > deadline:
                    raise DaskLaunchError("agents did not answer the clock pings within 10 s")
                self._pump(0.05)
        for link in self.links:
            if link.lost is not None:
                raise DaskLaunchError(f"{link.name} on {link.where} was lost while starting: {link.lost}")
            link.clock = link.latest = estimate(link.exchanges)
            c = link.clock
            self.say(f"{link.name} on {link.where}: {len(link.worker_ids)} worker(s), clock offset "
                     f"{c.offset_s * 1e6:+,.0f} µs ± {c.bound_s * 1e6:,.0f} µs (best of {c.samples} pings)")
            reason = uncertainty_reason(f"{link.name} on {link.where}", c, self.interval_s)
            if reason:
                self.warnings.append(reason)
                self.warn(f"pegload: warning: {reason}; the run will be NOT VALID")

    # -- while running -------------------------------------------------------------------
    def _serve(self) -> None:
        next_ping = time.monotonic() + PING_EVERY_S
        while not self._stop.is_set():
            self._pump(0.1)
            now = time.monotonic()
            for link in self.links:
                if link.lost is None and now - link.last_seen > LOST_AFTER_S:
                    link.mark_lost(f"silent for more than {LOST_AFTER_S:g} s (no heartbeat)")
                elif link.lost is None and link.future.status in ("error", "cancelled", "lost"):
                    link.mark_lost(f"its Dask task ended: {self._task_error(link)}")
            if now >= next_ping:
                next_ping = now + PING_EVERY_S
                for link in self.links:
                    link.ping()

    def _pump(self, timeout: float) -> None:
        for key, _ in self._sel.select(timeout):
            link: _AgentLink = key.data
            try:
                data = link.sock.recv(1 << 16) if link.sock is not None else b""
            except BlockingIOError:
                continue
            except OSError as exc:
                data, err = b"", str(exc)
            else:
                err = ""
            t3 = time.time()
            if not data:
                self._drop(link, f"its connection closed{' (' + err + ')' if err else ''}: "
                                 "the agent or its Dask worker died")
                continue
            link.last_seen = time.monotonic()
            try:
                msgs = link.reader.feed(data)
            except ControlError as exc:
                self._drop(link, f"sent a malformed control message ({exc})")
                continue
            for msg in msgs:
                self._on_message(link, msg, t3)

    def _drop(self, link: _AgentLink, why: str) -> None:
        if link.sock is not None:
            try:
                self._sel.unregister(link.sock)
            except (KeyError, ValueError):
                pass
        link.mark_lost(why)

    def _on_message(self, link: _AgentLink, msg: dict[str, Any], t3: float) -> None:
        kind = msg["t"]
        if kind == "pong":
            link.pong(msg, t3)
        elif kind == "beat":
            if link.first_beat is None:
                link.first_beat = time.monotonic()
            link.cpu = {int(w): float(c) for w, c in msg.get("cpu", {}).items()}
        elif kind == "exited":
            wid = int(msg["wid"])
            if self._log_dir is not None:
                (self._log_dir / f"worker-{wid}.log").write_text(str(msg.get("log", "")), encoding="utf-8")
            with link.changed:
                proc = link.procs.get(wid)
                if proc is not None and proc.returncode is None:
                    proc.returncode = int(msg["code"])
                link.changed.notify_all()

    # -- the report ----------------------------------------------------------------------
    def annotate(self, result: Any) -> None:
        """Add ``agents`` (one entry per agent) to a finished :class:`pegload.report.RunResult`
        and fold the agents' own validity reasons into the run's."""
        from pegload.distributed.report import annotate_result

        annotate_result(result, self)
