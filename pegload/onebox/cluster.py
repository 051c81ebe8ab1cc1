"""The onebox's cluster model: meta and replica addresses, tables, and which replica is primary
or secondary of each partition (with its ballot). Pure state; no sockets.

Placement follows a 3-node onebox: partition ``i``'s primary is replica ``i mod n`` and the next
replicas in ring order are its secondaries (up to ``MAX_REPLICA_COUNT - 1``). All replicas share
one store per partition, so moving a primary moves no data: it is as if replication were instant.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from pegload.client.wire import rpc_address_from

from .limits import MAX_REPLICA_COUNT
from .partition import Partition

PRIMARY, SECONDARY = "primary", "secondary"


class ClusterError(ValueError):
    """A control request that names something the onebox does not have."""


def advertised_ip(host: str) -> str:
    """The IPv4 address clients are told to use for ``host`` (0.0.0.0 binds all, advertises
    loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    try:
        return socket.gethostbyname(host)
    except OSError as e:
        raise ClusterError(f"cannot resolve host {host!r} to an IPv4 address: {e}") from None


@dataclass(eq=False)
class Node:
    host: str  # advertised IPv4
    port: int

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def rpc_address(self) -> int:
        return rpc_address_from(self.host, self.port)


@dataclass(eq=False)
class Placement:
    ballot: int
    primary: int  # replica index
    secondaries: list[int] = field(default_factory=list)

    def role_of(self, replica: int) -> str | None:
        if replica == self.primary:
            return PRIMARY
        if replica in self.secondaries:
            return SECONDARY
        return None


@dataclass(eq=False)
class Table:
    name: str
    app_id: int
    partitions: list[Partition]
    placements: list[Placement]

    @property
    def partition_count(self) -> int:
        return len(self.partitions)


class Cluster:
    def __init__(self, metas: list[Node], replicas: list[Node], leader: int = 0) -> None:
        if not metas or not replicas:
            raise ClusterError("a onebox needs at least one meta and one replica server")
        self.metas = metas
        self.replicas = replicas
        self.leader = leader
        self.tables: dict[str, Table] = {}
        self.by_app_id: dict[int, Table] = {}
        self.version = 0  # bumped on every membership change (caches of members compare it)
        self.set_leader(leader)

    def add_table(self, name: str, app_id: int, partitions: list[Partition]) -> Table:
        n = len(self.replicas)
        placements = []
        for i in range(len(partitions)):
            primary = i % n
            secs = [(primary + k) % n for k in range(1, min(n, MAX_REPLICA_COUNT))]
            placements.append(Placement(ballot=1, primary=primary, secondaries=secs))
        table = Table(name, app_id, partitions, placements)
        self.version += 1
        self.tables[name] = table
        self.by_app_id[app_id] = table
        return table

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise ClusterError(f"no table {name!r} (have: {', '.join(sorted(self.tables))})") from None

    def replica_index(self, replica) -> int:
        """A replica given as its index or as its ``host:port`` address."""
        if isinstance(replica, int) and not isinstance(replica, bool):
            if 0 <= replica < len(self.replicas):
                return replica
        elif isinstance(replica, str):
            for i, node in enumerate(self.replicas):
                if node.addr == replica:
                    return i
        raise ClusterError(f"no replica {replica!r} (have: {', '.join(r.addr for r in self.replicas)})")

    def set_leader(self, index: int) -> None:
        if not isinstance(index, int) or not 0 <= index < len(self.metas):
            raise ClusterError(f"meta leader index {index!r} out of range 0..{len(self.metas) - 1}")
        self.leader = index

    def move_primary(self, table_name: str, index: int, to=None, old_role: str = SECONDARY) -> dict:
        """Make replica ``to`` (default: the next one in ring order) primary of a partition.

        The ballot goes up, so clients that re-query the meta see the change. The old primary
        stays a secondary (``old_role="secondary"``: it answers ERR_INVALID_STATE) or drops the
        replica (``old_role="gone"``: it answers ERR_OBJECT_NOT_FOUND). Scan contexts are lost,
        as they live on the old primary.
        """
        table = self.table(table_name)
        if not isinstance(index, int) or not 0 <= index < table.partition_count:
            raise ClusterError(f"table {table_name!r} has no partition {index!r}")
        if old_role not in (SECONDARY, "gone"):
            raise ClusterError(f"old_role must be 'secondary' or 'gone', not {old_role!r}")
        p = table.placements[index]
        old = p.primary
        new = (old + 1) % len(self.replicas) if to is None else self.replica_index(to)
        if new == old:
            raise ClusterError(f"replica {self.replicas[new].addr} already is the primary of "
                               f"{table_name}.{index}")
        secs = [r for r in p.secondaries if r not in (new, old)]
        if old_role == SECONDARY:
            secs.insert(0, old)
        p.primary, p.secondaries, p.ballot = new, secs, p.ballot + 1
        self.version += 1
        table.partitions[index].drop_scan_contexts()
        return self.describe_partition(table, index)

    def drop_replica_server(self, dead: int, down=()) -> list[dict]:
        """The meta's reaction to a replica server found dead: every partition it was primary of
        gets its first live secondary as primary, it leaves every membership; each changed
        partition's ballot goes up. A partition with no live secondary keeps the dead primary
        (it stays unavailable, as a real partition without a live replica does). ``down``: other
        replica indexes that are not alive either. Returns the changed partitions."""
        gone = set(down) | {dead}
        changed = []
        for t in self.tables.values():
            for i, p in enumerate(t.placements):
                if p.primary == dead:
                    live = [r for r in p.secondaries if r not in gone]
                    if not live:
                        continue
                    p.primary, p.secondaries = live[0], live[1:]
                    t.partitions[i].drop_scan_contexts()
                elif dead in p.secondaries:
                    p.secondaries = [r for r in p.secondaries if r != dead]
                else:
                    continue
                p.ballot += 1
                changed.append(self.describe_partition(t, i))
        self.version += 1
        return changed

    def add_replica_server(self, back: int) -> list[dict]:
        """A replica server that came back joins, as a secondary, every partition with fewer
        members than the replica count (the meta's cure); ballots go up."""
        want = min(len(self.replicas), MAX_REPLICA_COUNT)
        changed = []
        for t in self.tables.values():
            for i, p in enumerate(t.placements):
                if p.role_of(back) is None and 1 + len(p.secondaries) < want:
                    p.secondaries.append(back)
                    p.ballot += 1
                    changed.append(self.describe_partition(t, i))
        self.version += 1
        return changed

    def describe_partition(self, table: Table, index: int) -> dict:
        p = table.placements[index]
        return {
            "table": table.name, "app_id": table.app_id, "partition": index, "ballot": p.ballot,
            "primary": self.replicas[p.primary].addr,
            "secondaries": [self.replicas[r].addr for r in p.secondaries],
        }

    def describe(self) -> dict:
        return {
            "meta": [m.addr for m in self.metas],
            "replica": [r.addr for r in self.replicas],
            "leader": self.metas[self.leader].addr,
            "tables": {
                t.name: {"app_id": t.app_id, "partition_count": t.partition_count,
                         "partitions": [self.describe_partition(t, i) for i in range(t.partition_count)]}
                for t in self.tables.values()
            },
        }
