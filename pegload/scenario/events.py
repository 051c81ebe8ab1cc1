"""Fault timelines (``events:``) and server-metrics capture (``server_metrics:``): their schema and
validation. The coordinator runs the events (``pegload.coordinator.events``) and polls the
servers (``pegload.coordinator.server_metrics``).

An event runs one action ``at`` a time from the start of a phase's measured part (after its
warm-up; default phase: the first); a phase shortened by ``--duration`` runs without its events
past the new end. Actions: ``onebox: {<action>: value, replica: ...}`` on the
embedded onebox only, or ``exec: "command"`` (any target; run by ``/bin/sh -c`` on the
coordinator's host, killed after ``timeout``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import fields as F
from .errors import excerpt
from .fields import INVALID, Section, ok
from .units import describe
from .yamlsource import LineDict

CAPTURE_MODES = ("auto", "off")
DEFAULT_SERVER_INTERVAL_S = 10.0
DEFAULT_EXEC_TIMEOUT_S = 30.0
MAX_EXEC_TIMEOUT_S = 3600.0

# onebox action -> what its value is (for messages); ``replica`` scopes the fault actions
ONEBOX_ACTIONS = {
    "stall": "a duration (the replica servers handle nothing for that long)",
    "delay_ms": "a reply delay in ms (0 removes it)",
    "busy_fraction": "a share of requests answered ERR_BUSY, 0..1",
    "drop_fraction": "a share of requests never answered, 0..1",
    "close_connections": "true (close the client connections of the replicas)",
    "move_primary": "{table, partition[, to]}",
    "kill_replica": "a replica server index or host:port",
    "restart_replica": "a replica server index or host:port",
    "clear": "true (remove every fault and stall)",
}
_SCOPED = ("stall", "delay_ms", "busy_fraction", "drop_fraction", "close_connections")


@dataclass(frozen=True)
class ServerMetricsSettings:
    """``auto``: capture the servers' ``/metrics`` when the target answers it; ``off``: never."""

    capture: str = "auto"
    interval_s: float = DEFAULT_SERVER_INTERVAL_S

    def to_dict(self) -> dict:
        return {"capture": self.capture, "interval": self.interval_s}


@dataclass(frozen=True)
class EventSpec:
    """One planned event: ``phase`` (a phase name), ``at_s`` (seconds from that phase's measured
    start), ``kind`` ``onebox`` or ``exec``; for onebox: ``action`` and ``args`` (the control
    call's arguments); for exec: ``command`` and ``timeout_s``."""

    phase: str
    at_s: float
    kind: str
    action: str = ""
    args: dict = field(default_factory=dict)
    command: str = ""
    timeout_s: float = DEFAULT_EXEC_TIMEOUT_S
    name: str = ""

    def describe(self) -> str:
        """A short label for plots and tables, e.g. ``stall 1s`` or ``exec: kubectl ...``."""
        if self.name:
            return self.name
        if self.kind == "exec":
            return "exec: " + excerpt(self.command, 40)
        args = {k: v for k, v in self.args.items() if v is not None}
        if self.action == "stall":
            extra = f" replica {args['replica']}" if "replica" in args else ""
            return f"stall {args['seconds']:g}s{extra}"
        if self.action in ("kill_replica", "restart_replica"):
            return f"{self.action} {args['replica']}"
        if self.action == "move_primary":
            return f"move_primary {args['table']}.{args['partition']}"
        shown = ", ".join(f"{k}={v}" for k, v in args.items() if k not in ("replica",))
        return f"{self.action} {shown}".strip()

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"at": self.at_s, "phase": self.phase}
        if self.name:
            out["name"] = self.name
        if self.kind == "exec":
            out.update({"exec": self.command, "timeout": self.timeout_s})
        else:
            out["onebox"] = _onebox_back(self.action, self.args)
        return out


def _onebox_back(action: str, args: dict) -> dict:
    """The ``onebox:`` mapping that gives ``action``/``args`` again (for ``to_dict``)."""
    out: dict[str, Any] = {}
    if action == "stall":
        out["stall"] = args["seconds"]
    elif action in ("delay_ms", "busy_fraction", "drop_fraction"):
        out[action] = args[action]
    elif action == "move_primary":
        out["move_primary"] = {k: v for k, v in args.items() if v is not None}
    elif action in ("kill_replica", "restart_replica"):
        out[action] = args["replica"]
    else:
        out[action] = True
    if action in _SCOPED and args.get("replica") is not None:
        out["replica"] = args["replica"]
    return out


def server_metrics_settings(top: Section) -> ServerMetricsSettings:
    """``server_metrics: auto | off`` or ``{capture: auto|off, interval: 10s}``."""
    value = top.raw("server_metrics")
    if value is None:
        return ServerMetricsSettings()
    if isinstance(value, bool) and value is False:  # YAML reads a bare `off` as false
        return ServerMetricsSettings(capture="off")
    if isinstance(value, str):
        try:
            return ServerMetricsSettings(capture=F.choice(CAPTURE_MODES)(value))
        except ValueError as exc:
            top.error("server_metrics", str(exc))
            return INVALID
    if not isinstance(value, LineDict):
        top.error("server_metrics",
                  f"expected auto, off or {{capture: auto|off, interval: 10s}}, got {describe(value)}")
        return INVALID
    sec = top.sub("server_metrics", value)
    raw = sec.raw("capture", "auto")
    capture = "off" if raw is False else sec.get("capture", F.choice(CAPTURE_MODES), "auto")
    interval = sec.get("interval", F.duration(0.5), DEFAULT_SERVER_INTERVAL_S)
    sec.finish()
    if not ok(capture, interval):
        return INVALID
    return ServerMetricsSettings(capture=capture, interval_s=interval)


def build_events(top: Section, phases, targets) -> tuple[EventSpec, ...]:
    """Validate ``events:``: each event's phase exists, its time lies inside the phase, and its
    action exists for every target of the scenario (``onebox:`` needs embedded onebox targets)."""
    items = top.sequence("events", what="a list of events (each with at: and onebox: or exec:)")
    if items is None:
        return () if not top.has("events") else INVALID
    by_name = {p.name: p for p in phases} if ok(phases) else None
    first = phases[0].name if ok(phases) and phases else None
    shortened = _shortened_phases(top, phases)
    out, good = [], True
    for i, item in enumerate(items):
        path = ("events", i)
        if not isinstance(item, LineDict):
            top.problems.add(items.item_loc(i), path,
                             f"expected an event mapping (at:, phase:, onebox: or exec:), got {describe(item)}")
            good = False
            continue
        ev = _event(Section(top.problems, item, path), by_name, first, targets, shortened)
        if ev is _CUT:
            continue
        if ev is INVALID:
            good = False
        else:
            out.append(ev)
    return tuple(out) if good else INVALID


_CUT: Any = object()  # an event past the end of a phase that --duration shortened


def _shortened_phases(top: Section, phases) -> set:
    """Names of the phases whose duration comes from ``--duration``: their events past the new
    end are left out (as a ramp is cut to fit), not refused."""
    items = top.data.get("phases")
    if not ok(phases) or not isinstance(items, list):
        return set()
    return {p.name for p, item in zip(phases, items)
            if isinstance(item, LineDict) and "duration" in item and item.value_loc("duration") == "--duration"}


def _event(sec: Section, by_name, first, targets, shortened=frozenset()):
    name = sec.get("name", F.string(), "")
    at = sec.get("at", F.duration(0), required=True)
    phase = sec.get("phase", F.string(), first)
    has_onebox, has_exec = sec.has("onebox"), sec.has("exec")
    sec.known.extend(["onebox", "exec", "timeout"])
    result: Any = INVALID
    if has_onebox == has_exec:
        sec.error(None, "expected exactly one action: onebox: {...} (embedded onebox) or exec: \"command\"")
    elif has_exec:
        command = sec.get("exec", F.string())
        timeout = sec.get("timeout", F.duration(0, lo_excl=True), DEFAULT_EXEC_TIMEOUT_S)
        if ok(timeout) and timeout > MAX_EXEC_TIMEOUT_S:
            sec.error("timeout", f"must be <= {MAX_EXEC_TIMEOUT_S:g}s, got {timeout:g}s")
            timeout = INVALID
        if ok(command, timeout):
            result = ("exec", "", {}, command, timeout)
    else:
        if sec.has("timeout"):
            sec.error("timeout", "only applies to exec: events", at_key=True)
        onebox_targets = [t for t in targets if t.onebox is not None] if ok(targets) else []
        if ok(targets) and len(onebox_targets) != len(targets):
            names = ", ".join(t.name for t in targets if t.onebox is None)
            sec.error("onebox", f"onebox actions need an embedded onebox target; target {names} is a cluster "
                      "(use exec: for a command that acts on it)", at_key=True)
        parsed = _onebox_action(sec, onebox_targets)
        if ok(parsed) and ok(targets) and len(onebox_targets) == len(targets):
            result = ("onebox", parsed[0], parsed[1], "", DEFAULT_EXEC_TIMEOUT_S)
    if ok(phase) and by_name is not None and phase not in by_name:
        sec.error("phase", f"no phase named {phase!r} (phases: {', '.join(by_name)})")
        phase = INVALID
    if ok(phase, at) and by_name is not None and at is not None:
        p = by_name[phase]
        if p.duration_s is not None and at >= p.duration_s and phase in shortened:
            sec.known.extend(list(sec.data))
            return _CUT
        if p.duration_s is not None and at >= p.duration_s:
            sec.error("at", f"{at:g}s is not inside phase {phase!r}, which measures for {p.duration_s:g}s "
                      "(at counts from the end of its warm-up)")
            at = INVALID
    sec.finish()
    if not ok(name, at, phase, result) or result is INVALID:
        return INVALID
    kind, action, args, command, timeout = result
    return EventSpec(phase=phase, at_s=at, kind=kind, action=action, args=args, command=command,
                     timeout_s=timeout, name=name)


@F.expects("a replica server index or host:port")
def _replica(value):
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a replica index must be >= 0, got {value}")
        return value
    if isinstance(value, str) and ":" in value:
        return value
    raise ValueError(f"expected a replica server index (0, 1, ...) or host:port, got {describe(value)}")


def _onebox_action(sec: Section, onebox_targets):
    value = sec.raw("onebox")
    if not isinstance(value, LineDict):
        sec.error("onebox", f"expected a mapping with one action ({', '.join(ONEBOX_ACTIONS)}), got {describe(value)}")
        return INVALID
    ob = sec.sub("onebox", value)
    actions = [k for k in value if k in ONEBOX_ACTIONS]
    ob.known.extend(ONEBOX_ACTIONS)
    if len(actions) != 1:
        got = f"got {', '.join(actions)}" if actions else "got none"
        ob.error(None, f"expected exactly one action of: {', '.join(ONEBOX_ACTIONS)} ({got})")
        ob.known.append("replica")
        ob.finish()
        return INVALID
    action = actions[0]
    replicas = min((t.onebox.replicas for t in onebox_targets), default=None)

    def in_range(key: str, r):
        if ok(r) and isinstance(r, int) and replicas is not None and r >= replicas:
            ob.error(key, f"replica {r} does not exist: the onebox has {replicas} replica server(s) "
                     f"(0..{replicas - 1})")
            return INVALID
        return r

    replica = None
    if action in _SCOPED:
        replica = in_range("replica", ob.get("replica", _replica, None))
    elif ob.has("replica"):
        ob.error("replica", f"does not apply to {action}", at_key=True)
        ob.known.append("replica")
    args: Any = INVALID
    if action == "stall":
        seconds = ob.get("stall", F.duration(0, lo_excl=True))
        if ok(seconds) and seconds > 600:
            ob.error("stall", f"must be <= 600s, got {seconds:g}s")
            seconds = INVALID
        args = {"seconds": seconds, "replica": replica}
    elif action == "delay_ms":
        args = {"delay_ms": ob.get("delay_ms", F.number(0, 60_000)), "replica": replica}
    elif action in ("busy_fraction", "drop_fraction"):
        args = {action: ob.get(action, F.number(0, 1)), "replica": replica}
    elif action in ("close_connections", "clear"):
        flag = ob.get(action, F.boolean)
        if flag is False:
            ob.error(action, "expected true (leave the event out to not run it)")
            flag = INVALID
        args = {"replica": replica} if action == "close_connections" else {}
        if not ok(flag):
            args = INVALID
    elif action in ("kill_replica", "restart_replica"):
        args = {"replica": in_range(action, ob.get(action, _replica))}
    elif action == "move_primary":
        args = _move_primary(ob, onebox_targets, in_range)
    ob.finish()
    if args is INVALID or not ok(replica, *args.values()):
        return INVALID
    return action, args


def _move_primary(ob: Section, onebox_targets, in_range):
    value = ob.mapping("move_primary", required=True, what="a mapping {table, partition[, to]}")
    if value is None:
        return INVALID
    mp = ob.sub("move_primary", value)
    default_table = onebox_targets[0].onebox.table if onebox_targets else None
    table = mp.get("table", F.string(), default_table)
    partition = mp.get("partition", F.integer(0), required=True)
    to = mp.get("to", _replica, None)
    mp.finish()
    if ok(table, partition) and onebox_targets and table is not None:
        for t in onebox_targets:
            if table != t.onebox.table:
                mp.error("table", f"the onebox of target {t.name} has table {t.onebox.table!r}, not {table!r}")
                return INVALID
            if partition >= t.onebox.partitions:
                mp.error("partition", f"table {table!r} has {t.onebox.partitions} partitions (0.."
                         f"{t.onebox.partitions - 1}), got {partition}")
                return INVALID
    to = in_range("move_primary", to) if to is not None else None
    if not ok(table, partition, to):
        return INVALID
    return {"table": table, "partition": partition, "to": to}

