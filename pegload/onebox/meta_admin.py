"""The meta's admin RPC for table envs: ``RPC_CM_UPDATE_APP_ENV`` (set / del / clear), as the
real meta answers it (``meta_service::update_app_env``, ``server_state::set_app_envs`` ...
in apache/incubator-pegasus; IDL ``configuration_update_app_env_request/response`` in
``idl/meta_admin.thrift``). The error travels in the response body; the frame says ERR_OK.

Differences: the change reaches the replicas at once (a real replica picks it up at its next
config sync); a non-leader meta answers ``ERR_FORWARD_TO_OTHERS`` with the leader's address in
``hint_message`` instead of forwarding the request; keys the onebox does not emulate are refused
with ``ERR_INVALID_PARAMETERS``.
"""
from __future__ import annotations

import struct
from typing import Any

from pegload.client.wire import WireError, encode_response
from pegload.client.wire.errors import (
    ERR_FORWARD_TO_OTHERS,
    ERR_INVALID_DATA,
    ERR_INVALID_PARAMETERS,
    ERR_OK,
)
from pegload.client.wire.frames import MSG_ONEWAY, decode_request_header, decode_response_head
from pegload.client.wire.thrift import TType, _read_str, compile_struct

from .app_envs import AppEnvError

RPC_CM_UPDATE_APP_ENV = "RPC_CM_UPDATE_APP_ENV"
ERR_APP_NOT_EXIST = "ERR_APP_NOT_EXIST"
OP_INVALID, OP_SET, OP_DEL, OP_CLEAR = 0, 1, 2, 3

UpdateAppEnvRequest, _ = compile_struct("UpdateAppEnvRequest", [
    (1, "app_name", "string", ""), (2, "op", "i32", OP_INVALID), (3, "keys", ("list", "string"), None),
    (4, "values", ("list", "string"), None), (5, "clear_prefix", "string", None),
])
UpdateAppEnvResponse, _ = compile_struct("UpdateAppEnvResponse", [
    (1, "err", "string", ERR_OK), (2, "hint_message", "string", ""),
])


def decode_args(frame: bytes) -> tuple[int, int, Any]:
    """``(message type, seqid, request)`` of an RPC_CM_UPDATE_APP_ENV frame."""
    _, p = decode_request_header(frame)
    try:
        mt = struct.unpack_from(">I", frame, p)[0]
        name, p = _read_str(frame, p + 4)
        seqid = struct.unpack_from(">i", frame, p)[0]
        p += 4
        if frame[p] != TType.STRUCT:
            raise WireError(f"{name}: args field 1 is not a struct")
        req, _ = UpdateAppEnvRequest._decode_at(frame, p + 3)
    except (IndexError, struct.error) as e:
        raise WireError(f"truncated {RPC_CM_UPDATE_APP_ENV} body: {e}") from None
    return mt & 0xFF, seqid, req


def decode_reply(frame: bytes) -> tuple[str, Any]:
    """``(frame error name, response or None)`` of an RPC_CM_UPDATE_APP_ENV reply frame (for
    callers speaking raw frames: tests, admin tools)."""
    err, _name, _seqid, p = decode_response_head(frame)
    if err != ERR_OK:
        return err, None
    try:
        if frame[p] != TType.STRUCT or struct.unpack_from(">h", frame, p + 1)[0] != 0:
            raise WireError("reply has no result struct in field 0")
        resp, _ = UpdateAppEnvResponse._decode_at(frame, p + 3)
    except (IndexError, struct.error) as e:
        raise WireError(f"truncated {RPC_CM_UPDATE_APP_ENV} reply: {e}") from None
    return err, resp


def update_app_env(rt, meta_index: int, req) -> Any:
    cluster = rt.cluster
    if meta_index != cluster.leader:
        return UpdateAppEnvResponse(ERR_FORWARD_TO_OTHERS, cluster.metas[cluster.leader].addr)
    name = req.app_name
    if name not in cluster.tables:
        return UpdateAppEnvResponse(ERR_APP_NOT_EXIST, "app cannot be found")
    envs = rt.envs
    try:
        if req.op == OP_SET:
            keys, values = req.keys, req.values
            if keys is None or values is None or len(keys) != len(values) or not keys:
                return UpdateAppEnvResponse(ERR_INVALID_PARAMETERS, "")
            envs.set(name, dict(zip(keys, values, strict=True)), validate=True)
            return UpdateAppEnvResponse(ERR_OK, "")
        if req.op == OP_DEL:
            if not req.keys:
                return UpdateAppEnvResponse(ERR_INVALID_PARAMETERS, "")
            before = envs.get(name)
            gone = [k for k in req.keys if k in before]
            envs.delete(name, req.keys)
            if not gone:
                return UpdateAppEnvResponse(ERR_OK, "no key needs to be deleted")
            return UpdateAppEnvResponse(ERR_OK, "deleted keys:" + "".join(f"\n    {k}" for k in gone))
        if req.op == OP_CLEAR:
            if req.clear_prefix is None:
                return UpdateAppEnvResponse(ERR_INVALID_PARAMETERS, "")
            before = envs.get(name)
            after = envs.clear(name, req.clear_prefix)
            gone = [k for k in before if k not in after]
            if not gone:
                return UpdateAppEnvResponse(ERR_OK, "no key needs to be deleted")
            return UpdateAppEnvResponse(ERR_OK, "deleted keys:" + "".join(f"\n    {k}" for k in gone))
    except AppEnvError as e:
        return UpdateAppEnvResponse(ERR_INVALID_PARAMETERS, str(e))
    return UpdateAppEnvResponse(ERR_INVALID_PARAMETERS,
                                "recv a invalid update_app_env request with op = APP_ENV_OP_INVALID")


def handle(service, req, frame):
    """Meta-port hook: the reply for an admin RPC we serve, or None when ``req`` is not one."""
    if req.name != RPC_CM_UPDATE_APP_ENV:
        return None
    try:
        msg_type, seqid, args = decode_args(frame)
    except WireError:
        return encode_response(ERR_INVALID_DATA, RPC_CM_UPDATE_APP_ENV + "_ACK", req.seqid)
    resp = update_app_env(service.runtime, service.index, args)
    if msg_type == MSG_ONEWAY:
        return b""
    return encode_response(ERR_OK, RPC_CM_UPDATE_APP_ENV + "_ACK", seqid, resp)
