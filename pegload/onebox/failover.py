"""Killing and restarting one replica server, and the meta's failure detection.

``kill``: the server's listening socket closes (new connections are refused) and its client
connections are cut; its scan contexts are lost. The meta notices after ``grace_s`` (a real
cluster's failure detector: beacons every few seconds, lease 9 s, grace 10 s by default) and
only then moves primaries (``Cluster.drop_replica_server``): until then clients keep being sent
to the dead server. ``restart``: the server listens on the same port again with fresh metrics; if
the meta had declared it dead, it rejoins as a secondary of partitions short of replicas (ballots
go up); a restart inside the grace period changes nothing in the configuration. The data is
shared by all replicas, so nothing is lost or re-learned.

Meta servers too: ``kill_meta`` closes a meta's port; if it was the leader, the next live meta
(in ring order) takes over after the same delay (a real meta loses its leader lock when its
session expires); until then the others keep naming the dead leader. ``restart_meta`` brings it
back as a follower.
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
        self.metas_down: dict[int, float] = {}  # meta index -> when it was killed
        self._meta_timers: dict[int, gevent.Greenlet] = {}

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

    # ------------------------------------------------------------------ metas
    def _meta_service(self, meta):
        metas = self.runtime.cluster.metas
        index = None
        if isinstance(meta, int) and not isinstance(meta, bool) and 0 <= meta < len(metas):
            index = meta
        elif isinstance(meta, str):
            index = next((i for i, m in enumerate(metas) if m.addr == meta), None)
        if index is None:
            raise ClusterError(f"no meta {meta!r} (have: {', '.join(m.addr for m in metas)})")
        service = next(s for s in self.runtime.services if s.kind == "meta" and s.index == index)
        return index, service

    def kill_meta(self, meta) -> dict:
        index, service = self._meta_service(meta)
        if index in self.metas_down:
            raise ClusterError(f"meta server {service.addr} is already down")
        service.server.close()
        service.close_connections()
        self.metas_down[index] = self._clock()
        if index == self.runtime.cluster.leader:
            self._meta_timers[index] = gevent.spawn_later(self.grace_s, self._elect, index)
        log.warning("meta server %s killed%s", service.addr,
                    f"; a new leader in {self.grace_s:.1f} s" if index in self._meta_timers else "")
        return self.describe()

    def _elect(self, dead: int) -> None:
        self._meta_timers.pop(dead, None)
        cluster = self.runtime.cluster
        if dead not in self.metas_down or cluster.leader != dead:
            return
        n = len(cluster.metas)
        for k in range(1, n):
            cand = (dead + k) % n
            if cand not in self.metas_down:
                cluster.set_leader(cand)
                log.warning("meta server %s is the leader now", cluster.metas[cand].addr)
                return

    def restart_meta(self, meta) -> dict:
        from .server import listen

        index, service = self._meta_service(meta)
        if index not in self.metas_down:
            raise ClusterError(f"meta server {service.addr} is not down")
        timer = self._meta_timers.pop(index, None)
        if timer is not None:
            timer.kill(block=False)  # back before anyone took over: it stays the leader
        rt = self.runtime
        service.listener = listen(rt.bind_host, rt.cluster.metas[index].port)
        service.server = StreamServer(service.listener, service._accept)
        service.server.start()
        del self.metas_down[index]
        rt.metrics.metas[index].reset()
        leader = rt.cluster.leader
        if leader in self.metas_down:  # every meta was down: the first one back leads
            rt.cluster.set_leader(index)
        return self.describe()

    def describe(self) -> dict:
        now = self._clock()
        cluster = self.runtime.cluster
        replicas = cluster.replicas
        return {
            "grace_s": self.grace_s,
            "down": {replicas[i].addr: round(now - t, 3) for i, t in self.down.items()},
            "dead": sorted(replicas[i].addr for i in self.dead),
            "metas_down": {cluster.metas[i].addr: round(now - t, 3) for i, t in self.metas_down.items()},
            "leader": cluster.metas[cluster.leader].addr,
        }

    def stop(self) -> None:
        for t in (*self._timers.values(), *self._meta_timers.values()):
            t.kill(block=False)
        self._timers.clear()
        self._meta_timers.clear()
