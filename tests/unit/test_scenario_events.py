"""events: and server_metrics: in scenario files: what a valid timeline becomes, and one error
per class of mistake, each with file:line, the field path and what was expected."""
import textwrap

import pytest

from pegload.scenario import ScenarioError, load_scenario, load_scenario_text, parse_threshold, scenario_from_dict
from pegload.scenario.events import EventSpec

HEAD = """\
target: {onebox: {partitions: 4, replicas: 3, failure_detection: 2s}}
phases:
  - name: run
    warmup: 1s
    duration: 20s
    rate: 100
    mix: {get: 1}
"""


def errors_of(tmp_path, text, name="bad.yaml", overrides=None):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return [e.replace(str(path), name) for e in info.value.errors]


def test_a_timeline_of_every_action_validates_and_round_trips():
    text = HEAD + textwrap.dedent("""\
        server_metrics: {capture: auto, interval: 2s}
        events:
          - {at: 1s, onebox: {stall: 500ms, replica: 1}}
          - {at: 2s, onebox: {delay_ms: 20}}
          - {at: 3s, onebox: {busy_fraction: 0.5, replica: "127.0.0.1:1"}}
          - {at: 4s, onebox: {drop_fraction: 0.1}}
          - {at: 5s, onebox: {close_connections: true}}
          - {at: 6s, onebox: {move_primary: {partition: 3, to: 2}}}
          - {at: 7s, onebox: {kill_replica: 0}}
          - {at: 8s, onebox: {restart_replica: 0}}
          - {at: 9s, phase: run, onebox: {clear: true}, name: all clear}
          - {at: 10s, exec: "true", timeout: 5s}
        """)
    s = load_scenario_text(text, "t.yaml")
    assert s.server_metrics.interval_s == 2.0 and s.server_metrics.capture == "auto"
    assert s.target.onebox.failure_detection_s == 2.0
    assert [e.action for e in s.events] == ["stall", "delay_ms", "busy_fraction", "drop_fraction",
                                             "close_connections", "move_primary", "kill_replica",
                                             "restart_replica", "clear", ""]
    assert s.events[0] == EventSpec("run", 1.0, "onebox", "stall", {"seconds": 0.5, "replica": 1})
    assert s.events[5].args == {"table": "temp", "partition": 3, "to": 2}
    assert s.events[9].kind == "exec" and s.events[9].timeout_s == 5.0
    assert [e.describe() for e in s.events][:1] + [s.events[8].describe()] == ["stall 0.5s replica 1", "all clear"]
    again = scenario_from_dict(s.to_dict())
    assert again.events == s.events and again.server_metrics == s.server_metrics
    assert again.target.onebox.failure_detection_s == 2.0


def test_server_metrics_off_and_default():
    assert load_scenario_text(HEAD + "server_metrics: off\n", "t.yaml").server_metrics.capture == "off"
    s = load_scenario_text(HEAD, "t.yaml")
    assert (s.server_metrics.capture, s.server_metrics.interval_s, s.events) == ("auto", 10.0, ())


def test_event_errors_name_file_line_and_field(tmp_path):
    errs = errors_of(tmp_path, HEAD + textwrap.dedent("""\
        events:
          - at: 25s
            onebox: {stall: 1s}
          - at: 1s
            phase: runn
            exec: "true"
          - at: 2s
          - at: 3s
            onebox: {stall: 1s, kill_replica: 0}
          - at: 4s
            onebox: {kill_replica: 3}
          - at: 5s
            onebox: {explode: true}
          - at: 6s
            exec: "sleep 1"
            timeout: 2h
          - at: 7s
            onebox: {move_primary: {partition: 4}}
          - at: 8s
            onebox: {kill_replica: 0, replica: 1}
          - "stall"
        """))
    assert errs == [
        "bad.yaml:9 events[0].at: 25s is not inside phase 'run', which measures for 20s "
        "(at counts from the end of its warm-up)",
        "bad.yaml:12 events[1].phase: no phase named 'runn' (phases: run)",
        "bad.yaml:14 events[2]: expected exactly one action: onebox: {...} (embedded onebox) or exec: \"command\"",
        "bad.yaml:16 events[3].onebox: expected exactly one action of: stall, delay_ms, busy_fraction, "
        "drop_fraction, close_connections, move_primary, kill_replica, restart_replica, clear "
        "(got stall, kill_replica)",
        "bad.yaml:18 events[4].onebox.kill_replica: replica 3 does not exist: the onebox has 3 replica "
        "server(s) (0..2)",
        "bad.yaml:20 events[5].onebox: expected exactly one action of: stall, delay_ms, busy_fraction, "
        "drop_fraction, close_connections, move_primary, kill_replica, restart_replica, clear (got none)",
        "bad.yaml:20 events[5].onebox.explode: unknown key (expected one of: busy_fraction, clear, close_connections, "
        "delay_ms, drop_fraction, kill_replica, move_primary, replica, restart_replica, stall)",
        "bad.yaml:23 events[6].timeout: must be <= 3600s, got 7200s",
        "bad.yaml:25 events[7].onebox.move_primary.partition: table 'temp' has 4 partitions (0..3), got 4",
        "bad.yaml:27 events[8].onebox.replica: does not apply to kill_replica",
        "bad.yaml:28 events[9]: expected an event mapping (at:, phase:, onebox: or exec:), got 'stall' (a string)",
    ]


def test_onebox_actions_need_an_embedded_onebox(tmp_path):
    text = HEAD + "events:\n  - {at: 1s, onebox: {stall: 1s}}\n  - {at: 2s, exec: 'true'}\n"
    errs = errors_of(tmp_path, text, overrides={"meta": "127.0.0.1:34601", "table": "temp"})
    assert errs == ["bad.yaml:9 events[0].onebox: onebox actions need an embedded onebox target; target temp is "
                    "a cluster (use exec: for a command that acts on it)"]


def test_exec_timeout_only_for_exec_and_missing_at(tmp_path):
    errs = errors_of(tmp_path, HEAD + "events:\n  - {onebox: {clear: true}, timeout: 1s}\n")
    assert errs == ["bad.yaml:9 events[0].at: missing; expected a duration like 30s, 500ms or 2m",
                    "bad.yaml:9 events[0].timeout: only applies to exec: events"]


def test_recovery_thresholds_parse_and_need_events(tmp_path):
    t = parse_threshold("recovery.p99 < 5s")
    assert (t.op, t.metric, t.value, t.text) == ("recovery", "recovery_p99", 5.0, "recovery.p99 < 5s")
    assert t.is_recovery
    assert parse_threshold("recovery.errors<=1500ms").value == 1.5
    for bad, msg in (("recovery.p50 < 5s", "expected recovery.p99 or recovery.errors"),
                     ("recovery.p99 < 5", "a recovery time needs a time unit"),
                     ("recovery < 5s", "expected recovery.p99 or recovery.errors")):
        with pytest.raises(ValueError, match=msg):
            parse_threshold(bad)
    errs = errors_of(tmp_path, HEAD + "thresholds: ['recovery.p99 < 5s']\n")
    assert errs == ["bad.yaml:8 thresholds[0]: 'recovery.p99 < 5s': the scenario has no events: to judge "
                    "recovery add an events: entry (e.g. onebox: {kill_replica: 0})"]
    ok = load_scenario_text(HEAD + "thresholds: ['recovery.p99 < 5s']\nevents: [{at: 1s, exec: 'true'}]\n", "t.yaml")
    assert ok.thresholds[0].is_recovery


def test_server_metrics_errors(tmp_path):
    errs = errors_of(tmp_path, HEAD + "server_metrics: {capture: sometimes, interval: 10ms}\n")
    assert errs == ["bad.yaml:8 server_metrics.capture: expected one of auto, off, got 'sometimes' (a string)",
                    "bad.yaml:8 server_metrics.interval: must be >= 0.5s, got '10ms'"]


def test_a_phase_shortened_on_the_command_line_runs_without_its_later_events(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + "events:\n  - {at: 1s, onebox: {stall: 1s}}\n  - {at: 15s, onebox: {clear: true}}\n")
    s = load_scenario(path, {"duration": "10s"})
    assert [e.at_s for e in s.events] == [1.0]
    assert [e.at_s for e in load_scenario(path).events] == [1.0, 15.0]
