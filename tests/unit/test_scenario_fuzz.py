"""Fuzzing the scenario loader (issue 9): whatever the YAML text or field values, loading either
returns a Scenario or raises ScenarioError whose every line has a location (file:line, or
file (--flag), or file: for the summary line); never another exception. Run briefly in the
suite (100 examples each); PEGLOAD_FUZZ_EXAMPLES=5000 digs deeper."""
import os
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pegload.scenario import Scenario, ScenarioError, load_scenario_text
from pegload.scenario.ops import OPS

FILE = "fuzz.yaml"
LOCATED = re.compile(r"^fuzz\.yaml(:\d+ | \(--[a-z-]+\) |: )")
SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
# database=None: nothing written into the work tree; failures print the reproducing example
FUZZ = settings(max_examples=int(os.environ.get("PEGLOAD_FUZZ_EXAMPLES", 100)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def check(text: str, overrides=None) -> None:
    try:
        result = load_scenario_text(text, FILE, overrides)
    except ScenarioError as exc:
        assert exc.errors, "a ScenarioError without problems"
        for line in exc.errors:
            assert LOCATED.match(line), line
            assert len(line) < 2000, line[:200]
        return
    assert isinstance(result, Scenario)


# -- arbitrary text --------------------------------------------------------------------------------

YAML_BITS = st.sampled_from([
    "\n", "  ", "- ", ": ", "{", "}", "[", "]", ",", "&a ", "*a", "&b ", "*b", "<<: ", "!!str ", "!!int ",
    "!!python/object ", "? ", "|", ">", "'", '"', "#", "---\n", "...\n", "%YAML 1.1\n", "\t", "~", "null",
    "true", "1e999", "-0", "0x1F", "1_000", "1:30", "2001-12-14", ".nan", "phases", "mix", "get", "duration",
    "!!timestamp ", "!!float ", "!!binary ", "!!set ", "!!omap ", "!!pairs ", "!!map ", "!!seq ", "!!bool ",
    "data", "value_size", "thresholds", "labels", "target", "rate", "ramp", "keys", "9" * 5000,
])


@FUZZ
@given(st.lists(st.one_of(YAML_BITS, st.text(max_size=8)), max_size=40).map("".join))
def test_arbitrary_text(text):
    check(text)


# -- well-formed YAML with wrong or odd values -------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["5s", "0", "-1", "1MiB", "2MiB", "zipfian", "open", "closed", "1e9",
                                           "get.p99 < 5ms", "errors < 0.1%", "onebox", "127.0.0.1:1", ""]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                      max_leaves=12)
TOP_KEYS = ["name", "description", "labels", "seed", "workers", "concurrency", "timeout_ms", "verify", "target",
            "targets", "data", "load", "phases", "thresholds"]
PHASE_KEYS = ["name", "duration", "ops", "warmup", "rate", "mode", "ramp", "keys", "mix", "thresholds"]


def phase_strategy():
    mix = st.dictionaries(st.sampled_from(sorted(OPS) + ["nope"]),
                          st.one_of(SCALARS, st.dictionaries(st.sampled_from(
                              ["weight", "keys", "sort_keys", "records", "batch_size", "span", "max_kv_count",
                               "ttl", "check_type", "operand", "filter_type", "insert", "bogus"]), SCALARS,
                              max_size=4)), max_size=4)
    return st.fixed_dictionaries({"duration": st.sampled_from(["1s", 5, "0s"]), "mix": mix},
                                 optional={k: VALUES for k in PHASE_KEYS if k not in ("duration", "mix")})


@FUZZ
@given(st.fixed_dictionaries({"phases": st.lists(phase_strategy(), max_size=3)},
                             optional={k: VALUES for k in TOP_KEYS if k != "phases"}))
def test_scenario_shaped_documents(doc):
    check(yaml.safe_dump(doc, sort_keys=False))


# -- shipped scenarios with one value replaced -------------------------------------------------------

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _replace(node, path, value):
    if not path:
        return value
    node = dict(node) if isinstance(node, dict) else list(node)
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


SHIPPED = [yaml.safe_load(p.read_text()) for p in SCENARIOS]


@FUZZ
@given(st.data())
def test_shipped_scenarios_with_one_value_replaced(data):
    doc = data.draw(st.sampled_from(SHIPPED))
    path = data.draw(st.sampled_from(list(_paths(doc))))
    doc = _replace(doc, path, data.draw(VALUES))
    overrides = data.draw(st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "duration": SCALARS, "rate": SCALARS, "workers": SCALARS, "concurrency": SCALARS, "seed": SCALARS,
        "meta": SCALARS, "table": SCALARS})))
    check(yaml.safe_dump(doc, sort_keys=False), overrides)
