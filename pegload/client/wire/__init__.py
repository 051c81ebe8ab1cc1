"""The pure Pegasus wire codec: bytes in, bytes out, no sockets.

Shared by the client and the onebox server. See docs/architecture.md.
"""
from .crc64 import crc64, hash_key_hash, key_hash, partition_index
from .errors import RocksStatus
from .frames import (
    MAX_FRAME,
    FrameError,
    Request,
    RequestFramer,
    RequestHeader,
    Response,
    ResponseFramer,
    decode_request,
    decode_response,
    decode_response_head,
    decode_result,
    encode_request,
    encode_request_body,
    encode_response,
    thread_hash,
)
from .keys import (
    MAX_HASH_KEY_LEN,
    PEGASUS_EPOCH,
    decode_key,
    encode_key,
    epoch_now,
    expire_ts_for_ttl,
    hash_key_upper_bound,
    is_expired,
    next_prefix,
)
from .messages import *  # noqa: F401,F403  (the message classes and enums)
from .messages import (
    CasCheckType,
    FilterType,
    Gpid,
    HostPort,
    MutateOperation,
    parse_address,
    rpc_address_from,
    rpc_address_parts,
)
from .rpc import *  # noqa: F401,F403  (RPC name constants, RPCS)
from .thrift import TType, WireError, Writer
