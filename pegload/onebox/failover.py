"""Killing and restarting one replica server, and the meta's failure detection.

``kill``: the server's listening socket closes (new connections are refused) and its client
connections are cut; its scan contexts are lost. The meta notices after ``grace_s`` (a real
cluster's failure detector: beacons every few seconds, lease 9 s, grace 10 s by default) and
only then moves primaries (``Cluster.drop_replica_server``): until then clients keep being sent
to the dead server. ``restart``: the server listens on the same port again with fresh metrics; if
the meta had declared it dead, it rejoins as a secondary of partitions short of replicas (ballots
go up); a restart inside the grace period changes nothing in the configuration. The data is
shared by all replicas, so nothing is lost or re-learned.
"""
from __future__ import annotations

import logging
import time

import gevent
from gevent.server import StreamServer

from .cluster import ClusterError

log = logging.getLogger("pegload.onebox")
DEFAULT_GRACE_S = 10.0  # meta fd_grace_seconds default


class Failover:
    def __init__(self, runtime, grace_s: float = DEFAULT_GRACE_S, clock=time.monotonic) -> None:
        self.runtime = runtime
        self.grace_s = float(grace_s)
        self._clock = clock
        self.down: dict[int, float] = {}  # replica index -> when it was killed
        self.dead: set[int] = set()  # replica servers the meta has declared dead
        self._timers: dict[int, gevent.Greenlet] = {}

    def alive(self, index: int) -> bool:
        """Liveness as the meta sees it (a killed server stays "alive" until detected)."""
        return index not in self.dead

    def _service(self, replica):
        index = self.runtime.cluster.replica_index(replica)
        for s in self.runtime.services:
            if s.kind == "replica" and s.index == index:
                return index, s
        raise ClusterError(f"no replica server {replica!r}")

    def set_grace(self, seconds: float) -> float:
        seconds = float(seconds)
        if not 0 <= seconds <= 3600:
            raise ClusterError(f"failure detection delay must be within 0..3600 s, not {seconds}")
        self.grace_s = seconds
        return seconds

    def kill(self, replica) -> dict:
        index, service = self._service(replica)
        if index in self.down:
            raise ClusterError(f"replica server {service.addr} is already down")
        service.server.close()  # listening socket closed: connects are refused
        cut = service.close_connections()
        cluster = self.runtime.cluster
        for t in cluster.tables.values():
            for i, p in enumerate(t.placements):
                if p.primary == index:
                    t.partitions[i].drop_scan_contexts()  # contexts lived in the dead process
        self.down[index] = self._clock()
        self._timers[index] = gevent.spawn_later(self.grace_s, self._detect, index)
        log.warning("replica server %s killed (%d connections cut); the meta notices in %.1f s",
                    service.addr, cut, self.grace_s)
        return self.describe()

    def _detect(self, index: int) -> None:
        self._timers.pop(index, None)
        if index not in self.down:
            return
        rt = self.runtime
        self.dead.add(index)
        rt.metrics.metas[rt.cluster.leader].counters["replica_server_disconnections"] += 1
        changed = rt.cluster.drop_replica_server(index, down=self.dead)
        log.warning("meta: replica server %s declared dead; %d partitions reconfigured",
                    rt.cluster.replicas[index].addr, len(changed))

    def restart(self, replica) -> dict:
        from .server import listen

        index, service = self._service(replica)
        if index not in self.down:
            raise ClusterError(f"replica server {service.addr} is not down")
        rt = self.runtime
        timer = self._timers.pop(index, None)
        if timer is not None:
            timer.kill(block=False)
        service.listener = listen(rt.bind_host, rt.cluster.replicas[index].port)
        service.server = StreamServer(service.listener, service._accept)
        service.server.start()
        del self.down[index]
        rt.metrics.reset_server(index)  # a restarted process starts its counters at 0
        if index in self.dead:
            self.dead.discard(index)
            changed = rt.cluster.add_replica_server(index)
            log.warning("replica server %s is back; rejoined %d partitions as a secondary",
                        service.addr, len(changed))
        else:
            log.warning("replica server %s is back within the detection delay", service.addr)
        return self.describe()

    def describe(self) -> dict:
        now = self._clock()
        replicas = self.runtime.cluster.replicas
        return {
            "grace_s": self.grace_s,
            "down": {replicas[i].addr: round(now - t, 3) for i, t in self.down.items()},
            "dead": sorted(replicas[i].addr for i in self.dead),
        }

    def stop(self) -> None:
        for t in self._timers.values():
            t.kill(block=False)
        self._timers.clear()
