"""Several targets and --repeat: the same load against each target in turn (same seed), one report
per run, and one comparison report beside them."""
import json

import pytest

pytestmark = pytest.mark.integration

TWO_TARGETS = """\
workers: 1
concurrency: 4
seed: 11
labels: {experiment: partitions}
targets:
  - {name: p8, onebox: {partitions: 8}}
  - {name: p32, onebox: {partitions: 32}, labels: {note: more partitions}}
data: {hash_keys: 40, sort_keys: 5}
phases:
  - {name: run, ops: 400, mix: {get: 3, set: 1}}
"""


def test_two_targets_give_two_reports_and_one_comparison(pegload_cli):
    out = pegload_cli.tmp_path / "cmp"
    r = pegload_cli.run("run", pegload_cli.scenario(TWO_TARGETS, "parts"), "--report-dir", out, "--quiet")
    assert r.returncode == 0, r.stderr + r.stdout
    p8, p32 = pegload_cli.summary(out / "p8"), pegload_cli.summary(out / "p32")
    assert (p8["target"]["partition_count"], p32["target"]["partition_count"]) == (8, 32)
    assert p8["target"]["name"] == "p8" and p32["target"]["labels"] == {"experiment": "partitions",
                                                                          "note": "more partitions"}
    # the same load: same scenario hash and seed, same op counts
    assert p8["scenario_hash"] == p32["scenario_hash"] and p8["run"]["seed"] == p32["run"]["seed"] == 11
    run8 = {p["name"]: p for p in p8["phases"]}["run"]
    run32 = {p["name"]: p for p in p32["phases"]}["run"]
    assert {op: e["count"] for op, e in run8["ops"].items()} == {op: e["count"] for op, e in run32["ops"].items()}
    comparison = json.loads((out / "comparison.json").read_text())
    assert (out / "comparison.html").exists() and (out / "comparison.txt").exists()
    text = json.dumps(comparison)
    assert "p8" in text and "p32" in text
    assert "p32" in r.stdout and "comparison:" in r.stdout


def test_repeat_runs_each_target_n_times_and_merges_the_repeats(pegload_cli, onebox):
    out = pegload_cli.tmp_path / "rep"
    path = pegload_cli.scenario("""\
        workers: 1
        concurrency: 2
        data: {hash_keys: 20, sort_keys: 2}
        load: false
        phases:
          - {name: run, ops: 100, mix: {get: 1}}
        """, "rep")
    r = pegload_cli.run("run", path, "--meta", ",".join(onebox.meta_addrs), "--table", "temp", "--repeat", 2,
                        "--report-dir", out, "--quiet")
    assert r.returncode == 0, r.stderr + r.stdout
    runs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(runs) == 2 and all(name.endswith(("-1", "-2")) for name in runs)
    for name in runs:
        assert {p["name"]: p for p in pegload_cli.summary(out / name)["phases"]}["run"]["all"]["count"] == 100
    assert (out / "comparison.json").exists()
