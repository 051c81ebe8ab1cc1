"""The coordinator <-> worker protocol: typed messages and their one framing.

Pure Python, no gevent: the coordinator (not monkeypatched) and the worker (monkeypatched) both
import this module, and nothing else from the runner is imported by the coordinator.

A frame on the wire::

    u32 body_length | u32 header_length | header (UTF-8 JSON object with "type") | blob

The JSON header carries the message fields; ``blob`` carries the one binary field a message may
have (an encoded interval snapshot), so histograms are never base64-inflated twice.

Conversation (one TCP connection per worker, on 127.0.0.1)::

    worker                         coordinator
    Hello(worker_id, token, pid) ->
                                <- Plan(...)              the worker's share of the work
    Ready(fingerprint) | InitFailed(reason) ->            after client.init(): start barrier
                                <- StartPhase(index, start_at)   same wall-clock start for all
    Interval(phase, blob, selfcheck) ->              every second of the phase
    PhaseDone(phase, sent, dropped) ->                    after the last (partial) interval
                                <- StopPhase()            end the phase early (Ctrl-C, crash)
                                <- Shutdown()             close the client and exit 0
    WorkerFailed(reason) ->                               then the worker exits non-zero
"""
from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

_LEN = struct.Struct(">II")
MAX_FRAME = 64 * 1024 * 1024  # far above any interval snapshot; guards against a garbage peer


class ProtocolError(ValueError):
    """A peer sent bytes that are not a pegload worker-protocol frame."""


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str] = ""

    def header(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "blob"}
        data["type"] = self.TYPE
        return data

    def body_blob(self) -> bytes:
        return getattr(self, "blob", b"")


@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar[str] = "hello"
    worker_id: int
    token: str
    pid: int


@dataclass(frozen=True)
class Plan(Message):
    """Everything a worker needs: the effective scenario (plain data), its share, the target."""

    TYPE: ClassVar[str] = "plan"
    worker_id: int
    worker_count: int
    scenario: dict[str, Any]
    meta_addrs: list[str]
    table: str
    timeout_ms: int
    interval_s: float = 1.0


@dataclass(frozen=True)
class Ready(Message):
    TYPE: ClassVar[str] = "ready"
    worker_id: int
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InitFailed(Message):
    TYPE: ClassVar[str] = "init_failed"
    worker_id: int
    reason: str


@dataclass(frozen=True)
class StartPhase(Message):
    TYPE: ClassVar[str] = "start_phase"
    index: int
    start_at: float  # wall clock (time.time()); every worker starts the phase at this instant


@dataclass(frozen=True)
class Interval(Message):
    TYPE: ClassVar[str] = "interval"
    worker_id: int
    phase: int
    selfcheck: dict[str, Any]  # pegload.runner.selfcheck figures for the same interval
    blob: bytes = b""  # IntervalSnapshot.to_bytes()


@dataclass(frozen=True)
class PhaseDone(Message):
    TYPE: ClassVar[str] = "phase_done"
    worker_id: int
    phase: int
    sent: dict[str, int]  # op name -> ops issued in the phase (finished, whatever the result)
    dropped: int = 0  # open loop: scheduled ops never started because the phase ended
    stopped_early: bool = False
    verify_examples: list[str] = field(default_factory=list)  # first verification failures
    slots: int = 0  # measured slots (open loop) or ops (closed loop, ops phase) this worker was assigned
    late_sent: int = 0  # measured ops sent after the phase's planned end (drain work)
    arrivals: str = ""  # the arrival process that ran (open loop): "uniform", "poisson"


@dataclass(frozen=True)
class StopPhase(Message):
    TYPE: ClassVar[str] = "stop_phase"
    reason: str = ""


@dataclass(frozen=True)
class Shutdown(Message):
    TYPE: ClassVar[str] = "shutdown"


@dataclass(frozen=True)
class WorkerFailed(Message):
    TYPE: ClassVar[str] = "worker_failed"
    worker_id: int
    reason: str


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (Hello, Plan, Ready, InitFailed, StartPhase, Interval, PhaseDone, StopPhase, Shutdown,
                WorkerFailed)
}


def encode(msg: Message) -> bytes:
    header = json.dumps(msg.header(), separators=(",", ":")).encode()
    blob = msg.body_blob()
    return _LEN.pack(4 + len(header) + len(blob), len(header)) + header + blob


def _decode_body(body: bytes | memoryview) -> Message:
    (header_len,) = struct.unpack_from(">I", body, 0)
    if header_len > len(body) - 4:
        raise ProtocolError(f"header length {header_len} exceeds frame body of {len(body)} bytes")
    try:
        data = json.loads(bytes(body[4:4 + header_len]))
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from None
    kind = data.pop("type", None) if isinstance(data, dict) else None
    cls = MESSAGE_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    if "blob" in {f.name for f in fields(cls)}:
        data["blob"] = bytes(body[4 + header_len:])
    try:
        return cls(**data)
    except TypeError as exc:
        raise ProtocolError(f"bad {kind} message: {exc}") from None


class FrameReader:
    """Incremental decoder: feed it whatever recv() returned, take whole messages out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while len(self._buf) >= 4:
            (body_len,) = struct.unpack_from(">I", self._buf, 0)
            if body_len < 4 or body_len > MAX_FRAME:
                raise ProtocolError(f"frame length {body_len} outside 4..{MAX_FRAME}")
            if len(self._buf) < 4 + body_len:
                break
            body = bytes(self._buf[4:4 + body_len])
            del self._buf[:4 + body_len]
            out.append(_decode_body(body))
        return out

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)


def as_dict(msg: Message) -> dict[str, Any]:
    """For logs and tests: the message as plain data (blob shown by its length)."""
    data = asdict(msg)
    if "blob" in data:
        data["blob"] = f"<{len(data['blob'])} bytes>"
    return data
