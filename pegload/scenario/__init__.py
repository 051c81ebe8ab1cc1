"""Scenario files: schema, YAML loading with line numbers, validation with precise errors.

Public API (everything a runner, coordinator or report needs)::

    from pegload.scenario import load_scenario, ScenarioError, scenario_hash

    scenario = load_scenario("scenarios/readheavy.yaml", overrides={"duration": "10s", "workers": 2})
    scenario.to_dict()        # effective scenario (JSON-safe, YAML-file shape) for summary.json
    scenario_hash(scenario)   # 16 hex digits identifying the load shape (target/labels/thresholds excluded)

- ``load_scenario(path, overrides=None) -> Scenario`` / ``load_scenario_text(text, file, overrides)``
  validate the whole file first and raise ``ScenarioError`` (``.errors``: one
  ``file:line path: message`` per problem; ``str()`` lists them all).
- ``overrides`` keys: duration, rate, workers, concurrency, meta, table, seed (see ``overrides.py``);
  ``pegload.scenario.cli.add_override_arguments(parser)`` / ``overrides_from_args(args)`` give the
  matching command-line flags.
- ``scenario_from_dict(d)`` rebuilds a Scenario from ``to_dict()`` output.
- Schema types (frozen dataclasses, ``schema.py``): Scenario, Target, OneboxSettings, DataLayout,
  ValueSize, LoadPhase, Phase, Ramp, OpSpec, KeyChoice. The op catalog (names, params, defaults,
  client calls) is ``ops.OPS``; thresholds are parsed by ``thresholds.py`` (shared with the CI gate).

The reference for users is docs/scenarios.md.
"""
from .errors import ScenarioError
from .load import load_scenario, load_scenario_text, scenario_from_dict, scenario_hash
from .ops import CHECK_TYPES, FILTER_TYPES, OP_NAMES, OPS, WRITE_OPS, OpInfo, Param
from .schema import (
    DISTRIBUTIONS,
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
from .thresholds import Threshold, ThresholdError, parse_threshold, parse_thresholds

__all__ = [
    "ScenarioError", "load_scenario", "load_scenario_text", "scenario_from_dict", "scenario_hash",
    "CHECK_TYPES", "FILTER_TYPES", "OP_NAMES", "OPS", "WRITE_OPS", "OpInfo", "Param",
    "DISTRIBUTIONS", "DataLayout", "KeyChoice", "LoadPhase", "OneboxSettings", "OpSpec", "Phase", "Ramp",
    "Scenario", "Target", "ValueSize", "Threshold", "ThresholdError", "parse_threshold", "parse_thresholds",
]
