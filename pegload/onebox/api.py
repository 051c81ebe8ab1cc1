"""The Python API: run a onebox as a child process and control it.

    with Onebox(meta_ports=(0, 0, 0), replica_ports=(0, 0, 0)) as ob:
        client = Pegasus(ob.meta_addrs, "temp")
        ob.set_faults(replica=0, delay_ms=5)
        ob.move_primary("temp", 3)

The child is ``python -m pegload.onebox`` with the same options as ``pegload onebox``; it prints
one JSON "ready" line (real ports when 0 was asked) once everything listens, and exits when
:meth:`stop` is called or when this process goes away (its stdin pipe closes). This module does
not import gevent or rocksdict, so callers may or may not be monkeypatched.
"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time

from pegload.client.wire import parse_address

from .config import DEFAULT_HOST, DEFAULT_TABLES, OneboxConfig
from .conn_limits import (
    DEFAULT_FRAME_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_FRAME_BYTES,
)
from .control_client import ControlClient, ControlError


class OneboxError(RuntimeError):
    """The onebox child could not be started or stopped (the message says why)."""


class Onebox:
    def __init__(self, host: str = DEFAULT_HOST, meta_ports=(0, 0, 0), replica_ports=(0, 0, 0),
                 tables: dict | None = None, data_dir: str | None = None, send_host_port: bool = False,
                 *, meta_leader: int = 0, control_port: int = 0, delay_ms: float = 0.0,
                 busy_fraction: float = 0.0, drop_fraction: float = 0.0, close_fraction: float = 0.0,
                 log_level: str = "WARNING", start_timeout: float = 60.0, stderr=None,
                 python: str = sys.executable, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
                 frame_timeout_s: float = DEFAULT_FRAME_TIMEOUT_S,
                 idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, app_envs: dict | None = None,
                 failure_detection_s: float = 10.0) -> None:
        self.config = OneboxConfig(
            host=host, meta_ports=tuple(meta_ports), replica_ports=tuple(replica_ports),
            tables=dict(tables) if tables else dict(DEFAULT_TABLES), data_dir=data_dir,
            send_host_port=send_host_port, meta_leader=meta_leader, control_port=control_port,
            delay_ms=delay_ms, busy_fraction=busy_fraction, drop_fraction=drop_fraction,
            close_fraction=close_fraction, log_level=log_level, max_frame_bytes=max_frame_bytes,
            max_buffered_bytes=max_buffered_bytes, frame_timeout_s=frame_timeout_s,
            idle_timeout_s=idle_timeout_s,
            app_envs=tuple((t, k, v) for t, kv in (app_envs or {}).items() for k, v in kv.items()),
            failure_detection_s=failure_detection_s,
        )
        self.config.validate()  # fail here, in the caller, not in the child
        self.start_timeout = start_timeout
        self._stderr = stderr  # where the child's log goes (None: inherit ours)
        self._python = python
        self._proc: subprocess.Popen | None = None
        self._control: ControlClient | None = None
        self.info: dict = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Onebox:
        if self._proc is not None:
            raise OneboxError("this onebox is already started")
        argv = [self._python, "-m", "pegload.onebox", *self.config.to_argv(),
                "--ready-json", "--exit-on-stdin-eof"]
        # Own session: a terminal's Ctrl-C goes to the whole foreground process group, and the
        # onebox must keep serving until its owner has stopped the load and written its report.
        # It still dies with its owner: it exits when its stdin (our pipe) closes.
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr, close_fds=True, start_new_session=True)
        try:
            self.info = self._read_ready()
            self._control = ControlClient(self.info["control"], self.info["control_token_file"])
            self._wait_until_answering()
        except BaseException:
            self._kill()
            raise
        return self

    def _read_ready(self) -> dict:
        deadline = time.monotonic() + self.start_timeout
        out = self._proc.stdout
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OneboxError(f"onebox did not report ready within {self.start_timeout:.0f}s")
            ready, _, _ = select.select([out], [], [], left)
            if not ready:
                continue
            chunk = os.read(out.fileno(), 65536)
            if not chunk:
                code = self._proc.wait(timeout=10)
                raise OneboxError(f"onebox exited with status {code} before it was ready "
                                  "(its stderr says why)")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue  # not our line
                if isinstance(msg, dict) and msg.get("event") == "ready":
                    return msg

    def _wait_until_answering(self) -> None:
        """Every port accepts connections and the control channel answers (polling, no sleep
        guesses: the child only announces after listening, so this normally passes at once)."""
        deadline = time.monotonic() + self.start_timeout
        for addr in self.meta_addrs + self.replica_addrs:
            target = parse_address(addr)
            while True:
                try:
                    socket.create_connection(target, timeout=2).close()
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        raise OneboxError(f"onebox port {addr} does not answer: {e}") from None
                    time.sleep(0.01)
        if self._control.call("ping") != "pong":
            raise OneboxError("onebox control channel answered ping wrongly")

    def stop(self, timeout: float = 15.0) -> int | None:
        """Ask the child to shut down cleanly (it removes a temporary data dir); kill it if it
        does not exit within ``timeout``. Returns its exit status."""
        proc = self._proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                try:
                    self._control.call("shutdown")
                except (ControlError, OSError, AttributeError):
                    proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            return proc.returncode
        finally:
            self._cleanup_handles()

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM first: the child then still removes its temporary data dir
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._cleanup_handles()

    def _cleanup_handles(self) -> None:
        if self._control is not None:
            self._control.close()
        if self._proc is not None:
            for f in (self._proc.stdin, self._proc.stdout):
                if f is not None:
                    f.close()
        self._proc = None
        self._control = None

    def __enter__(self) -> Onebox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------ addresses
    @property
    def meta_addrs(self) -> list[str]:
        return list(self.info.get("meta", []))

    @property
    def replica_addrs(self) -> list[str]:
        return list(self.info.get("replica", []))

    @property
    def control_addr(self) -> str:
        return self.info.get("control", "")

    @property
    def control_token_file(self) -> str:
        """The 0600 file holding the control channel's token (``ControlClient(addr, path)``)."""
        return self.info.get("control_token_file", "")

    def control_client(self) -> ControlClient:
        """A new, independent control client for this onebox (e.g. for another thread)."""
        if not self.info:
            raise OneboxError("the onebox is not running (call start() first)")
        return ControlClient(self.control_addr, self.control_token_file)

    @property
    def data_dir(self) -> str:
        return self.info.get("data_dir", "")

    @property
    def tables(self) -> dict:
        """name -> {"app_id", "partition_count"}."""
        return dict(self.info.get("tables", {}))

    # ------------------------------------------------------------------ control
    def _call(self, op: str, **args):
        if self._control is None:
            raise OneboxError(f"{op}: the onebox is not running (call start() first)")
        return self._control.call(op, **args)

    def set_faults(self, *, replica=None, table: str | None = None, partition: int | None = None,
                   delay_ms: float | None = None, busy_fraction: float | None = None,
                   drop_fraction: float | None = None, close_fraction: float | None = None) -> dict:
        """Change fault settings of one scope: everywhere (no scope), one replica (index or
        "ip:port"), one table (all its partitions) or one partition (table + partition). Only
        the given settings change. Delays of matching scopes add up; for fractions the largest
        applies. Returns the whole fault state."""
        values = {k: v for k, v in dict(delay_ms=delay_ms, busy_fraction=busy_fraction,
                                        drop_fraction=drop_fraction, close_fraction=close_fraction).items()
                  if v is not None}
        return self._call("set_faults", replica=replica, table=table, partition=partition, **values)

    def clear_faults(self) -> dict:
        """Remove every fault rule and stall."""
        return self._call("clear_faults")

    def faults(self) -> dict:
        return self._call("faults")

    def stall(self, seconds: float, replica=None) -> dict:
        """Replica ``replica`` (default: all) handles nothing for ``seconds``; requests wait."""
        return self._call("stall", seconds=seconds, replica=replica)

    def close_connections(self, replica=None, meta: bool = False) -> int:
        """Close client connections of one replica (default: all replicas, and the metas too if
        ``meta``); returns how many were closed."""
        return self._call("close_connections", replica=replica, meta=meta)

    def move_primary(self, table: str, partition: int, to=None, old_role: str = "secondary") -> dict:
        """Move a partition's primary to replica ``to`` (default: the next one). The ballot goes
        up; the old replica answers ERR_INVALID_STATE (``old_role="secondary"``) or
        ERR_OBJECT_NOT_FOUND (``old_role="gone"``). Returns the partition's new configuration."""
        return self._call("move_primary", table=table, partition=partition, to=to, old_role=old_role)

    def set_meta_leader(self, index: int) -> str:
        """Make meta ``index`` the leader; returns its address."""
        return self._call("set_meta_leader", index=index)

    def partition_config(self, table: str = "temp") -> list[dict]:
        """Per partition: ballot, primary and secondaries, as the meta reports them."""
        return self._call("partition_config", table=table)

    def counters(self, reset: bool = False) -> dict:
        """Server-side counters: ``requests`` (rpc name -> count), ``by_server``, ``errors``
        (frame error name -> count), ``faults``, ``connections``, ``bad_frames``."""
        return self._call("counters", reset=reset)

    def cluster_info(self) -> dict:
        return self._call("info")

    # ------------------------------------------------------------------ table envs
    def set_app_env(self, table: str, key: str | None = None, value: str | None = None, *,
                    envs: dict | None = None, validate: bool = True) -> dict:
        """Set table envs now (``key``/``value``, or several as ``envs``); every replica applies
        them at once. ``validate`` refuses values the real meta refuses; ``validate=False``
        stores any value, which a replica then treats as upstream does (that rule off, warning
        logged). Returns the table's envs."""
        items = dict(envs or {})
        if key is not None:
            items[key] = value
        return self._call("set_app_env", table=table, envs=items, validate=validate)

    def del_app_env(self, table: str, *keys: str) -> dict:
        return self._call("del_app_env", table=table, keys=list(keys))

    def clear_app_env(self, table: str, prefix: str = "") -> dict:
        """Remove every env of a table (or those named ``prefix.*``)."""
        return self._call("clear_app_env", table=table, prefix=prefix)

    def app_envs(self, table: str | None = None) -> dict:
        """One table's envs, or {table: envs} for all tables that have some."""
        return self._call("app_envs", table=table)

    # ------------------------------------------------------------------ replica failures
    def kill_replica(self, replica) -> dict:
        """Kill replica server ``replica`` (index or "ip:port"): its port refuses connections,
        its connections are cut; after the failure-detection delay the meta moves its
        primaries. Returns the failover state (``grace_s``, ``down``, ``dead``)."""
        return self._call("kill_replica", replica=replica)

    def restart_replica(self, replica) -> dict:
        """Bring a killed replica server back on its port (fresh metrics)."""
        return self._call("restart_replica", replica=replica)

    def kill_meta(self, meta) -> dict:
        """Kill meta server ``meta`` (index or "ip:port"); if it led, the next live meta leads
        after the failure-detection delay. Returns the failover state."""
        return self._call("kill_meta", meta=meta)

    def restart_meta(self, meta) -> dict:
        """Bring a killed meta server back (as a follower, unless no meta was left)."""
        return self._call("restart_meta", meta=meta)

    def failure_detection(self, seconds: float | None = None) -> dict:
        """Read, or set, the delay until the meta declares a killed replica server dead."""
        return self._call("failure_detection", seconds=seconds)

    # ------------------------------------------------------------------ server metrics
    def metrics(self, role: str = "replica", index: int = 0, query: str = "") -> dict:
        """What ``GET /metrics?query`` on that server answers (also served over HTTP on every
        meta and replica port)."""
        return self._call("metrics", role=role, index=index, query=query)
