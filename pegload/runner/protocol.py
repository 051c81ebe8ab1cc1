"""The coordinator <-> worker protocol: typed messages and their one framing.

Pure Python, no gevent: the coordinator (not monkeypatched) and the worker (monkeypatched) both
import this module, and nothing else from the runner is imported by the coordinator.

A frame on the wire::

    u32 body_length | u32 header_length | header (UTF-8 JSON object with "type") | blob

The JSON header carries the message fields; ``blob`` carries the one binary field a message may
have (an encoded interval snapshot, or the plan's scenario), so it is never base64-inflated.

Conversation (one TCP connection per worker, on 127.0.0.1)::

    worker                         coordinator
    Hello(worker_id, token, pid) ->
                                <- Plan(scenario, target)  the validated scenario and the target
    Ready(fingerprint) | InitFailed(reason) ->            after client.init(): start barrier
                                <- StartPhase(index, start_at)   same wall-clock start for all
    Heartbeat(worker_id, phase) ->                        every HEARTBEAT_PERIOD_S, from Ready on
    Interval(phase, blob, selfcheck) ->                   every INTERVAL_S of the phase
    PhaseDone(phase, sent, dropped, slots, ...) ->        after the last (partial) interval
                                <- StopPhase()            end the phase early (Ctrl-C, crash)
                                <- Shutdown()             close the client and exit 0
    WorkerFailed(reason) ->                               then the worker exits non-zero
"""
from __future__ import annotations

import dataclasses
import enum
import io
import json
import pickle
import struct
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pegload.scenario import Scenario

_LEN = struct.Struct(">II")
MAX_FRAME = 64 * 1024 * 1024  # far above any interval snapshot; guards against a garbage peer

# The measurement interval: workers snapshot their histograms this often, and the coordinator's
# interval grid (RunAccumulator) uses the same length. One definition for both sides.
INTERVAL_S = 1.0
# Liveness: a worker sends Heartbeat this often from its own greenlet; a worker silent for longer
# than HEARTBEAT_SILENCE_S (three missed beats: a frozen, stopped or starved process) is named
# lost, so a dead or stuck worker is noticed within 2 s, not at the end of the phase.
HEARTBEAT_PERIOD_S = 0.5
HEARTBEAT_SILENCE_S = 1.5


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
    """Everything a worker needs: the validated scenario, the target, the interval length.

    The scenario travels as the typed ``Scenario`` itself (pickled into ``blob``: build with
    ``Plan.of``, read with ``plan.scenario()``), so the worker uses it as the coordinator
    validated it, with no second parse or validation. Both ends are the same pegload; still, a
    worker may run on another host (``--dask``) and must not execute whatever a peer posing as
    its coordinator sends, so the blob is read by an unpickler that builds only the scenario
    package's own dataclasses and enums (``_ScenarioUnpickler``) and refuses every other global."""

    TYPE: ClassVar[str] = "plan"
    meta_addrs: list[str]
    table: str
    timeout_ms: int
    interval_s: float = INTERVAL_S
    blob: bytes = b""  # pickle of the validated pegload.scenario.Scenario

    @classmethod
    def of(cls, scenario: Scenario, meta_addrs: list[str], table: str, interval_s: float = INTERVAL_S) -> Plan:
        return cls(list(meta_addrs), table, scenario.timeout_ms, interval_s,
                   pickle.dumps(scenario, protocol=pickle.HIGHEST_PROTOCOL))

    def scenario(self) -> Scenario:
        return _ScenarioUnpickler(io.BytesIO(self.blob)).load()


class _ScenarioUnpickler(pickle.Unpickler):
    """Builds a pickled ``Scenario`` and nothing else: the only globals it resolves are
    dataclasses and enums defined in ``pegload.scenario``, so a forged plan cannot call a
    function (``os.system``, ``builtins.eval``, ...) while it is read."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "pegload.scenario" or module.startswith("pegload.scenario."):
            obj = super().find_class(module, name)
            if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)):
                return obj
        raise ProtocolError(f"plan refers to {module}.{name}, which is not a scenario type")


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
class Heartbeat(Message):
    """I am alive and my event loop turns; ``phase`` is the phase index being run (None between
    phases)."""

    TYPE: ClassVar[str] = "heartbeat"
    worker_id: int
    phase: int | None = None


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
    for cls in (Hello, Plan, Ready, InitFailed, StartPhase, Heartbeat, Interval, PhaseDone, StopPhase,
                Shutdown, WorkerFailed)
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
