"""Table configuration snapshots and routing math: pure, no I/O (protocol doc 3.2-3.5, 5.12.5)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import MetaError, TableNotFound
from .wire.errors import ERR_OBJECT_NOT_FOUND, ERR_OK
from .wire.messages import rpc_address_parts


@dataclass(frozen=True)
class TableConfig:
    """One immutable answer of the meta server for a table.

    ``primaries[i]`` is partition i's primary as ``"ip:port"`` (None while it has none);
    ``version`` grows by one per accepted refresh, so a caller can tell whether the config
    changed since the one its failed request used.
    """

    table_name: str
    app_id: int
    partition_count: int
    primaries: tuple[str | None, ...]
    ballots: tuple[int, ...]
    version: int = 0

    @classmethod
    def from_response(cls, table_name: str, resp, version: int, source: str = "meta") -> TableConfig:
        """Validate a ``QueryCfgResponse`` whose ``err`` is ERR_OK; raise MetaError otherwise."""
        if resp.err == ERR_OBJECT_NOT_FOUND:
            raise TableNotFound(f"table {table_name!r} does not exist (answer of {source})",
                                address=source)
        if resp.err != ERR_OK:
            raise MetaError(f"{source} answered {resp.err} for table {table_name!r}",
                            name=resp.err, address=source)
        count = resp.partition_count
        if count < 1 or len(resp.partitions) != count:
            raise MetaError(f"{source} sent {len(resp.partitions)} partitions for table "
                            f"{table_name!r} whose partition_count is {count}", address=source)
        primaries: list[str | None] = [None] * count
        ballots = [0] * count
        seen = set()
        for pc in resp.partitions:
            i = pc.pid.partition_index
            if not 0 <= i < count or i in seen:
                raise MetaError(f"{source} sent partition index {i} twice or out of range "
                                f"for table {table_name!r} ({count} partitions)", address=source)
            seen.add(i)
            ballots[i] = pc.ballot
            primaries[i] = primary_address(pc)
        return cls(table_name, resp.app_id, count, tuple(primaries), tuple(ballots), version)

    def partition_of(self, hash_value: int) -> int:
        """Partition to send a request with this routing hash to (unsigned modulo).

        While a partition split is in progress the child partition has ``ballot < 0`` and its
        keys are still served by the parent ``index - partition_count / 2``.
        """
        count = self.partition_count
        pidx = (hash_value & 0xFFFFFFFFFFFFFFFF) % count
        if self.ballots[pidx] < 0:
            pidx -= count // 2
        return pidx

    def addresses(self) -> set[str]:
        return {a for a in self.primaries if a is not None}


def primary_address(pc) -> str | None:
    """``"host:port"`` of a ``PartitionConfiguration``'s primary, None when it has none.

    The rpc_address field first; newer servers also send host_port (``hp_primary``), used when
    the rpc_address is empty. Meta forwards (``ERR_FORWARD_TO_OTHERS``) name the leader the same
    way.
    """
    parts = rpc_address_parts(pc.primary)
    if parts is not None:
        return f"{parts[0]}:{parts[1]}"
    hp = pc.hp_primary
    if hp is not None and hp.port:
        return f"{hp.host}:{hp.port}"
    return None


def split_partitions(partition_count: int, max_split_count: int) -> list[list[int]]:
    """Partition lists of ``min(count, max_split_count)`` unordered scanners, each in visit order.

    Same sets as the Java and Python clients (protocol doc 5.12.5): the first ``count % n``
    scanners get one partition more, handed out from the highest index down; each scanner
    visits its partitions in ascending order (for 8 partitions and 3 scanners:
    ``[[5, 6, 7], [2, 3, 4], [0, 1]]``).
    """
    if max_split_count <= 0:
        raise ValueError(f"max_split_count must be positive, not {max_split_count}")
    n = min(partition_count, max_split_count)
    base, extra = divmod(partition_count, n)
    remaining = list(range(partition_count))
    out = []
    for i in range(n):
        size = base + 1 if i < extra else base
        taken = [remaining.pop() for _ in range(size)]
        out.append(taken[::-1])
    return out
