"""`pegload run` with a bad scenario: exit 2 with `file:line path: message`, and nothing started
(no worker, no onebox, no socket). One case per class of error the validator knows."""
import subprocess
import textwrap

import pytest

from pegload.cli import main

pytestmark = pytest.mark.integration

GOOD_PHASES = "phases:\n  - {duration: 1s, mix: {get: 1}}\n"

CASES = {
    "unknown key": ("concurency: 4\n" + GOOD_PHASES, [], ":1 concurency: unknown key; did you mean 'concurrency'?"),
    "wrong type": ("workers: many\n" + GOOD_PHASES, [], ":1 workers: "),
    "out of range": ("data: {hash_keys: 0}\n" + GOOD_PHASES, [], ":1 data.hash_keys: must be in [1,"),
    "weight not positive": ("phases:\n  - duration: 1s\n    mix: {get: 0}\n", [], ":3 phases[0].mix.get: must be > 0"),
    "unknown operation": ("phases:\n  - duration: 1s\n    mix: {gett: 1}\n", [],
                          ":3 phases[0].mix.gett: unknown operation; did you mean 'get'?"),
    "missing field": ("name: nothing-to-run\n", [], ":1 phases: missing"),
    "duration and ops": ("phases:\n  - {duration: 1s, ops: 5, mix: {get: 1}}\n", [], "phases[0]"),
    "bad threshold": ("thresholds: [get.p99 < 5 parsecs]\n" + GOOD_PHASES, [],
                      ":1 thresholds[0]: 'get.p99 < 5 parsecs'"),
    "cross-field rule": ("verify: true\nworkers: 2\nconcurrency: 8\ndata: {hash_keys: 4}\n" + GOOD_PHASES, [],
                         "data.hash_keys: verification"),
    "yaml syntax": ("phases:\n  - {duration: 1s\n", [], "YAML syntax error"),
    "bad override": (GOOD_PHASES, ["--rate", "-5"], " (--rate) phases[0].rate: must be > 0, got -5"),
    "bad duration override": (GOOD_PHASES, ["--duration", "soon"], " (--duration) phases[0].duration:"),
}


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fail the test if the run tries to start a process or open a socket."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"a bad scenario must not start anything: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(socket, "create_server", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_scenario_exits_2_with_file_line_and_path(case, tmp_path, capsys, nothing_may_start, monkeypatch):
    text, extra, expected = CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main([str(path), *extra]) == 2  # `pegload FILE` is `pegload run FILE`
    err = capsys.readouterr().err
    assert str(path) in err and expected in err, err
    assert not (tmp_path / "reports").exists()


def test_every_problem_of_a_file_is_listed_at_once(tmp_path, capsys, nothing_may_start):
    path = tmp_path / "many.yaml"
    path.write_text(textwrap.dedent("""\
        concurency: 4
        data: {hash_keys: -3}
        phases:
          - duration: 1s
            mix: {gett: 1}
        """), encoding="utf-8")
    assert main(["run", str(path)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(str(path))]
    assert [line.split()[0].rsplit(":", 1)[1] for line in lines] == ["1", "2", "5"]


def test_missing_file(tmp_path, capsys, nothing_may_start):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: cannot read the scenario file" in capsys.readouterr().err


def test_bad_run_option_is_a_usage_error(tmp_path, capsys, nothing_may_start):
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD_PHASES, encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["run", str(path), "--repeat", "0"])
    assert exc.value.code == 2 and "--repeat: must be at least 1" in capsys.readouterr().err
