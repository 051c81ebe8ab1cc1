"""The RPC table: wire names, what the single args field holds, and the response struct."""
from __future__ import annotations

from typing import Any, NamedTuple

from . import messages as m

RPC_QUERY_CFG = "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"
RPC_PUT = "RPC_RRDB_RRDB_PUT"
RPC_MULTI_PUT = "RPC_RRDB_RRDB_MULTI_PUT"
RPC_REMOVE = "RPC_RRDB_RRDB_REMOVE"
RPC_MULTI_REMOVE = "RPC_RRDB_RRDB_MULTI_REMOVE"
RPC_INCR = "RPC_RRDB_RRDB_INCR"
RPC_CHECK_AND_SET = "RPC_RRDB_RRDB_CHECK_AND_SET"
RPC_CHECK_AND_MUTATE = "RPC_RRDB_RRDB_CHECK_AND_MUTATE"
RPC_GET = "RPC_RRDB_RRDB_GET"
RPC_MULTI_GET = "RPC_RRDB_RRDB_MULTI_GET"
RPC_BATCH_GET = "RPC_RRDB_RRDB_BATCH_GET"
RPC_SORTKEY_COUNT = "RPC_RRDB_RRDB_SORTKEY_COUNT"
RPC_TTL = "RPC_RRDB_RRDB_TTL"
RPC_GET_SCANNER = "RPC_RRDB_RRDB_GET_SCANNER"
RPC_SCAN = "RPC_RRDB_RRDB_SCAN"
RPC_CLEAR_SCANNER = "RPC_RRDB_RRDB_CLEAR_SCANNER"

BLOB = "blob"  # args is one rDSN blob (bytes)
I64 = "i64"  # args is one i64 (CLEAR_SCANNER)


class RpcSpec(NamedTuple):
    name: str
    # a message class, BLOB or I64; Any because compile_struct makes the classes at import time
    # and decode_request calls ._decode_at on it once the two string cases are ruled out
    args: Any
    response: type[Any] | None  # None: never answered
    is_write: bool

    @property
    def ack_name(self) -> str:
        return self.name + "_ACK"


RPCS: dict[str, RpcSpec] = {
    s.name: s
    for s in (
        RpcSpec(RPC_QUERY_CFG, m.QueryCfgRequest, m.QueryCfgResponse, False),
        RpcSpec(RPC_PUT, m.UpdateRequest, m.UpdateResponse, True),
        RpcSpec(RPC_MULTI_PUT, m.MultiPutRequest, m.UpdateResponse, True),
        RpcSpec(RPC_REMOVE, BLOB, m.UpdateResponse, True),
        RpcSpec(RPC_MULTI_REMOVE, m.MultiRemoveRequest, m.MultiRemoveResponse, True),
        RpcSpec(RPC_INCR, m.IncrRequest, m.IncrResponse, True),
        RpcSpec(RPC_CHECK_AND_SET, m.CheckAndSetRequest, m.CheckAndSetResponse, True),
        RpcSpec(RPC_CHECK_AND_MUTATE, m.CheckAndMutateRequest, m.CheckAndMutateResponse, True),
        RpcSpec(RPC_GET, BLOB, m.ReadResponse, False),
        RpcSpec(RPC_MULTI_GET, m.MultiGetRequest, m.MultiGetResponse, False),
        RpcSpec(RPC_BATCH_GET, m.BatchGetRequest, m.BatchGetResponse, False),
        RpcSpec(RPC_SORTKEY_COUNT, BLOB, m.CountResponse, False),  # raw hash key, not encoded
        RpcSpec(RPC_TTL, BLOB, m.TtlResponse, False),
        RpcSpec(RPC_GET_SCANNER, m.GetScannerRequest, m.ScanResponse, False),
        RpcSpec(RPC_SCAN, m.ScanRequest, m.ScanResponse, False),
        RpcSpec(RPC_CLEAR_SCANNER, I64, None, False),
    )
}

# reply name -> spec, for decoding responses
BY_ACK: dict[str, RpcSpec] = {s.ack_name: s for s in RPCS.values()}
