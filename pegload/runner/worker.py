"""The worker process: connect to the coordinator, open one client, run phases on command.

Started as ``python -m pegload.runner --connect HOST:PORT --worker-id N --token T`` (gevent is
already monkeypatched by ``__main__``). The main greenlet reads control messages; a phase runs in
its own greenlet so that ``StopPhase`` and ``Shutdown`` are heard while it runs. If the
coordinator goes away (its connection closes) the worker stops at once: a worker must never
keep loading a cluster on its own.

Exit status: 0 after ``Shutdown``; 2 when the client could not be initialised (the coordinator
was told why); 3 when the coordinator vanished (one line on stderr says so, no traceback: the
process ends at once, whichever greenlet noticed); 4 on an internal error (reported first as
``WorkerFailed`` with the traceback).
"""
from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import sys
import traceback
from typing import Any, NoReturn

import gevent
from gevent.lock import Semaphore

from pegload.client import Pegasus
from pegload.client.errors import PegasusError
from pegload.metrics import IntervalRecorder
from pegload.runner.ops import Failures
from pegload.runner.phase import PhaseClock, PhaseRunner
from pegload.runner import timer
from pegload.runner.protocol import (HEARTBEAT_PERIOD_S, FrameReader, Heartbeat, Hello, InitFailed, Interval,
                                     Message, PhaseDone, Plan, ProtocolError, Ready, Shutdown, StartPhase,
                                     StopPhase, WorkerFailed, encode)
from pegload.runner.selfcheck import SelfCheck
from pegload.workload import WorkerWorkload

LOAD_PHASE_INDEX = -1  # same convention as pegload.coordinator.phases
LOAD_PHASE_NAME = "load"


EXIT_COORDINATOR_GONE = 3


def coordinator_gone(worker_id: int, why: str) -> NoReturn:
    """End the worker now, quietly: the coordinator is gone, so nobody wants the load or its
    figures (exiting also closes the client's connections to the cluster)."""
    try:
        sys.stderr.write(f"pegload worker {worker_id}: {why}; stopping\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_COORDINATOR_GONE)


class Channel:
    """The worker's end of the coordinator connection; sends are serialised by a lock because
    the interval clock and the control loop both send. A send that fails means the coordinator
    is gone: the worker ends (``coordinator_gone``) instead of raising into a greenlet."""

    def __init__(self, sock: socket.socket, worker_id: int = 0) -> None:
        self.sock = sock
        self.worker_id = worker_id
        self._reader = FrameReader()
        self._pending: list[Message] = []
        self._lock = Semaphore()

    def send(self, msg: Message) -> None:
        data = encode(msg)
        try:
            with self._lock:
                self.sock.sendall(data)
        except OSError as e:
            coordinator_gone(self.worker_id, f"lost the coordinator ({e.strerror or e})")

    def recv(self) -> Message | None:
        """The next message, or None when the coordinator closed the connection."""
        while not self._pending:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self._pending.extend(self._reader.feed(data))
        return self._pending.pop(0)


class Worker:
    def __init__(self, worker_id: int, channel: Channel) -> None:
        self.worker_id = worker_id
        self.channel = channel
        self.client: Pegasus | None = None
        self.phase: PhaseRunner | None = None
        self.phase_greenlet: gevent.Greenlet | None = None
        self.recorder = IntervalRecorder(worker_id)
        self.selfcheck = SelfCheck(timer=timer.describe())
        self.phase_index: int | None = None

    def serve(self) -> int:
        plan = self.channel.recv()
        if plan is None:
            coordinator_gone(self.worker_id, "the coordinator closed the connection before sending a plan")
        if not isinstance(plan, Plan):
            return EXIT_COORDINATOR_GONE
        self.plan = plan
        self.scenario = plan.scenario()  # validated by the coordinator: used as is
        self.ww = WorkerWorkload(self.scenario, self.worker_id)
        if not self._init_client(plan):
            return 2
        # per-interval retry deltas come from the client's counters (when it has them)
        self.selfcheck.set_counters(getattr(self.client, "counters", None))
        # everything built so far lives for the whole run: keep it out of the GC's scans so
        # full collections stay short (they pause every greenlet)
        gc.collect()
        gc.freeze()
        self.selfcheck.start()
        beat = gevent.spawn(self._heartbeat)
        try:
            return self._control_loop()
        finally:
            beat.kill(block=False)
            self.selfcheck.stop()
            if self.client is not None:
                self.client.close()

    def _init_client(self, plan: Plan) -> bool:
        try:
            self.client = Pegasus(plan.meta_addrs, plan.table, timeout=plan.timeout_ms)
            table = self.client.table
            config = table.open()
        except (PegasusError, ValueError) as e:
            self.channel.send(InitFailed(self.worker_id, str(e)))  # the coordinator names the target
            return False
        failed = table.connect_all()
        fingerprint: dict[str, Any] = {
            "app_id": config.app_id, "partition_count": config.partition_count,
            "replica_servers": sorted(config.addresses()), "unreachable_replicas": sorted(failed),
        }
        self.channel.send(Ready(self.worker_id, fingerprint))
        return True

    def _heartbeat(self) -> None:
        """Tell the coordinator every HEARTBEAT_PERIOD_S that this process and its loop are alive
        (a frozen or starved worker falls silent, and is named within 2 s)."""
        while True:
            gevent.sleep(HEARTBEAT_PERIOD_S)
            try:
                self.channel.send(Heartbeat(self.worker_id, self.phase_index))
            except OSError:
                return  # the control loop notices the lost coordinator

    def _control_loop(self) -> int:
        while True:
            msg = self.channel.recv()
            if msg is None:  # the coordinator is gone: stop loading the cluster, now
                coordinator_gone(self.worker_id, "the coordinator closed the connection")
            if isinstance(msg, StartPhase):
                self.phase_index = msg.index
                self.phase_greenlet = gevent.spawn(self._run_phase, msg)
                self.phase_greenlet.link_exception(self._phase_crashed)
            elif isinstance(msg, StopPhase):
                if self.phase is not None:
                    self.phase.request_stop()
            elif isinstance(msg, Shutdown):
                self._stop_phase()
                return 0

    def _stop_phase(self) -> None:
        if self.phase is not None:
            self.phase.request_stop()
        if self.phase_greenlet is not None:
            self.phase_greenlet.join(timeout=self.plan.timeout_ms / 1000.0 + 5.0)

    def _phase_crashed(self, greenlet: gevent.Greenlet) -> None:
        exc = greenlet.exception
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(text)
        try:
            self.channel.send(WorkerFailed(self.worker_id, f"{type(exc).__name__}: {exc}\n{text}"))
        finally:
            os._exit(4)

    def _run_phase(self, msg: StartPhase) -> None:
        sc, ww, index = self.scenario, self.ww, msg.index
        if index == LOAD_PHASE_INDEX:
            load = ww.load_generator()
            name, schedule, measured_ops, duration, warmup = LOAD_PHASE_NAME, load.schedule, None, None, 0.0

            def factory(g: int):
                return load.next_op
        else:
            pw = ww.phase(index)
            p = pw.phase
            schedule = pw.schedule  # this worker's share of the one seeded schedule (workload.schedule)
            name, measured_ops, duration, warmup = p.name, pw.measured_ops, p.duration_s, p.warmup_s

            def factory(g: int):
                return pw.generator(g).next_op
        failures = Failures()
        self.phase = PhaseRunner(
            name=name, table=self.client.table, ww=ww, next_op_factory=factory, schedule=schedule,
            measured_ops=measured_ops, concurrency=sc.concurrency, duration_s=duration, warmup_s=warmup,
            timeout_s=sc.timeout_ms / 1000.0, clock=PhaseClock(msg.start_at), recorder=self.recorder,
            selfcheck=self.selfcheck, interval_s=self.plan.interval_s,
            send_interval=lambda blob, check: self.channel.send(
                Interval(self.worker_id, index, check, blob)),
            failures=failures)
        sent, dropped, stopped = self.phase.run()
        run = self.phase
        self.channel.send(PhaseDone(self.worker_id, index, sent, dropped, stopped, failures.examples,
                                    slots=run.slots, late_sent=run.late_sent, arrivals=run.arrivals))
        self.phase = None
        self.phase_index = None


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pegload.runner",
                                     description="A pegload worker (started by the coordinator).")
    parser.add_argument("--connect", required=True, metavar="HOST:PORT")
    parser.add_argument("--worker-id", required=True, type=int)
    parser.add_argument("--token", required=True)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    # Ctrl-C is the coordinator's to handle: it stops the workers in order
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    args = _parse(argv)
    host, _, port = args.connect.rpartition(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=10)
    except OSError as e:
        print(f"pegload worker {args.worker_id}: cannot reach the coordinator at {args.connect}: {e}",
              file=sys.stderr)
        return 3
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    channel = Channel(sock, args.worker_id)
    channel.send(Hello(args.worker_id, args.token, os.getpid()))
    try:
        return Worker(args.worker_id, channel).serve()
    except (OSError, ProtocolError) as e:
        print(f"pegload worker {args.worker_id}: lost the coordinator: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # a pegload bug: say so to the coordinator, then to the log
        text = traceback.format_exc()
        sys.stderr.write(text)
        try:
            channel.send(WorkerFailed(args.worker_id, f"{type(e).__name__}: {e}\n{text}"))
        except OSError:
            pass
        return 4
    finally:
        sock.close()
