"""Validation: turns the YAML tree of a scenario (with line numbers) into a ``Scenario``,
reporting every problem of the file at once (see ``errors.py`` for the message format).

Checks, in order of the file: known keys only, types and ranges of every field, required
fields, then cross-field rules (mode/rate/ramp, target vs targets, verification constraints,
thresholds naming ops that the mix actually runs).
"""
from __future__ import annotations

import os
import re
from typing import Any

from . import fields as F
from .errors import Location, Path, Problems, excerpt
from .events import build_events, server_metrics_settings
from .fields import INVALID, Section, ok
from .limits import limit_problems
from .ops import OP_NAMES, OPS
from .schema import (
    ARRIVALS,
    DISTRIBUTIONS,
    MODES,
    DataLayout,
    KeyChoice,
    LoadPhase,
    OneboxSettings,
    OpSpec,
    Phase,
    Ramp,
    Scenario,
    Target,
    ValueSize,
)
from .thresholds import RECOVERY, ThresholdError, parse_threshold
from .units import describe
from .yamlsource import LineDict, LineList

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOSTPORT_RE = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
_RESERVED_PHASE_NAMES = ("load",)


def default_workers() -> int:
    """One worker process per core."""
    return os.cpu_count() or 1


@F.expects("a name of letters, digits, '-', '_' and '.'")
def _name(value):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(f"expected a name of letters, digits, '-', '_' and '.' (used in report folder names), "
                         f"got {describe(value)}")
    return value


def build_scenario(root: Any, file: str, default_name: str) -> Scenario:
    """Validate the loaded tree; raise ScenarioError listing every problem."""
    problems = Problems(file)
    if root is None:
        problems.add(1, (), "the file is empty; expected a scenario mapping (name, phases, ...)")
        problems.raise_if_any()
    if not isinstance(root, LineDict):
        problems.add(getattr(root, "line", 1), (), f"expected a mapping of scenario keys, got {describe(root)}")
        problems.raise_if_any()
    top = Section(problems, root, ())

    name = top.get("name", _name, default_name)
    description = top.get("description", F.string(nonempty=False), "")
    labels = _labels(top, "labels")
    seed = top.get("seed", F.integer(0), 1)
    workers = top.get("workers", F.integer(1, 4096), default_workers())
    concurrency = top.get("concurrency", F.integer(1, 100_000), 8)
    timeout_ms = top.get("timeout_ms", F.integer(1, 3_600_000), 1000)
    verify = top.get("verify", F.boolean, False)
    targets = _targets(top, labels)
    data = _data(top)
    load = _load(top)
    phases = _phases(top, data, verify is True)
    thresholds = _thresholds(top, "thresholds", _ops_in(phases))
    events = build_events(top, phases, targets)
    server_metrics = server_metrics_settings(top)
    top.finish()
    _recovery_needs_events(top, root, phases, thresholds, events)

    if verify is True:
        _verify_rules(top, data, load, workers, concurrency)
    if ok(data, load, phases):  # a scenario the server can only refuse (or cut short) is refused
        for path, message in limit_problems(data, load, phases):
            problems.add(_loc_at(root, path), path, message)

    problems.raise_if_any()
    return Scenario(name=name, source=file, targets=targets, phases=phases, description=description,
                    labels=labels, seed=seed, workers=workers, concurrency=concurrency, timeout_ms=timeout_ms,
                    data=data, load=load, verify=verify, thresholds=thresholds, events=events,
                    server_metrics=server_metrics)


# --- labels, targets --------------------------------------------------------------------------

def _labels(sec: Section, key: str) -> dict:
    """Free key/values; values are kept as the text written (so `on` stays "on")."""
    labels = sec.mapping(key, what="a mapping of label names to values")
    if labels is None:
        return {}
    out = {}
    for lkey, value in labels.items():
        path = sec.path + (key, lkey)
        if not isinstance(lkey, str):
            sec.problems.add(labels.key_loc(lkey), path, f"label names must be strings, got {describe(lkey)}")
        elif isinstance(value, (LineDict, LineList)):
            sec.problems.add(labels.value_loc(lkey), path, f"expected a plain value, got {describe(value)}")
        else:
            out[lkey] = labels.raw.get(lkey, "" if value is None else str(value))
    for lkey, line in labels.duplicates:
        sec.problems.add(line, sec.path + (key, lkey), "key given twice")
    return out


def _targets(top: Section, labels: dict) -> tuple[Target, ...]:
    top.known.extend(["target", "targets"])
    has_one, has_many = top.has("target"), top.has("targets")
    if has_one and has_many:
        top.error("targets", "give either `target:` (one) or `targets:` (several), not both", at_key=True)
    if has_many:
        if has_one:  # still check it, so that all of its problems are reported too
            _single_target(top, labels)
        items = top.sequence("targets", what="a list of targets (each with a name)")
        if items is None:
            return ()
        if not items:
            top.error("targets", "expected at least one target")
            return ()
        built = _each_named(top, "targets", "target", items,
                            lambda sec, i: _target(sec, labels, name_required=True))
        return tuple(t for t in built if isinstance(t, Target))
    return _single_target(top, labels)


def _each_named(top: Section, key: str, kind: str, items: LineList, build) -> list:
    """``build(section, index)`` for each item of the list at ``key``, in order (INVALID for an
    item that is not a mapping); items that are not mappings and names used twice are reported."""
    out: list = []
    seen: dict[str, int] = {}  # name -> index of its first use
    for i, item in enumerate(items):
        path = (key, i)
        if not isinstance(item, LineDict):
            top.problems.add(items.item_loc(i), path, f"expected a {kind} mapping, got {describe(item)}")
            out.append(INVALID)
            continue
        out.append(build(Section(top.problems, item, path), i))
        name = item.get("name")
        if isinstance(name, str):
            if name in seen:
                top.problems.add(item.value_loc("name"), path + ("name",),
                                 f"{kind} name {name!r} is used twice (also {key}[{seen[name]}])")
            seen.setdefault(name, i)
    return out


def _single_target(top: Section, labels: dict) -> tuple[Target, ...]:
    value = top.raw("target")
    if value is None or value == "onebox":
        return (Target(name="onebox", onebox=OneboxSettings(), labels=dict(labels)),)
    if not isinstance(value, LineDict):
        top.error("target", f"expected `onebox` or a mapping with onebox: {{...}} or meta: [...] + table, "
                            f"got {describe(value)}")
        return ()
    target = _target(top.sub("target", value), labels, name_required=False)
    return (target,) if target is not None else ()


def _target(sec: Section, labels: dict, name_required: bool) -> Target | None:
    name = sec.get("name", _name, required=name_required)
    own_labels = _labels(sec, "labels")
    has_onebox, has_meta = sec.has("onebox"), sec.has("meta")
    sec.known.extend(["onebox", "meta", "table"])
    if has_onebox and has_meta:
        sec.error("meta", "a target is either an embedded onebox or a cluster (meta + table), not both", at_key=True)
    elif not has_onebox and not has_meta:
        sec.error(None, "expected `onebox: {...}` or `meta: [host:port, ...]` with `table:`")
    onebox = _onebox(sec) if has_onebox else None
    meta, table = (), ""
    if has_meta:
        meta = _meta(sec)
        table = sec.get("table", F.string(), required=True)
    elif has_onebox and sec.has("table"):
        sec.error("table", "for an onebox target, give the table inside onebox: {table: ...}", at_key=True)
    sec.finish()
    if not ok(name, meta, table, onebox) or (onebox is None and not meta):
        return None
    if name is None:
        name = "onebox" if onebox is not None else table
    return Target(name=name, onebox=onebox, meta=tuple(meta), table=table, labels={**labels, **own_labels})


def _onebox(sec: Section) -> OneboxSettings | None:
    value = sec.raw("onebox")
    if value is None:
        return OneboxSettings()
    if not isinstance(value, LineDict):
        sec.error("onebox", f"expected a mapping of onebox settings (partitions, replicas, table, delay_ms), "
                            f"got {describe(value)}")
        return INVALID
    box = sec.sub("onebox", value)
    partitions = box.get("partitions", F.integer(1, 1024), 8)
    replicas = box.get("replicas", F.integer(1, 9), 3)
    table = box.get("table", F.string(), "temp")
    delay_ms = box.get("delay_ms", F.number(0, 60_000), 0.0)
    detection = box.get("failure_detection", F.duration(0), 10.0)
    box.finish()
    if not ok(partitions, replicas, table, delay_ms, detection):
        return INVALID
    return OneboxSettings(partitions=partitions, replicas=replicas, table=table, delay_ms=delay_ms,
                          failure_detection_s=detection)


def _meta(sec: Section):
    value = sec.raw("meta")
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
        locs = [sec.value_loc("meta")] * len(items)
    elif isinstance(value, LineList):
        items = list(value)
        locs = [value.item_loc(i) for i in range(len(value))]
    else:
        sec.error("meta", f"expected a list of host:port meta server addresses, got {describe(value)}")
        return INVALID
    if not items:
        sec.error("meta", "expected at least one host:port meta server address")
        return INVALID
    good = True
    for i, (item, loc) in enumerate(zip(items, locs)):
        match = _HOSTPORT_RE.match(item) if isinstance(item, str) else None
        if not match or not 0 < int(match.group("port")) < 65536:
            sec.problems.add(loc, sec.path + ("meta", i), f"expected host:port (port 1-65535), got {describe(item)}")
            good = False
    return tuple(items) if good else INVALID


# --- data and load ----------------------------------------------------------------------------

def _data(top: Section) -> DataLayout:
    value = top.mapping("data", what="a mapping (hash_keys, sort_keys, value_size, ttl)")
    if value is None:
        return DataLayout() if not top.has("data") else INVALID
    sec = top.sub("data", value)
    hash_keys = sec.get("hash_keys", F.integer(1, 10**12), 1000)
    sort_keys = sec.get("sort_keys", F.integer(1, 10**7), 10)
    value_size = _value_size(sec)
    ttl = sec.get("ttl", _ttl, 0)
    sec.finish()
    if not ok(hash_keys, sort_keys, value_size, ttl):
        return INVALID
    return DataLayout(hash_keys=hash_keys, sort_keys=sort_keys, value_size=value_size, ttl=ttl)


@F.expects("a TTL in whole seconds (e.g. 3600 or 1h; 0 = none)")
def _ttl(value):
    seconds = F.duration(0)(value)
    if seconds != int(seconds):
        raise ValueError(f"Pegasus TTLs are whole seconds, got {value!r}")
    if seconds > 2**31 - 1:
        raise ValueError(f"must be < 2^31 seconds, got {value!r}")
    return int(seconds)


@F.expects("a TTL in whole seconds, or null for data.ttl")
def _op_ttl(value):
    return None if value is None else _ttl(value)


_MAX_VALUE = 64 * 1024 * 1024


def _value_size(sec: Section) -> ValueSize:
    value = sec.raw("value_size", 100)
    path = sec.path + ("value_size",)
    loc = sec.value_loc("value_size")
    size = F.size(0)
    if not isinstance(value, LineDict):
        try:
            n = size(value)
        except ValueError as exc:
            sec.problems.add(loc, path, f"{exc}; or {{uniform: [min, max]}} or {{weighted: [[size, weight], ...]}}")
            return INVALID
        if n > _MAX_VALUE:
            sec.problems.add(loc, path, f"must be <= 64MiB, got {value!r}")
            return INVALID
        return ValueSize("fixed", (n,))
    vs = Section(sec.problems, value, path)
    forms = [k for k in ("fixed", "uniform", "weighted") if vs.has(k)]
    if len(forms) != 1:
        vs.error(None, "expected exactly one of fixed: N, uniform: [min, max], weighted: [[size, weight], ...]")
        vs.known.extend(["fixed", "uniform", "weighted"])
        vs.finish()
        return INVALID
    form = forms[0]
    result = INVALID
    if form == "fixed":
        n = vs.get("fixed", F.size(0))
        result = ValueSize("fixed", (n,)) if ok(n) else INVALID
    elif form == "uniform":
        pair = vs.sequence("uniform", what="[min, max] sizes")
        if pair is not None:
            if len(pair) != 2:
                vs.error("uniform", f"expected [min, max], got {len(pair)} items")
            else:
                lo, hi = _items(vs, pair, ("uniform",), size, size)
                if ok(lo, hi):
                    if lo > hi:
                        vs.error("uniform", f"min must be <= max, got [{lo}, {hi}]")
                    else:
                        result = ValueSize("uniform", (lo, hi))
    else:
        pairs = vs.sequence("weighted", what="a list of [size, weight] pairs")
        if pairs is not None:
            sizes, weights = [], []
            if not pairs:
                vs.error("weighted", "expected at least one [size, weight] pair")
            for i, pair in enumerate(pairs):
                ipath = path + ("weighted", i)
                if not isinstance(pair, LineList) or len(pair) != 2:
                    vs.problems.add(pairs.item_loc(i), ipath, f"expected [size, weight], got {describe(pair)}")
                    continue
                s, w = _items(vs, pair, ("weighted", i), size, F.number(0, lo_excl=True))
                if ok(s, w):
                    sizes.append(s)
                    weights.append(w)
            if pairs and len(sizes) == len(pairs):
                result = ValueSize("weighted", tuple(sizes), tuple(weights))
    vs.finish()
    if result is not INVALID and result.max_size > _MAX_VALUE:
        sec.problems.add(loc, path, "sizes must be <= 64MiB")
        return INVALID
    return result


def _items(sec: Section, seq: LineList, subpath: tuple, *parsers):
    out = []
    for i, (item, parse) in enumerate(zip(seq, parsers)):
        try:
            out.append(parse(item))
        except ValueError as exc:
            sec.problems.add(seq.item_loc(i), sec.path + subpath + (i,), str(exc))
            out.append(INVALID)
    return out


def _load(top: Section) -> LoadPhase:
    value = top.raw("load")
    if value is None and not top.has("load"):
        return LoadPhase()
    if isinstance(value, bool):
        return LoadPhase(enabled=value)
    if not isinstance(value, LineDict):
        top.error("load", f"expected true/false or a mapping (enabled, batch, rate), got {describe(value)}")
        return INVALID
    sec = top.sub("load", value)
    enabled = sec.get("enabled", F.boolean, True)
    batch = sec.get("batch", F.integer(1, 10_000), 10)
    rate = sec.get("rate", F.number(0, lo_excl=True), None)
    sec.finish()
    if not ok(enabled, batch, rate):
        return INVALID
    return LoadPhase(enabled=enabled, batch=batch, rate=rate)


# --- phases -----------------------------------------------------------------------------------

def _phases(top: Section, data: DataLayout, verify: bool) -> tuple[Phase, ...]:
    items = top.sequence("phases", required=True, what="a list of phases (each with duration or ops, and mix)")
    if items is None:
        return INVALID
    if not items:
        top.error("phases", "expected at least one phase")
        return INVALID
    built = _each_named(top, "phases", "phase", items, lambda sec, i: _phase(sec, i, data, verify))
    return INVALID if any(p is INVALID for p in built) else tuple(built)


def _phase(sec: Section, index: int, data: DataLayout, verify: bool):
    name = sec.get("name", _name, f"phase{index + 1}")
    if ok(name) and name in _RESERVED_PHASE_NAMES:
        sec.error("name", f"{name!r} is reserved for the load phase; pick another name")
        name = INVALID
    duration = sec.get("duration", F.duration(0, lo_excl=True))
    ops = sec.get("ops", F.integer(1))
    if sec.has("duration") and sec.has("ops"):
        sec.error("ops", "give either duration or ops, not both", at_key=True)
    elif not sec.has("duration") and not sec.has("ops"):
        sec.error("duration", "missing; expected a duration (e.g. 30s) or ops (an op count)")
        duration = INVALID
    warmup = sec.get("warmup", F.duration(0), 0.0)
    rate = sec.get("rate", F.number(0, lo_excl=True))
    mode = sec.get("mode", F.choice(MODES), "open" if sec.has("rate") else "closed")
    if mode == "open" and not sec.has("rate"):
        sec.error("rate", "missing; mode: open needs a target total rate in ops/s")
        rate = INVALID
    if mode == "closed" and sec.has("rate"):
        sec.error("rate", "only applies to mode: open (closed loop runs as fast as the greenlets go)", at_key=True)
    ramp = _ramp(sec, mode, duration, warmup)
    arrivals = sec.get("arrivals", F.choice(ARRIVALS), "uniform")
    if mode == "closed" and sec.has("arrivals"):
        sec.error("arrivals", "only applies to mode: open (closed loop sends when the previous op returns)",
                  at_key=True)
    default_keys = _key_choice(sec, "keys") if sec.has("keys") else KeyChoice()
    sec.known.append("keys")
    mix = _mix(sec, data, default_keys, verify)
    thresholds = _thresholds(sec, "thresholds", set(op.name for op in mix) if ok(mix) else None)
    sec.finish()
    if not ok(name, duration, ops, warmup, rate, mode, ramp, arrivals, default_keys, mix, thresholds):
        return INVALID
    return Phase(name=name, mix=mix, duration_s=duration, ops=ops, warmup_s=warmup, mode=mode,
                 rate=rate if mode == "open" else None, ramp=ramp, thresholds=thresholds,
                 arrivals=arrivals if mode == "open" else "uniform")


def _ramp(sec: Section, mode, duration, warmup):
    value = sec.mapping("ramp", what="a mapping {from: start rate, over: duration}")
    if value is None:
        return INVALID if sec.has("ramp") else None
    rs = sec.sub("ramp", value)
    start = rs.get("from", F.number(0), required=True)
    over = rs.get("over", F.duration(0, lo_excl=True), required=True)
    rs.finish()
    if mode == "closed":
        sec.error("ramp", "a rate ramp needs mode: open", at_key=True)
        return INVALID
    if ok(over, duration, warmup) and over is not None and duration is not None and over > warmup + duration:
        if sec.value_loc("duration") == "--duration":
            over = warmup + duration  # a run shortened on the command line: the ramp is cut to fit
        else:
            rs.error("over", f"the ramp ({over:g}s) is longer than the phase ({warmup + duration:g}s with warm-up)")
            return INVALID
    if not ok(start, over):
        return INVALID
    return Ramp(start_rate=start, duration_s=over)


def _key_choice(sec: Section, key: str):
    """`keys: zipfian` or `keys: {distribution: zipfian, theta: 0.9}`."""
    value = sec.raw(key)
    if isinstance(value, str):
        try:
            return KeyChoice(distribution=F.choice(DISTRIBUTIONS)(value))
        except ValueError as exc:
            sec.error(key, str(exc))
            return INVALID
    if not isinstance(value, LineDict):
        sec.error(key, f"expected a distribution name ({', '.join(DISTRIBUTIONS)}) or a mapping with distribution:, "
                       f"got {describe(value)}")
        return INVALID
    ks = sec.sub(key, value)
    dist = ks.get("distribution", F.choice(DISTRIBUTIONS), required=True)
    theta = ks.get("theta", F.number(0, 10, lo_excl=True), 0.99)
    hot_fraction = ks.get("hot_fraction", F.number(0, 1, lo_excl=True, hi_excl=True), 0.2)
    hot_ops = ks.get("hot_ops", F.number(0, 1), 0.8)
    for field, owners in (("theta", ("zipfian", "latest")), ("hot_fraction", ("hotspot",)), ("hot_ops", ("hotspot",))):
        if ok(dist) and dist is not None and ks.has(field) and dist not in owners:
            ks.error(field, f"only applies to distribution {' or '.join(owners)}, not {dist}", at_key=True)
    ks.finish()
    if not ok(dist, theta, hot_fraction, hot_ops):
        return INVALID
    return KeyChoice(distribution=dist, theta=theta, hot_fraction=hot_fraction, hot_ops=hot_ops)


def _mix(sec: Section, data: DataLayout, default_keys, verify: bool) -> tuple[OpSpec, ...]:
    value = sec.mapping("mix", required=True, what="a mapping of operation -> weight (or -> {weight: ..., params})")
    if value is None:
        return INVALID
    if not value:
        sec.error("mix", "expected at least one operation")
        return INVALID
    out, good = [], True
    for op_name, entry in value.items():
        path = sec.path + ("mix", op_name)
        if op_name not in OPS:
            hint = F.suggest(str(op_name), OP_NAMES) or " (expected one of: " + ", ".join(OP_NAMES) + ")"
            sec.problems.add(value.key_loc(op_name), path, f"unknown operation{hint}")
            good = False
            continue
        spec = _op(sec, value, op_name, entry, data, default_keys, verify)
        if spec is INVALID:
            good = False
        else:
            out.append(spec)
    for op_name, line in value.duplicates:
        sec.problems.add(line, sec.path + ("mix", op_name), "operation given twice")
    return tuple(out) if good else INVALID


def _op(sec: Section, mix: LineDict, name: str, entry, data: DataLayout, default_keys, verify: bool):
    info = OPS[name]
    path = sec.path + ("mix", name)
    weight_parser = F.number(0, lo_excl=True)
    if not isinstance(entry, LineDict):
        try:
            weight = weight_parser(entry)
        except ValueError as exc:
            sec.problems.add(mix.value_loc(name), path, f"{exc} (the weight, or a mapping with weight: and parameters)")
            return INVALID
        entry = LineDict(line=mix.value_loc(name))
        keys = default_keys if info.unit != "table" else None
        return _op_spec(sec, name, weight, keys, entry, path, data, verify)
    os_ = Section(sec.problems, entry, path)
    weight = os_.get("weight", weight_parser, required=True)
    keys = None
    if info.unit != "table":
        keys = _key_choice(os_, "keys") if os_.has("keys") else default_keys
        os_.known.append("keys")
        if ok(keys) and keys is not None and keys.distribution == "latest" and info.unit != "record":
            where = "keys" if os_.has("keys") else None
            msg = (f"latest applies to single-record ops (it follows inserted records); {name} picks hash keys"
                   + ("" if where else " (the phase's keys: latest is inherited; give this op its own keys:)"))
            os_.error(where, msg)
            keys = INVALID
    spec = _op_spec(os_, name, weight, keys, entry, path, data, verify)
    os_.finish()
    return spec if ok(weight, keys) else INVALID


def _op_spec(sec: Section, name: str, weight, keys, entry: LineDict, path, data: DataLayout, verify: bool):
    info = OPS[name]
    ps = sec if sec.data is entry else Section(sec.problems, entry, path)
    params, good = {}, True
    for p in info.params:
        if p.kind == "int":
            parser = F.integer(p.min, p.max)
        elif p.kind == "bool":
            parser = F.boolean
        elif p.kind == "str":
            parser = F.string(nonempty=False)
        elif p.kind == "choice":
            parser = F.choice(p.choices)
        else:  # ttl: null (or absent) = data.ttl
            parser = _op_ttl
        value = ps.get(p.name, parser, p.default)
        if value is INVALID:
            good = False
        params[p.name] = value
    if good and "sort_keys" in params and ok(data) and params["sort_keys"] > data.sort_keys:
        ps.error("sort_keys", f"must be <= data.sort_keys ({data.sort_keys}), got {params['sort_keys']}")
        good = False
    if "ttl" in params and params["ttl"] is None and ok(data):
        params["ttl"] = data.ttl
    if verify and params.get("ttl") and ps.has("ttl"):
        ps.error("ttl", "verification needs ttl: 0 (expiring records cannot be told apart from lost writes)")
        good = False
    if not good or not ok(weight, keys):
        return INVALID
    return OpSpec(name=name, weight=weight, keys=keys, params=params)


# --- thresholds and verification ---------------------------------------------------------------

def _ops_in(phases) -> set | None:
    if not ok(phases):
        return None
    return {name for phase in phases for name in phase.op_names}


_MAX_THRESHOLD_CHARS = 200


def _thresholds(sec: Section, key: str, ops_in_mix: set | None):
    value = sec.raw(key)
    if value is None:
        return ()
    items: list[tuple[object, Location, Path]]
    if isinstance(value, str):
        items = [(s, sec.value_loc(key), (key,)) for s in value.split(",")]
    elif isinstance(value, LineList):
        items = [(v, value.item_loc(i), (key, i)) for i, v in enumerate(value)]
    else:
        sec.error(key, f"expected a list of expressions like 'get.p99 < 5ms', got {describe(value)}")
        return INVALID
    out, good = [], True
    for text, loc, sub in items:
        # quoted in messages: a list (an alias?) or an essay is described, not printed whole
        if not isinstance(text, str) or len(text) > _MAX_THRESHOLD_CHARS:
            what = describe(text) if not isinstance(text, str) else excerpt(repr(text))
            sec.problems.add(loc, sec.path + sub, f"expected an expression like 'get.p99 < 5ms' "
                             f"(at most {_MAX_THRESHOLD_CHARS} characters), got {what}")
            good = False
            continue
        try:
            threshold = parse_threshold(text)
        except ThresholdError as exc:
            sec.problems.add(loc, sec.path + sub, str(exc))
            good = False
            continue
        if ops_in_mix is not None and threshold.op not in ("all", RECOVERY) and threshold.op not in ops_in_mix:
            scope = "this phase's mix" if sec.path else "the mix of any phase"
            sec.problems.add(loc, sec.path + sub, f"{threshold.text!r}: {threshold.op!r} is not in {scope}")
            good = False
            continue
        out.append(threshold)
    return tuple(out) if good else INVALID


def _recovery_needs_events(top: Section, root, phases, thresholds, events) -> None:
    """A ``recovery.*`` threshold is judged on the events of its scope: without one it could
    never pass."""
    if not ok(phases, thresholds, events):
        return
    # the file's events, those a --duration override left out included (they are "no data" then)
    raw = root.get("events")
    first = phases[0].name if phases else None
    planned = [e.get("phase", first) for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    scoped: list[tuple[tuple, str | None, Any, int]] = [((), None, t, i) for i, t in enumerate(thresholds)]
    scoped += [(("phases", j), p.name, t, i) for j, p in enumerate(phases) for i, t in enumerate(p.thresholds)]
    for prefix, phase, t, i in scoped:
        if t.op != RECOVERY:
            continue
        if not any(name == phase or phase is None for name in planned):
            path = prefix + ("thresholds", i)
            where = f"phase {phase!r}" if phase else "the scenario"
            top.problems.add(_loc_at(root, path), path, f"{t.text!r}: {where} has no events: to judge recovery "
                             "add an events: entry (e.g. onebox: {kill_replica: 0})")


def _verify_rules(top: Section, data, load, workers, concurrency) -> None:
    from pegload.workload.values import HEADER_SIZE  # the value format owns its header size

    if ok(load) and not load.enabled:
        top.error("verify", "verification needs the load phase (load.enabled: true): "
                            "without it pegload cannot know what the table holds")
    if ok(data) and data.ttl:
        top.problems.add(_loc(top, "data", "ttl"), ("data", "ttl"),
                         f"verification needs ttl: 0 (expiring records cannot be told apart from lost writes), "
                         f"got {data.ttl}")
    if ok(data) and data.value_size.min_size < HEADER_SIZE:
        top.problems.add(_loc(top, "data", "value_size"), ("data", "value_size"),
                         f"verification needs values of at least {HEADER_SIZE} bytes (the checkable header), "
                         f"got {data.value_size.min_size}")
    if ok(data, workers, concurrency):
        need = workers * (concurrency + 1)
        if data.hash_keys < need:
            top.problems.add(_loc(top, "data", "hash_keys"), ("data", "hash_keys"),
                             f"verification gives every worker its own hash keys, more than its greenlets (so one is "
                             f"always free of in-flight writes): needs >= workers x (concurrency + 1) = {need}, "
                             f"got {data.hash_keys}")


def _loc(top: Section, section: str, key: str):
    value = top.data.get(section)
    if isinstance(value, LineDict):
        return value.value_loc(key)
    return top.data.value_loc(section)


def _loc_at(root: LineDict, path: tuple):
    """The line of the value at ``path`` (a field the file may not spell out: then the line of
    the deepest container that exists, e.g. the op of a mix given as a bare weight)."""
    node, loc = root, root.line
    for part in path:
        if isinstance(node, LineDict) and part in node:
            loc, node = node.value_loc(part), node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and part < len(node):
            loc, node = node.item_loc(part), node[part]
        else:
            break
    return loc
