"""Pegasus request/response structs, written from the field tables of protocol doc 2.4.

Field names are the IDL names. Defaults are the server's zero values; a field set to ``None`` is
left off the wire (optional fields default to ``None``). ``multi_get_request`` field 2 carries
the modern name ``sort_keys`` (old IDLs spelled it ``sork_keys``; same id and type).
"""
from __future__ import annotations

import enum
import ipaddress
from typing import Any, NamedTuple

from .thrift import EMPTY_LIST, Field, compile_struct


class Gpid(NamedTuple):
    app_id: int
    partition_index: int


class HostPort(NamedTuple):
    host: str
    port: int
    type: int = 1  # 0 invalid, 1 IPv4, 2 group

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class FilterType(enum.IntEnum):
    FT_NO_FILTER = 0
    FT_MATCH_ANYWHERE = 1
    FT_MATCH_PREFIX = 2
    FT_MATCH_POSTFIX = 3


class CasCheckType(enum.IntEnum):
    CT_NO_CHECK = 0
    CT_VALUE_NOT_EXIST = 1
    CT_VALUE_NOT_EXIST_OR_EMPTY = 2
    CT_VALUE_EXIST = 3
    CT_VALUE_NOT_EMPTY = 4
    CT_VALUE_MATCH_ANYWHERE = 5
    CT_VALUE_MATCH_PREFIX = 6
    CT_VALUE_MATCH_POSTFIX = 7
    CT_VALUE_BYTES_LESS = 8
    CT_VALUE_BYTES_LESS_OR_EQUAL = 9
    CT_VALUE_BYTES_EQUAL = 10
    CT_VALUE_BYTES_GREATER_OR_EQUAL = 11
    CT_VALUE_BYTES_GREATER = 12
    CT_VALUE_INT_LESS = 13
    CT_VALUE_INT_LESS_OR_EQUAL = 14
    CT_VALUE_INT_EQUAL = 15
    CT_VALUE_INT_GREATER_OR_EQUAL = 16
    CT_VALUE_INT_GREATER = 17


class MutateOperation(enum.IntEnum):
    MO_PUT = 0
    MO_DELETE = 1


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` -> ``(host, port)``; raises ValueError naming the bad address."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"server address {address!r} is not 'host:port'")
    return host, int(port)


def rpc_address_from(host: str, port: int) -> int:
    """rDSN rpc_address as its i64: IPv4 in bits 63..32, port in 31..16, type 1 (IPv4) in 1..0."""
    ip = int(ipaddress.IPv4Address(host))
    v = (ip << 32) | ((port & 0xFFFF) << 16) | 1
    return v - (1 << 64) if v >= 1 << 63 else v  # carried as a signed i64


def rpc_address_parts(v: int) -> tuple[str, int] | None:
    """``(ip, port)`` of an rpc_address i64, or None for 0 / a non-IPv4 address."""
    u = v & 0xFFFFFFFFFFFFFFFF
    if u == 0 or (u & 3) != 1:
        return None
    return str(ipaddress.IPv4Address(u >> 32)), (u >> 16) & 0xFFFF


_ENV = {"Gpid": Gpid}


def _struct(name: str, fields: list[Field], doc: str = "") -> type[Any]:
    cls, env = compile_struct(name, fields, doc, _ENV)
    return cls


_B = b""
_L = EMPTY_LIST

# ------------------------------------------------------------------ writes
UpdateRequest = _struct("UpdateRequest", [
    (1, "key", "blob", _B), (2, "value", "blob", _B), (3, "expire_ts_seconds", "i32", 0),
    (4, "type", "i32", None), (5, "check_value_returned", "bool", None),
    (6, "check_value_exist", "bool", None), (7, "check_value", "blob", None),
], "PUT: encoded key, value, absolute expiry (0 = none). Fields 4-7 are server-internal.")

UpdateResponse = _struct("UpdateResponse", [
    (1, "error", "i32", 0), (2, "app_id", "i32", 0), (3, "partition_index", "i32", 0),
    (4, "decree", "i64", 0), (5, "server", "string", ""),
])

KeyValue = _struct("KeyValue", [
    (1, "key", "blob", _B), (2, "value", "blob", _B), (3, "expire_ts_seconds", "i32", None),
])

MultiPutRequest = _struct("MultiPutRequest", [
    (1, "hash_key", "blob", _B), (2, "kvs", ("list", ("struct", KeyValue)), _L),
    (3, "expire_ts_seconds", "i32", 0),
])

MultiRemoveRequest = _struct("MultiRemoveRequest", [
    (1, "hash_key", "blob", _B), (2, "sort_keys", ("list", "blob"), _L), (3, "max_count", "i64", None),
])

MultiRemoveResponse = _struct("MultiRemoveResponse", [
    (1, "error", "i32", 0), (2, "count", "i64", 0), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (5, "decree", "i64", 0), (6, "server", "string", ""),
])

IncrRequest = _struct("IncrRequest", [
    (1, "key", "blob", _B), (2, "increment", "i64", 0), (3, "expire_ts_seconds", "i32", 0),
])

IncrResponse = _struct("IncrResponse", [
    (1, "error", "i32", 0), (2, "new_value", "i64", 0), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (5, "decree", "i64", 0), (6, "server", "string", ""),
])

CheckAndSetRequest = _struct("CheckAndSetRequest", [
    (1, "hash_key", "blob", _B), (2, "check_sort_key", "blob", _B), (3, "check_type", "i32", 0),
    (4, "check_operand", "blob", _B), (5, "set_diff_sort_key", "bool", False),
    (6, "set_sort_key", "blob", _B), (7, "set_value", "blob", _B),
    (8, "set_expire_ts_seconds", "i32", 0), (9, "return_check_value", "bool", False),
])

_CAS_RESPONSE: list[Field] = [
    (1, "error", "i32", 0), (2, "check_value_returned", "bool", False),
    (3, "check_value_exist", "bool", False), (4, "check_value", "blob", _B),
    (5, "app_id", "i32", 0), (6, "partition_index", "i32", 0), (7, "decree", "i64", 0),
    (8, "server", "string", ""),
]
CheckAndSetResponse = _struct("CheckAndSetResponse", _CAS_RESPONSE)

Mutate = _struct("Mutate", [
    (1, "operation", "i32", 0), (2, "sort_key", "blob", _B), (3, "value", "blob", _B),
    (4, "set_expire_ts_seconds", "i32", 0),
])

CheckAndMutateRequest = _struct("CheckAndMutateRequest", [
    (1, "hash_key", "blob", _B), (2, "check_sort_key", "blob", _B), (3, "check_type", "i32", 0),
    (4, "check_operand", "blob", _B), (5, "mutate_list", ("list", ("struct", Mutate)), _L),
    (6, "return_check_value", "bool", False),
])

CheckAndMutateResponse = _struct("CheckAndMutateResponse", _CAS_RESPONSE)

# ------------------------------------------------------------------ reads
ReadResponse = _struct("ReadResponse", [
    (1, "error", "i32", 0), (2, "value", "blob", _B), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (6, "server", "string", ""),
])

TtlResponse = _struct("TtlResponse", [
    (1, "error", "i32", 0), (2, "ttl_seconds", "i32", 0), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (6, "server", "string", ""),
])

CountResponse = _struct("CountResponse", [
    (1, "error", "i32", 0), (2, "count", "i64", 0), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (6, "server", "string", ""),
])

MultiGetRequest = _struct("MultiGetRequest", [
    (1, "hash_key", "blob", _B), (2, "sort_keys", ("list", "blob"), _L),
    (3, "max_kv_count", "i32", 0), (4, "max_kv_size", "i32", 0), (5, "no_value", "bool", False),
    (6, "start_sortkey", "blob", _B), (7, "stop_sortkey", "blob", _B),
    (8, "start_inclusive", "bool", False), (9, "stop_inclusive", "bool", False),
    (10, "sort_key_filter_type", "i32", 0), (11, "sort_key_filter_pattern", "blob", _B),
    (12, "reverse", "bool", False),
])

MultiGetResponse = _struct("MultiGetResponse", [
    (1, "error", "i32", 0), (2, "kvs", ("list", ("struct", KeyValue)), _L), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (6, "server", "string", ""),
])

FullKey = _struct("FullKey", [(1, "hash_key", "blob", _B), (2, "sort_key", "blob", _B)])

BatchGetRequest = _struct("BatchGetRequest", [(1, "keys", ("list", ("struct", FullKey)), _L)])

FullData = _struct("FullData", [
    (1, "hash_key", "blob", _B), (2, "sort_key", "blob", _B), (3, "value", "blob", _B),
])

BatchGetResponse = _struct("BatchGetResponse", [
    (1, "error", "i32", 0), (2, "data", ("list", ("struct", FullData)), _L), (3, "app_id", "i32", 0),
    (4, "partition_index", "i32", 0), (6, "server", "string", ""),
])

GetScannerRequest = _struct("GetScannerRequest", [
    (1, "start_key", "blob", _B), (2, "stop_key", "blob", _B), (3, "start_inclusive", "bool", False),
    (4, "stop_inclusive", "bool", False), (5, "batch_size", "i32", 0), (6, "no_value", "bool", False),
    (7, "hash_key_filter_type", "i32", 0), (8, "hash_key_filter_pattern", "blob", _B),
    (9, "sort_key_filter_type", "i32", 0), (10, "sort_key_filter_pattern", "blob", _B),
    (11, "validate_partition_hash", "bool", None), (12, "return_expire_ts", "bool", None),
    (13, "full_scan", "bool", None), (14, "only_return_count", "bool", None),
])

ScanRequest = _struct("ScanRequest", [(1, "context_id", "i64", 0)])

ScanResponse = _struct("ScanResponse", [
    (1, "error", "i32", 0), (2, "kvs", ("list", ("struct", KeyValue)), _L), (3, "context_id", "i64", 0),
    (4, "app_id", "i32", 0), (5, "partition_index", "i32", 0), (6, "server", "string", ""),
    (7, "kv_count", "i32", None),
], "kvs[].key is the FULL encoded key; context_id -1 = finished.")

# ------------------------------------------------------------------ meta
QueryCfgRequest = _struct("QueryCfgRequest", [
    (1, "app_name", "string", ""), (2, "partition_indices", ("list", "i32"), _L),
])

PartitionConfiguration = _struct("PartitionConfiguration", [
    (1, "pid", "gpid", Gpid(0, 0)), (2, "ballot", "i64", 0), (3, "max_replica_count", "i32", 0),
    (4, "primary", "rpc_address", 0), (5, "secondaries", ("list", "rpc_address"), _L),
    (6, "last_drops", ("list", "rpc_address"), _L), (7, "last_committed_decree", "i64", 0),
    (8, "partition_flags", "i32", 0), (9, "hp_primary", "host_port", None),
    (10, "hp_secondaries", ("list", "host_port"), None),
    (11, "hp_last_drops", ("list", "host_port"), None),
], "Fields 9-11 (host_port) are sent by servers built after 2024-03 only.")

QueryCfgResponse = _struct("QueryCfgResponse", [
    (1, "err", "error_code", "ERR_OK"), (2, "app_id", "i32", 0), (3, "partition_count", "i32", 0),
    (4, "is_stateful", "bool", False),
    (5, "partitions", ("list", ("struct", PartitionConfiguration)), _L),
])

RequestMetaV1 = _struct("RequestMetaV1", [
    (1, "app_id", "i32", 0), (2, "partition_index", "i32", 0), (3, "client_timeout", "i32", 0),
    (4, "partition_hash", "i64", 0), (5, "is_backup_request", "bool", False),
], "The meta struct of a v1 request header (Java client).")
