"""Command-line overrides, applied to the YAML tree *before* validation so that a bad override is
reported like a bad field (``readheavy.yaml (--rate) phases[0].rate: must be > 0, got -5``).

Keys (CLI flag in brackets) and what they change:

- ``duration`` (--duration): every phase runs for this long (its ``ops`` count is dropped); a
  ramp longer than the shortened phase is cut to fit it.
- ``rate`` (--rate): every phase runs open loop at this total rate (ops/s); ramps are kept.
- ``workers`` (--workers), ``concurrency`` (--concurrency), ``seed`` (--seed): the top-level fields.
- ``meta`` (--meta host:port,...): the run targets this cluster; replaces ``target``/``targets``.
  The table comes from --table, else from the file's cluster target.
- ``table`` (--table): with --meta, the cluster table; alone, the table of every target (an
  onebox target creates that table).

Values may be strings as typed on the command line ("4", "10s", "a:1,b:2") or Python values.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from .errors import Location
from .yamlsource import LineDict, LineList

OVERRIDE_FLAGS = {
    "duration": "--duration",
    "rate": "--rate",
    "workers": "--workers",
    "concurrency": "--concurrency",
    "meta": "--meta",
    "table": "--table",
    "seed": "--seed",
}


def _scalar(value: Any) -> Any:
    """'4' -> 4, '2.5' -> 2.5, '1e3' -> 1000.0, '10s' -> '10s': numbers as numbers, the rest the
    way YAML reads a scalar."""
    if not isinstance(value, str):
        return value
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, str, bool)) else value


def _meta_list(value: Any, origin: str) -> Any:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return value
    out = LineList(items, line=origin)
    out.item_locs = [origin] * len(items)
    return out


def apply_overrides(root: Any, overrides: Mapping[str, Any] | None) -> None:
    """Apply ``overrides`` in place to the loaded YAML tree. Unknown override names are a
    programming error (ValueError); None values are ignored."""
    if not overrides:
        return
    unknown = set(overrides) - set(OVERRIDE_FLAGS)
    if unknown:
        raise ValueError(f"unknown scenario override(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(OVERRIDE_FLAGS)}")
    if not isinstance(root, LineDict):
        return  # validation reports that the file is not a mapping
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in ("workers", "concurrency", "seed"):
        if key in given:
            root.put(key, _scalar(given[key]), OVERRIDE_FLAGS[key])
    phases = root.get("phases")
    if isinstance(phases, LineList):
        for phase in phases:
            if not isinstance(phase, LineDict):
                continue
            if "duration" in given:
                phase.pop("ops", None)
                phase.put("duration", _scalar(given["duration"]), "--duration")
            if "rate" in given:
                phase.put("rate", _scalar(given["rate"]), "--rate")
                phase.put("mode", "open", "--rate")
    if "meta" in given:
        _override_cluster(root, given)
    elif "table" in given:
        _override_table(root, given["table"])


def _override_cluster(root: LineDict, given: dict) -> None:
    table = given.get("table")
    origin_table: Location = "--table"
    if table is None:
        old = root.get("target")
        if isinstance(old, LineDict) and "table" in old and "meta" in old:
            table, origin_table = old["table"], old.value_loc("table")
    target = LineDict(line="--meta")
    target.put("meta", _meta_list(given["meta"], "--meta"), "--meta")
    if table is not None:
        target.put("table", table, origin_table)
    root.pop("targets", None)
    root.put("target", target, "--meta")


def _override_table(root: LineDict, table: Any) -> None:
    def retable(target: Any) -> None:
        if not isinstance(target, LineDict):
            return
        if "meta" in target or "onebox" not in target:
            target.put("table", table, "--table")
        else:
            box = target.get("onebox")
            if box is None:
                box = LineDict(line="--table")
                target.put("onebox", box, "--table")
            if isinstance(box, LineDict):
                box.put("table", table, "--table")

    if isinstance(root.get("targets"), LineList):
        for target in root["targets"]:
            retable(target)
    elif isinstance(root.get("target"), LineDict):
        retable(root["target"])
    else:  # no target, or the `onebox` shorthand: an onebox with this table
        target = LineDict(line="--table")
        box = LineDict(line="--table")
        box.put("table", table, "--table")
        target.put("onebox", box, "--table")
        root.put("target", target, "--table")
