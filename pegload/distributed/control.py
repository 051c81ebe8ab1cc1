"""The coordinator <-> agent control channel: small JSON messages, length-prefixed.

Separate from the worker protocol (:mod:`pegload.runner.protocol`), which carries the load and
the histograms straight from each worker process to the coordinator: this channel only starts
and stops an agent's processes, proves the agent alive and measures its clock. Messages::

    agent -> coordinator   {"t": "hello", "agent", "token", "host", "pid", "dask_worker"}
                           {"t": "started", "pids": {worker_id: pid}}
                           {"t": "pong", "seq", "t0", "t1", "t2"}      answer to a ping
                           {"t": "beat", "cpu": {worker_id: cpu seconds}}  every BEAT_S
                           {"t": "exited", "wid", "code", "log"}       a worker ended (log tail)
    coordinator -> agent   {"t": "ping", "seq", "t0"}
                           {"t": "kill", "wid"}                          SIGKILL one worker
                           {"t": "stop"}                                 end every worker, return
"""
from __future__ import annotations

import json
import struct
from typing import Any

_LEN = struct.Struct(">I")
MAX_MESSAGE = 1 << 20  # a log tail is the largest thing sent
BEAT_S = 0.5  # the agent's heartbeat period
LOST_AFTER_S = 2.0  # an agent silent this long is lost (4 missed beats)


class ControlError(ValueError):
    """The peer sent something that is not a control message."""


def encode(msg: dict[str, Any]) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return _LEN.pack(len(body)) + body


class Reader:
    """Incremental decoder for :func:`encode`'s frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        out = []
        while len(self._buf) >= 4:
            (n,) = _LEN.unpack_from(self._buf, 0)
            if n > MAX_MESSAGE:
                raise ControlError(f"control message of {n} bytes exceeds {MAX_MESSAGE}")
            if len(self._buf) < 4 + n:
                break
            try:
                msg = json.loads(bytes(self._buf[4:4 + n]))
            except ValueError as exc:
                raise ControlError(f"control message is not JSON: {exc}") from None
            del self._buf[:4 + n]
            if not isinstance(msg, dict) or not isinstance(msg.get("t"), str):
                raise ControlError(f"control message without a type: {msg!r:.80}")
            out.append(msg)
        return out
