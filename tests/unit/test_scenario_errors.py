"""One bad scenario per class of error: each message names file:line, the field path and what
was expected; all problems of a file are reported together."""
import textwrap

import pytest

from pegload.scenario import ScenarioError, load_scenario

GOOD_PHASES = """\
phases:
  - duration: 5s
    mix: {get: 1}
"""


def errors_of(tmp_path, text, name="bad.yaml", overrides=None):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return [e.replace(str(path), name) for e in info.value.errors]


def test_unknown_key_with_suggestion(tmp_path):
    errs = errors_of(tmp_path, "workerz: 2\n" + GOOD_PHASES)
    assert errs == ["bad.yaml:1 workerz: unknown key; did you mean 'workers'?"]


def test_unknown_nested_key_and_unknown_operation(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - duration: 5s
            mix:
              gett: 1
              scan: {weight: 1, recrods: 5}
        """))
    assert errs == [
        "bad.yaml:4 phases[0].mix.gett: unknown operation; did you mean 'get'?",
        "bad.yaml:5 phases[0].mix.scan.recrods: unknown key; did you mean 'records'?",
    ]


def test_unknown_key_without_close_match_lists_the_allowed_keys(tmp_path):
    errs = errors_of(tmp_path, "data: {zzz: 1}\n" + GOOD_PHASES)
    assert len(errs) == 1
    assert errs[0].startswith("bad.yaml:1 data.zzz: unknown key (expected one of: ")
    assert "hash_keys" in errs[0]


def test_wrong_type(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        concurrency: lots
        data:
          hash_keys: 10.5
        """) + GOOD_PHASES)
    assert errs == [
        "bad.yaml:1 concurrency: expected an integer >= 1, got 'lots' (a string)",
        "bad.yaml:3 data.hash_keys: expected an integer >= 1, got 10.5 (a number)",
    ]


def test_out_of_range_matches_the_issue_example(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        name: readheavy
        phases:
          - duration: 5s
            mix: {get: 1}
          - name: second
            duration: 5s
            mix:
              set: 1
              get:
                weight: 0
        """))
    assert errs == ["bad.yaml:10 phases[1].mix.get.weight: must be > 0, got 0"]


def test_missing_required(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        seed: 3
        """))
    assert errs == ["bad.yaml:1 phases: missing; expected a list of phases (each with duration or ops, and mix)"]
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - name: p
            rate: 10
        """))
    assert errs == [
        "bad.yaml:2 phases[0].duration: missing; expected a duration (e.g. 30s) or ops (an op count)",
        "bad.yaml:2 phases[0].mix: missing; expected a mapping of operation -> weight (or -> {weight: ..., params})",
    ]


def test_bad_threshold(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - duration: 5s
            mix: {get: 1}
            thresholds:
              - get.p99 < 5
              - set.p99 < 1ms
        thresholds: "errors < 0.1%, get.p95 < 1ms"
        """))
    assert errs == [
        "bad.yaml:5 phases[0].thresholds[0]: 'get.p99 < 5': latency needs a time unit (us, ms or s), got none",
        "bad.yaml:6 phases[0].thresholds[1]: 'set.p99 < 1ms': 'set' is not in this phase's mix",
        "bad.yaml:7 thresholds: 'get.p95': unknown metric 'p95'; did you mean 'p99'? "
        "(expected one of p50, p90, p99, p999, max, mean, p99.9, throughput, errors, verify_errors)",
    ]


def test_bad_distribution(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - duration: 5s
            keys: {distribution: zipfan}
            mix:
              get: {weight: 1, keys: {distribution: zipfian, theta: 0}}
              multi_get: {weight: 1, keys: latest}
              set: {weight: 1, keys: {distribution: uniform, theta: 0.5}}
        """))
    assert errs == [
        "bad.yaml:3 phases[0].keys.distribution: expected one of uniform, zipfian, latest, hotspot, sequential, "
        "got 'zipfan' (a string); did you mean 'zipfian'?",
        "bad.yaml:5 phases[0].mix.get.keys.theta: must be in (0, 10], got 0",
        "bad.yaml:6 phases[0].mix.multi_get.keys: latest applies to single-record ops (it follows inserted records); "
        "multi_get picks hash keys",
        "bad.yaml:7 phases[0].mix.set.keys.theta: only applies to distribution zipfian or latest, not uniform",
    ]


def test_target_and_targets_together(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        target: {onebox: {partitions: 0}}
        targets:
          - {name: a, onebox: {}}
        """) + GOOD_PHASES)
    assert errs == [
        "bad.yaml:1 target.onebox.partitions: must be in [1, 1024], got 0",
        "bad.yaml:2 targets: give either `target:` (one) or `targets:` (several), not both",
    ]


def test_bad_targets(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        targets:
          - {name: a, onebox: {}}
          - name: a
            meta: [127.0.0.1:34601, "nohost"]
          - onebox: {}
            meta: 127.0.0.1:1
            table: t
        """) + GOOD_PHASES)
    assert errs == [
        "bad.yaml:3 targets[1].table: missing; expected a non-empty string",
        "bad.yaml:3 targets[1].name: target name 'a' is used twice (also targets[0])",
        "bad.yaml:4 targets[1].meta[1]: expected host:port (port 1-65535), got 'nohost' (a string)",
        "bad.yaml:5 targets[2].name: missing; expected a name of letters, digits, '-', '_' and '.'",
        "bad.yaml:6 targets[2].meta: a target is either an embedded onebox or a cluster (meta + table), not both",
    ]


def test_bad_override_names_the_flag(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - duration: 5s
            mix: {get: 1}
          - ops: 100
            mix: {set: 1}
        """), overrides={"rate": "-5", "workers": "two", "duration": "soon"})
    assert errs == [
        "bad.yaml (--workers) workers: expected an integer >= 1, got 'two' (a string)",
        "bad.yaml (--duration) phases[0].duration: expected a duration like 30, 30s, 500ms, 2m or 1h, got 'soon'",
        "bad.yaml (--rate) phases[0].rate: must be > 0, got -5",
        "bad.yaml (--duration) phases[1].duration: expected a duration like 30, 30s, 500ms, 2m or 1h, got 'soon'",
        "bad.yaml (--rate) phases[1].rate: must be > 0, got -5",
    ]


def test_meta_override_without_table(tmp_path):
    errs = errors_of(tmp_path, GOOD_PHASES, overrides={"meta": "127.0.0.1:34601"})
    assert errs == ["bad.yaml (--meta) target.table: missing; expected a non-empty string"]


def test_mode_rate_ramp_rules(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        phases:
          - duration: 5s
            ops: 10
            mode: closed
            rate: 100
            mix: {get: 1}
          - mode: open
            duration: 5s
            mix: {get: 1}
          - duration: 5s
            rate: 10
            ramp: {from: 1, over: 10s}
            mix: {get: 1}
          - duration: 5s
            ramp: {from: 1, over: 1s}
            mix: {get: 1}
        """))
    assert errs == [
        "bad.yaml:3 phases[0].ops: give either duration or ops, not both",
        "bad.yaml:5 phases[0].rate: only applies to mode: open (closed loop runs as fast as the greenlets go)",
        "bad.yaml:7 phases[1].rate: missing; mode: open needs a target total rate in ops/s",
        "bad.yaml:12 phases[2].ramp.over: the ramp (10s) is longer than the phase (5s with warm-up)",
        "bad.yaml:15 phases[3].ramp: a rate ramp needs mode: open",
    ]


def test_verification_constraints(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        verify: true
        workers: 2
        concurrency: 4
        load: false
        data:
          hash_keys: 9
          value_size: 10
          ttl: 60
        phases:
          - duration: 5s
            mix:
              set: {weight: 1, ttl: 5}
        """))
    assert errs == [
        "bad.yaml:1 verify: verification needs the load phase (load.enabled: true): "
        "without it pegload cannot know what the table holds",
        "bad.yaml:6 data.hash_keys: verification gives every worker its own hash keys, more than its greenlets "
        "(so one is always free of in-flight writes): needs >= workers x (concurrency + 1) = 10, got 9",
        "bad.yaml:7 data.value_size: verification needs values of at least 20 bytes (the checkable header), got 10",
        "bad.yaml:8 data.ttl: verification needs ttl: 0 (expiring records cannot be told apart from lost writes), "
        "got 60",
        "bad.yaml:12 phases[0].mix.set.ttl: verification needs ttl: 0 "
        "(expiring records cannot be told apart from lost writes)",
    ]


def test_value_size_forms(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        data:
          value_size:
            weighted: [[100, 0], [abc, 1]]
        """) + GOOD_PHASES)
    assert errs == [
        "bad.yaml:3 data.value_size.weighted[0][1]: must be > 0, got 0",
        "bad.yaml:3 data.value_size.weighted[1][0]: expected a size in bytes like 100, 4KiB or 1MB, "
        "got 'abc' (a string)",
    ]
    errs = errors_of(tmp_path, "data: {value_size: {uniform: [500, 100]}}\n" + GOOD_PHASES)
    assert errs == ["bad.yaml:1 data.value_size.uniform: min must be <= max, got [500, 100]"]


def test_duplicate_keys_and_phase_names(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        seed: 1
        seed: 2
        phases:
          - {name: a, duration: 5s, mix: {get: 1}}
          - {name: a, duration: 5s, mix: {get: 1, get: 2}}
          - {name: load, duration: 5s, mix: {get: 1}}
        """))
    assert errs == [
        "bad.yaml:2 seed: key given twice",
        "bad.yaml:5 phases[1].mix.get: operation given twice",
        "bad.yaml:5 phases[1].name: phase name 'a' is used twice (also phases[0])",
        "bad.yaml:6 phases[2].name: 'load' is reserved for the load phase; pick another name",
    ]


def test_sort_keys_param_bounded_by_layout(tmp_path):
    errs = errors_of(tmp_path, textwrap.dedent("""\
        data: {sort_keys: 5}
        phases:
          - duration: 5s
            mix:
              multi_get: {weight: 1, sort_keys: 6}
        """))
    assert errs == ["bad.yaml:5 phases[0].mix.multi_get.sort_keys: must be <= data.sort_keys (5), got 6"]


def test_yaml_syntax_error_and_empty_file(tmp_path):
    errs = errors_of(tmp_path, "phases:\n  - duration: 5s\n   mix: {get: 1\n")
    assert len(errs) == 1 and errs[0].startswith("bad.yaml:3 <root>: YAML syntax error:")
    assert errors_of(tmp_path, "# nothing\n") == [
        "bad.yaml:1 <root>: the file is empty; expected a scenario mapping (name, phases, ...)"]
    assert errors_of(tmp_path, "- 1\n- 2\n") == ["bad.yaml:1 <root>: expected a mapping of scenario keys, got a list"]


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.yaml")
    assert info.value.errors[0].startswith(f"{tmp_path / 'nope.yaml'}: cannot read the scenario file")


def test_str_of_the_error_lists_every_problem(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("seed: x\nworkers: 0\n" + GOOD_PHASES)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert text.splitlines()[0] == "2 problems in scenario:"
    assert f"{path}:1 seed:" in text and f"{path}:2 workers: must be in [1, 4096], got 0" in text
