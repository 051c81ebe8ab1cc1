"""What a meta server answers to RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX (server-semantics doc 7).

The error travels in the body (``err``); the frame error stays ERR_OK.
"""
from __future__ import annotations

from pegload.client.wire import Gpid, HostPort, PartitionConfiguration, QueryCfgResponse
from pegload.client.wire.errors import ERR_FORWARD_TO_OTHERS, ERR_OBJECT_NOT_FOUND, ERR_OK

from .limits import MAX_REPLICA_COUNT


def query_config(cluster, meta_index: int, req, send_host_port: bool = False) -> QueryCfgResponse:
    if meta_index != cluster.leader:
        # A non-leader cannot forward a thrift request: it names the leader in partitions[0].
        # is_stateful stays false, which is how pypegasus3 (asking every meta at once) skips it.
        leader = cluster.metas[cluster.leader]
        pc = PartitionConfiguration(primary=leader.rpc_address)
        if send_host_port:
            pc.hp_primary = HostPort(leader.host, leader.port)
        return QueryCfgResponse(err=ERR_FORWARD_TO_OTHERS, partitions=[pc])
    table = cluster.tables.get(req.app_name)
    if table is None:
        return QueryCfgResponse(err=ERR_OBJECT_NOT_FOUND)
    count = table.partition_count
    wanted = [i for i in req.partition_indices if 0 <= i < count] or range(count)
    replicas = cluster.replicas
    parts = []
    for i in wanted:
        p = table.placements[i]
        primary = replicas[p.primary]
        secondaries = [replicas[r] for r in p.secondaries]
        pc = PartitionConfiguration(
            pid=Gpid(table.app_id, i), ballot=p.ballot, max_replica_count=MAX_REPLICA_COUNT,
            primary=primary.rpc_address, secondaries=[s.rpc_address for s in secondaries],
            last_drops=[], last_committed_decree=table.partitions[i].store.decree, partition_flags=0,
        )
        if send_host_port:
            pc.hp_primary = HostPort(primary.host, primary.port)
            pc.hp_secondaries = [HostPort(s.host, s.port) for s in secondaries]
            pc.hp_last_drops = []
        parts.append(pc)
    return QueryCfgResponse(err=ERR_OK, app_id=table.app_id, partition_count=count, is_stateful=True,
                            partitions=parts)
