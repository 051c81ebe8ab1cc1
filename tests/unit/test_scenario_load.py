"""Loading, defaults, overrides, hashing, the shipped scenarios, the docs and `pegload validate`."""
import glob
import json
import os
import re
import textwrap

import pytest

from pegload.cli import main
from pegload.scenario import (
    OPS,
    ScenarioError,
    load_scenario,
    load_scenario_text,
    scenario_from_dict,
    scenario_hash,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "scenarios", "*.yaml")))

MINIMAL = """\
phases:
  - duration: 5s
    mix: {get: 1}
"""


def test_defaults_are_resolved():
    sc = load_scenario_text(MINIMAL, "dir/minimal.yaml")
    assert sc.name == "minimal" and sc.source == "dir/minimal.yaml"
    assert sc.workers == (os.cpu_count() or 1)
    assert (sc.seed, sc.concurrency, sc.timeout_ms, sc.verify) == (1, 8, 1000, False)
    assert len(sc.targets) == 1 and sc.target.is_onebox
    assert (sc.target.onebox.partitions, sc.target.table_name) == (8, "temp")
    assert (sc.data.hash_keys, sc.data.sort_keys, sc.data.records, sc.data.ttl) == (1000, 10, 10000, 0)
    assert sc.data.value_size.kind == "fixed" and sc.data.value_size.sizes == (100,)
    assert sc.load.enabled and sc.load.batch == 10 and sc.load.rate is None
    phase = sc.phases[0]
    assert (phase.name, phase.duration_s, phase.ops, phase.warmup_s, phase.mode) == ("phase1", 5.0, None, 0.0, "closed")
    assert phase.mix[0].name == "get" and phase.mix[0].keys.distribution == "uniform"


def test_op_params_defaults_and_phase_keys_inheritance():
    sc = load_scenario_text(textwrap.dedent("""\
        data: {ttl: 1h}
        phases:
          - ops: 100
            rate: 50
            keys: {distribution: hotspot, hot_fraction: 0.1}
            mix:
              set: 3
              multi_get: {weight: 2, sort_keys: 4, keys: sequential}
              unordered_scan: {weight: 1, split: 4}
              multi_set: {weight: 1, ttl: 0}
        """), "p.yaml")
    phase = sc.phases[0]
    assert phase.mode == "open" and phase.rate == 50.0 and phase.ops == 100
    ops = {op.name: op for op in phase.mix}
    assert ops["set"].keys.distribution == "hotspot" and ops["set"].keys.hot_fraction == 0.1
    assert ops["set"].params == {"ttl": 3600, "insert": False}  # ttl inherited from data.ttl
    assert ops["multi_set"].params["ttl"] == 0
    assert ops["multi_get"].keys.distribution == "sequential"
    assert ops["multi_get"].params == {"sort_keys": 4, "no_value": False, "max_kv_count": 100, "max_kv_size": 1000000}
    assert ops["unordered_scan"].keys is None and ops["unordered_scan"].params["split"] == 4


def test_targets_labels_and_cluster_target():
    sc = load_scenario_text(textwrap.dedent("""\
        labels: {rocksdb_rate_limiter: on, version: 2.5}
        targets:
          - {name: p8, onebox: {partitions: 8}}
          - {name: p32, onebox: {partitions: 32, delay_ms: 3}, labels: {note: big}}
        """) + MINIMAL, "t.yaml")
    assert [t.name for t in sc.targets] == ["p8", "p32"]
    assert sc.labels == {"rocksdb_rate_limiter": "on", "version": "2.5"}  # as written, not YAML booleans
    assert sc.targets[1].labels == {"rocksdb_rate_limiter": "on", "version": "2.5", "note": "big"}
    assert sc.targets[1].onebox.delay_ms == 3.0
    sc = load_scenario_text("target: {meta: '10.0.0.1:34601, 10.0.0.2:34601', table: usertable}\n" + MINIMAL, "c.yaml")
    assert sc.target.meta == ("10.0.0.1:34601", "10.0.0.2:34601") and sc.target.table_name == "usertable"
    assert not sc.target.is_onebox and sc.target.name == "usertable"


def test_overrides_apply_before_validation():
    text = textwrap.dedent("""\
        target: {meta: [127.0.0.1:34601], table: old}
        phases:
          - ops: 500
            mix: {get: 1}
          - duration: 5s
            rate: 100
            ramp: {from: 10, over: 2s}
            mix: {set: 1}
        """)
    sc = load_scenario_text(text, "o.yaml", {"duration": "10s", "rate": "250", "workers": "3", "concurrency": 4,
                                              "seed": "99", "meta": "127.0.0.1:1,127.0.0.1:2"})
    assert (sc.workers, sc.concurrency, sc.seed) == (3, 4, 99)
    for phase in sc.phases:
        assert (phase.duration_s, phase.ops, phase.mode, phase.rate) == (10.0, None, "open", 250.0)
    assert sc.phases[1].ramp.start_rate == 10.0  # ramps are kept
    assert sc.target.meta == ("127.0.0.1:1", "127.0.0.1:2") and sc.target.table == "old"
    assert load_scenario_text(text, "o.yaml", {"rate": "1e3"}).phases[0].rate == 1000.0
    sc = load_scenario_text(text, "o.yaml", {"meta": "h:1", "table": "new"})
    assert sc.target.table == "new"
    # --table alone: every target's table; an onebox default gets it too
    sc = load_scenario_text(MINIMAL, "o.yaml", {"table": "bench"})
    assert sc.target.is_onebox and sc.target.table_name == "bench"
    sc = load_scenario_text("targets: [{name: a, onebox: {}}, {name: b, meta: [h:1], table: x}]\n" + MINIMAL,
                            "o.yaml", {"table": "t2"})
    assert [t.table_name for t in sc.targets] == ["t2", "t2"]
    # --meta replaces targets:
    sc = load_scenario_text("targets: [{name: a, onebox: {}}, {name: b, onebox: {}}]\n" + MINIMAL, "o.yaml",
                            {"meta": "h:1", "table": "t"})
    assert len(sc.targets) == 1 and sc.target.meta == ("h:1",)
    with pytest.raises(ValueError, match="unknown scenario override"):
        load_scenario_text(MINIMAL, "o.yaml", {"speed": 1})


def test_to_dict_round_trips_and_is_json():
    path = os.path.join(ROOT, "scenarios", "mixed.yaml")
    sc = load_scenario(path)
    data = json.loads(json.dumps(sc.to_dict()))
    again = scenario_from_dict(data)
    assert again.to_dict() == sc.to_dict()
    assert scenario_hash(again) == scenario_hash(sc)


def test_scenario_hash_is_stable_and_tracks_the_load_shape():
    base = load_scenario_text(MINIMAL, "a.yaml", {"workers": 2})
    assert scenario_hash(base) == scenario_hash(load_scenario_text(MINIMAL, "a.yaml", {"workers": 2}))
    assert re.fullmatch(r"[0-9a-f]{16}", scenario_hash(base))
    # target, labels, name and thresholds do not change the load
    other = load_scenario_text("name: other\nlabels: {a: b}\ntarget: {onebox: {partitions: 32}}\n"
                               "thresholds: [errors < 1%]\n" + MINIMAL, "b.yaml", {"workers": 2})
    assert scenario_hash(other) == scenario_hash(base)
    # the load shape does
    for override in ({"workers": 3}, {"seed": 2}, {"duration": "6s"}, {"rate": 10}, {"concurrency": 9}):
        assert scenario_hash(load_scenario_text(MINIMAL, "a.yaml", {"workers": 2, **override})) != scenario_hash(base)


@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.basename(p) for p in SHIPPED])
def test_shipped_scenarios_are_valid(path):
    sc = load_scenario(path)
    assert sc.name == os.path.splitext(os.path.basename(path))[0]
    assert sc.description and sc.phases
    with open(path) as fh:
        assert fh.readline().startswith("#"), "every shipped scenario starts with a comment explaining it"
    # they stay valid with the CLI overrides the tests run them with
    load_scenario(path, {"duration": "2s", "workers": 2, "concurrency": 4})


def test_the_expected_scenarios_are_shipped():
    names = {os.path.basename(p) for p in SHIPPED}
    expected = {"readheavy.yaml", "writeheavy.yaml", "mixed.yaml", "multiget-heavy.yaml", "scan-heavy.yaml"}
    expected |= {f"ycsb-{c}.yaml" for c in "abcdef"}
    assert expected <= names


def test_readheavy_is_the_brief_demo():
    sc = load_scenario(os.path.join(ROOT, "scenarios", "readheavy.yaml"))
    phase = sc.phases[0]
    weights = {op.name: op.weight for op in phase.mix}
    assert weights == {"get": 95, "set": 5}
    assert all(op.keys.distribution == "zipfian" for op in phase.mix)
    assert sc.target.is_onebox
    assert phase.warmup_s + phase.duration_s <= 40  # the whole demo runs in under a minute


def test_docs_cover_every_op_and_parameter():
    with open(os.path.join(ROOT, "docs", "scenarios.md")) as fh:
        doc = fh.read()
    for name, info in OPS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/scenarios.md has no row for op {name}"
        for param in info.param_names:
            assert f"`{param}`" in row, f"docs/scenarios.md: op {name} does not document {param}"


def _validate(argv):
    return main(["validate", *argv])


def test_validate_command_exit_codes(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(MINIMAL)
    bad.write_text("seed: x\n" + MINIMAL)
    assert _validate([str(good)]) == 0
    assert "good.yaml: ok" in capsys.readouterr().out
    assert _validate([str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1 seed: expected an integer >= 0, got 'x' (a string)" in err
    assert _validate([str(good), "--rate", "0"]) == 2
    assert f"{good} (--rate) phases[0].rate: must be > 0, got 0" in capsys.readouterr().err


def test_validate_is_registered_in_the_main_cli():
    from pegload.cli import SUBCOMMANDS

    assert SUBCOMMANDS["validate"][0] == "pegload.scenario.cli"


def test_scenario_error_is_raised_not_other_exceptions_for_garbage(tmp_path):
    # a grab bag of wrong shapes must give ScenarioErrors, never a crash
    for text in ("phases: 3\n", "phases: [3]\n", "phases: [{mix: 3, duration: 1}]\n",
                 "phases: [{mix: {get: {}}, duration: 1}]\n", "data: 3\n" + MINIMAL, "target: [1]\n" + MINIMAL,
                 "targets: {}\n" + MINIMAL, "labels: 3\n" + MINIMAL, "thresholds: 3\n" + MINIMAL,
                 "phases: [{mix: {get: 1}, duration: 1, ramp: 3, rate: 1}]\n", "load: {batch: 0}\n" + MINIMAL,
                 "data: {value_size: {fixed: 1, uniform: [1, 2]}}\n" + MINIMAL, "? [a]\n: 1\n"):
        with pytest.raises(ScenarioError) as info:
            load_scenario_text(text, "g.yaml")
        assert all(e.startswith("g.yaml") for e in info.value.errors), info.value.errors


def test_duration_override_cuts_a_longer_ramp():
    text = "phases: [{duration: 20s, warmup: 1s, rate: 100, ramp: {from: 1, over: 10s}, mix: {get: 1}}]\n"
    sc = load_scenario_text(text, "r.yaml", {"duration": "2s"})
    assert sc.phases[0].ramp.duration_s == 3.0
    assert load_scenario_text(text, "r.yaml").phases[0].ramp.duration_s == 10.0
