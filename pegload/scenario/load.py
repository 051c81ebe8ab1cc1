"""Entry points: read a scenario file, apply CLI overrides, validate, and hash the result."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from .build import build_scenario
from .errors import ScenarioError, format_error
from .overrides import apply_overrides
from .schema import Scenario
from .yamlsource import MAX_FILE_BYTES, load_yaml, too_big_message

# Fields that do not change the load a run applies, left out of scenario_hash so that runs
# against different targets (or with other labels/thresholds) stay comparable.
_NOT_HASHED = ("name", "description", "target", "targets", "labels", "thresholds", "server_metrics")


def load_scenario(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate the scenario at ``path``; ``overrides`` as in ``overrides.py``.

    Raises ScenarioError listing every problem (file:line path: message)."""
    file = os.fspath(path)
    try:
        with open(file, "rb") as fh:
            # the size limit holds before anything is read (a FIFO or /dev/zero has no size:
            # reading one byte more than the limit tells)
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ScenarioError([format_error(file, 1, (), too_big_message(size))])
            blob = fh.read(MAX_FILE_BYTES + 1)
        if len(blob) > MAX_FILE_BYTES:
            raise ScenarioError([format_error(file, 1, (), too_big_message(None))])
        text = blob.decode("utf-8")
    except OSError as exc:
        raise ScenarioError([f"{file}: cannot read the scenario file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{file}: not a UTF-8 text file ({exc.reason} at byte {exc.start})"]) from None
    return load_scenario_text(text, file, overrides)


def load_scenario_text(text: str, file: str = "<scenario>", overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Same as load_scenario for YAML text; ``file`` is the name used in messages (and the
    default scenario name is its stem)."""
    root = load_yaml(text, file)
    apply_overrides(root, overrides)
    stem = os.path.splitext(os.path.basename(file))[0] or "scenario"
    return build_scenario(root, file, _safe_name(stem))


def scenario_from_dict(data: Mapping[str, Any], file: str = "<summary>") -> Scenario:
    """Rebuild a Scenario from ``Scenario.to_dict()`` output (e.g. the scenario in a
    summary.json), validating it like a file."""
    import yaml

    return load_scenario_text(yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False), file)


def hashed_shape(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a scenario's ``to_dict()`` that :func:`scenario_hash` covers (the load, not
    where it ran nor how it is judged); compare names the differences within it."""
    shape = {k: v for k, v in scenario.items() if k not in _NOT_HASHED}
    phases = shape.get("phases")
    if isinstance(phases, list):
        shape["phases"] = [{k: v for k, v in p.items() if k != "thresholds"} if isinstance(p, dict) else p
                           for p in phases]
    return shape


def scenario_hash(scenario: Scenario) -> str:
    """A stable 16-hex-digit hash of the load the scenario applies: everything in
    ``to_dict()`` except name, description, target(s), labels and thresholds."""
    shape = hashed_shape(scenario.to_dict())
    canonical = json.dumps(shape, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _safe_name(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).lstrip("-_.")
    return cleaned or "scenario"
