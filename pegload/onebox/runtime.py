"""One onebox process: binds every port, opens the stores, wires the servers together, and
carries out control requests (the ``op_*`` methods, called by the control channel)."""
from __future__ import annotations

import logging
import os

import gevent
from gevent.event import Event

from .app_envs import AppEnvs
from .cluster import Cluster, ClusterError, Node, advertised_ip
from .config import OneboxConfig
from .conn_limits import BufferBudget, ConnLimits
from .control_server import ControlServer
from .control_token import new_token, remove_token_file, write_token_file
from .failover import Failover
from .faults import Faults
from .loop import backend_name
from .partition import Partition
from .server import Service, listen
from .server_metrics import MetricsRegistry
from .stats import Stats
from .storage import PartitionStore, StorageLayout

log = logging.getLogger("pegload.onebox")
CONTROL_HOST = "127.0.0.1"  # the control channel is loopback-only whatever --host says


class OneboxRuntime:
    def __init__(self, config: OneboxConfig) -> None:
        config.validate()
        self.config = config
        self.stats = Stats()
        self.faults = Faults()
        self.conn_limits = ConnLimits(config.max_frame_bytes, config.max_buffered_bytes,
                                      config.frame_timeout_s, config.idle_timeout_s)
        self.buffer_budget = BufferBudget(config.max_buffered_bytes)
        self.layout: StorageLayout | None = None
        self.cluster: Cluster | None = None
        self.services: list[Service] = []
        self.control: ControlServer | None = None
        self._control_token = new_token()
        self.control_token_file: str | None = None
        self.envs: AppEnvs | None = None  # table envs and their throttling (app_envs.py)
        self.metrics: MetricsRegistry | None = None  # what /metrics reports (server_metrics.py)
        self.failover: Failover | None = None  # replica kill/restart (failover.py)
        self.bind_host = ""
        self._stop_requested = Event()
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        cfg = self.config
        try:
            ip = advertised_ip(cfg.host)
            bind = self.bind_host = "0.0.0.0" if cfg.host == "0.0.0.0" else ip
            # bind everything first: a busy port fails fast, before any store is opened
            metas = [Service(self, "meta", i, listen(bind, p)) for i, p in enumerate(cfg.meta_ports)]
            replicas = [Service(self, "replica", i, listen(bind, p)) for i, p in enumerate(cfg.replica_ports)]
            self.services = metas + replicas
            self.control = ControlServer(self, listen(CONTROL_HOST, cfg.control_port), self._control_token)
            self.cluster = Cluster([Node(ip, s.port) for s in metas], [Node(ip, s.port) for s in replicas],
                                   cfg.meta_leader)
            for s in self.services:
                s.addr = (self.cluster.metas if s.kind == "meta" else self.cluster.replicas)[s.index].addr
            self.layout = StorageLayout(cfg.data_dir)
            tables = self.layout.register_tables(cfg.tables)
            for name, t in sorted(tables.items(), key=lambda kv: kv[1]["app_id"]):
                count = t["partition_count"]
                if count < 2 or count & (count - 1):
                    log.warning("table %s has %d partitions: the Go client needs a power of two >= 2",
                                name, count)
                parts = [Partition(t["app_id"], i, PartitionStore(self.layout.partition_path(t["app_id"], i)))
                         for i in range(count)]
                self.cluster.add_table(name, t["app_id"], parts)
            # only once the stores are ours: a second onebox on the same data dir fails on the
            # RocksDB lock above and must not replace (or, cleaning up, delete) our token file
            self.control_token_file = write_token_file(self.layout.data_dir, self._control_token)
            self._wire_features()
            self.faults.set(delay_ms=cfg.delay_ms, busy_fraction=cfg.busy_fraction,
                            drop_fraction=cfg.drop_fraction, close_fraction=cfg.close_fraction)
            for s in self.services:
                s.start()
            self.control.start()
        except BaseException:
            self.stop()
            raise

    def _wire_features(self) -> None:
        """Table envs, server metrics and failover: built once the tables exist."""
        cfg = self.config
        self.envs = AppEnvs(self.cluster)
        for table, key, value in cfg.app_envs:
            self.envs.set(table, {key: value})
        self.metrics = MetricsRegistry(self.cluster, len(self.cluster.metas), len(self.cluster.replicas))
        self.failover = Failover(self, cfg.failure_detection_s)
        self.metrics.alive = self.failover.alive
        by_role = {(s.kind, s.index): s for s in self.services}
        self.metrics.sessions = lambda role, index: len(by_role[(role, index)].conns)

    def info(self) -> dict:
        c = self.cluster
        return {
            "event": "ready",
            "pid": os.getpid(),
            "meta": [m.addr for m in c.metas],
            "replica": [r.addr for r in c.replicas],
            "control": f"{CONTROL_HOST}:{self.control.port}",
            "control_token_file": self.control_token_file,
            "data_dir": self.layout.data_dir,
            "temporary_data_dir": self.layout.temporary,
            "loop_backend": backend_name(),
            "tables": {t.name: {"app_id": t.app_id, "partition_count": t.partition_count}
                       for t in c.tables.values()},
        }

    def request_stop(self) -> None:
        self._stop_requested.set()

    def wait(self) -> None:
        self._stop_requested.wait()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.control is not None:
            self.control.stop()
        if self.failover is not None:
            self.failover.stop()
        for s in self.services:
            try:
                s.stop()
            except Exception:  # a half-started service must not block the rest of the cleanup
                log.exception("stopping %s %s", s.kind, s.addr)
        if self.cluster is not None:
            for t in self.cluster.tables.values():
                for p in t.partitions:
                    p.close()
        remove_token_file(self.control_token_file)
        if self.layout is not None:
            self.layout.cleanup()

    # ------------------------------------------------------------------ control ops
    def op_ping(self) -> str:
        return "pong"

    def op_info(self) -> dict:
        return {**self.info(), "cluster": self.cluster.describe(), "faults": self.faults.describe(),
                "app_envs": self.envs.get(), "failover": self.failover.describe()}

    def op_shutdown(self) -> str:
        return "stopping"  # the control server calls request_stop() after answering

    def _scope(self, replica, table, partition):
        if replica is not None and (table is not None or partition is not None):
            raise ClusterError("give either replica or table/partition, not both")
        if replica is not None:
            return [dict(replica=self.cluster.replica_index(replica))]
        if table is not None:
            t = self.cluster.table(table)
            if partition is None:
                return [dict(partition=(t.app_id, i)) for i in range(t.partition_count)]
            if not isinstance(partition, int) or not 0 <= partition < t.partition_count:
                raise ClusterError(f"table {table!r} has no partition {partition!r}")
            return [dict(partition=(t.app_id, partition))]
        if partition is not None:
            raise ClusterError("partition needs table")
        return [{}]

    def op_set_faults(self, replica=None, table=None, partition=None, **values) -> dict:
        for scope in self._scope(replica, table, partition):
            self.faults.set(**scope, **values)
        return self.faults.describe()

    def op_clear_faults(self) -> dict:
        self.faults.clear()
        return self.faults.describe()

    def op_faults(self) -> dict:
        return self.faults.describe()

    def op_stall(self, seconds, replica=None) -> dict:
        targets = (range(len(self.cluster.replicas)) if replica is None
                   else [self.cluster.replica_index(replica)])
        self.faults.stall(list(targets), float(seconds))
        return self.faults.describe()

    def op_close_connections(self, replica=None, meta=False) -> int:
        if replica is None:
            services = [s for s in self.services if s.kind == "replica" or meta]
        else:
            i = self.cluster.replica_index(replica)
            services = [s for s in self.services if s.kind == "replica" and s.index == i]
        return sum(s.close_connections() for s in services)

    def op_move_primary(self, table, partition, to=None, old_role="secondary") -> dict:
        return self.cluster.move_primary(table, partition, to, old_role)

    def op_set_meta_leader(self, index) -> str:
        self.cluster.set_leader(index)
        return self.cluster.metas[index].addr

    def op_partition_config(self, table) -> list:
        t = self.cluster.table(table)
        return [self.cluster.describe_partition(t, i) for i in range(t.partition_count)]

    def op_counters(self, reset=False) -> dict:
        return self.stats.snapshot(reset=bool(reset))

    # table envs (app_envs.py)
    def op_set_app_env(self, table, envs, validate=True) -> dict:
        if not isinstance(envs, dict):
            raise ValueError("envs must be an object {key: value}")
        return self.envs.set(table, envs, validate=bool(validate))

    def op_del_app_env(self, table, keys) -> dict:
        return self.envs.delete(table, list(keys))

    def op_clear_app_env(self, table, prefix="") -> dict:
        return self.envs.clear(table, str(prefix))

    def op_app_envs(self, table=None) -> dict:
        return self.envs.get(table)

    # replica kill / restart (failover.py)
    def op_kill_replica(self, replica) -> dict:
        return self.failover.kill(replica)

    def op_restart_replica(self, replica) -> dict:
        return self.failover.restart(replica)

    def op_kill_meta(self, meta) -> dict:
        return self.failover.kill_meta(meta)

    def op_restart_meta(self, meta) -> dict:
        return self.failover.restart_meta(meta)

    def op_failure_detection(self, seconds=None) -> dict:
        if seconds is not None:
            self.failover.set_grace(seconds)
        return self.failover.describe()

    # server metrics (server_metrics.py), the same JSON as GET /metrics
    def op_metrics(self, role="replica", index=0, query="") -> dict:
        services = [s for s in self.services if s.kind == role and s.index == index]
        if not services:
            raise ClusterError(f"no {role} server with index {index!r}")
        s = services[0]
        status, body = self.metrics.snapshot(role, index, s.addr.rpartition(":")[0],
                                             self.cluster.replicas[index].port if role == "replica"
                                             else self.cluster.metas[index].port, query)
        if status != 200:
            raise ValueError(body["error_message"])
        return body


def run(config: OneboxConfig, announce, stop_on_stdin_eof: bool = False) -> int:
    """Start, call ``announce(info)``, serve until SIGINT/SIGTERM, a control ``shutdown`` or (when
    asked) the end of stdin; always clean up (a temporary data dir is removed)."""
    import signal

    rt = OneboxRuntime(config)
    rt.start()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, rt.request_stop)
        if stop_on_stdin_eof:
            gevent.spawn(_watch_stdin_eof, rt.request_stop)
        announce(rt.info())
        rt.wait()
    finally:
        rt.stop()
    return 0


def _watch_stdin_eof(on_eof) -> None:
    """The parent holds our stdin pipe: when it goes away (even killed), the pipe closes."""
    from gevent.socket import wait_read

    fd = 0
    try:
        while True:
            wait_read(fd)
            if not os.read(fd, 4096):
                break
    except OSError:
        pass
    on_eof()
