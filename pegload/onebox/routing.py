"""Frame-level admission of a data request at one replica server (server-semantics doc 8):
which error name it gets before any storage logic runs, or the partition that serves it."""
from __future__ import annotations

import struct

from pegload.client.wire import RPC_PUT, RPC_REMOVE, RPCS, key_hash, thread_hash
from pegload.client.wire.errors import (
    ERR_HANDLER_NOT_FOUND,
    ERR_INVALID_DATA,
    ERR_INVALID_PARAMETERS,
    ERR_INVALID_STATE,
    ERR_OBJECT_NOT_FOUND,
)

from .cluster import PRIMARY
from .limits import MAX_ALLOWED_WRITE_SIZE
from .partition import HANDLERS

_U32 = struct.Struct(">I")


def body_length(frame: bytes) -> int:
    """Thrift body size of a request frame (the header fields the write limit is judged by)."""
    if _U32.unpack_from(frame, 4)[0] == 0:
        return _U32.unpack_from(frame, 16)[0]
    return _U32.unpack_from(frame, 12)[0]


def admit(cluster, replica: int, req, frame: bytes):
    """``(error name or None, partition or None)`` for request ``req`` arriving at replica
    index ``replica``. Checks in the real server's order: handler, replica lookup, write size,
    role; then (our choice, where upstream would abort) the PUT/REMOVE header hash check."""
    name = req.name
    if name not in HANDLERS:
        # unknown names and RPCs this role does not serve (e.g. the meta query on a replica port)
        return ERR_HANDLER_NOT_FOUND, None
    h = req.header
    if h.app_id <= 0:
        # app_id <= 0 is how a request says "not for a replica": no replica handler takes it
        return ERR_HANDLER_NOT_FOUND, None
    table = cluster.by_app_id.get(h.app_id)
    if table is None or not 0 <= h.partition_index < table.partition_count:
        return ERR_OBJECT_NOT_FOUND, None
    role = table.placements[h.partition_index].role_of(replica)
    if role is None:
        return ERR_OBJECT_NOT_FOUND, None  # this node does not hold the replica (moved away)
    spec = RPCS[name]
    if spec.is_write and body_length(frame) > MAX_ALLOWED_WRITE_SIZE:
        return ERR_INVALID_DATA, None
    if role != PRIMARY and (spec.is_write or not h.is_backup_request):
        return ERR_INVALID_STATE, None  # secondaries serve backup reads only
    if (name == RPC_PUT or name == RPC_REMOVE) and h.partition_hash:
        key = req.args.key if name == RPC_PUT else req.args
        if not _hash_matches(key, h, table.app_id):
            # DIVERGENCE: the real replica aborts the process on this mismatch
            return ERR_INVALID_PARAMETERS, None
    return None, table.partitions[h.partition_index]


def _hash_matches(key: bytes, h, app_id: int) -> bool:
    if len(key) < 2 or 2 + ((key[0] << 8) | key[1]) > len(key):
        return False
    if key_hash(key) != h.partition_hash:
        return False
    # v1 headers carry no thread hash (the server computes it), so only v0 can disagree
    return h.version != 0 or h.thread_hash == thread_hash(app_id, h.partition_index)
