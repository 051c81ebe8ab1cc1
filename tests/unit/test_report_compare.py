"""`pegload compare` and write_comparison: figures, ratios, comparability, fingerprints."""
import json

import pytest

from pegload.cli import main
from pegload.report import TargetFingerprint, load_run, write_comparison, write_report
from pegload.report.compare import comparison, to_text
from pegload.report.synthetic import SyntheticPhase, synthetic_run


def run_of(values, *, name="p8", partitions=8, rate=1000.0, labels=None, seed=42):
    phases = [SyntheticPhase("run", {"get": values, "set": [800] * 100}, duration_s=2.0, mode="open",
                             target_rate=rate)]
    target = TargetFingerprint(kind="onebox", meta=("127.0.0.1:34601",), table="temp", app_id=2,
                               partition_count=partitions, replica_servers=("127.0.0.1:34801", "127.0.0.1:34802"),
                               labels=labels or {}, name=name)
    return synthetic_run(phases, workers=2, target=target, seed=seed)


def compare_cli(capsys, *argv):
    code = main(["compare", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def two(tmp_path):
    a = write_report(run_of(list(range(1, 1001)), labels={"rocksdb_rate_limiter": "on"}), tmp_path / "a")
    b = write_report(run_of([v * 2 for v in range(1, 1001)], name="p32", partitions=32), tmp_path / "b")
    return a, b


def test_rows_hold_each_run_beside_the_first_with_ratios(two):
    a, b = two
    comp = comparison([a.dir, b.summary])
    rows = {(r["op"], r["kind"], r["metric"]): r for r in comp["rows"]}
    p50 = rows[("get", "response", "p50")]
    assert p50["values"] == [500, 1000] and p50["ratios"] == [1.0, 2.0]
    assert rows[("get", None, "throughput")]["values"] == [500.0, 500.0]
    assert rows[("get", "response", "max")]["values"] == [1000, 2000]
    assert ("get", "lateness", "p99") not in rows  # no lateness samples above 0: no rows
    assert rows[("all", None, "throughput")]["values"] == [550.0, 550.0]
    assert [r["label"] for r in comp["runs"]] == ["p8", "p32"]
    assert comp["comparability"] == {"comparable": True, "differences": []}


def test_text_shows_fingerprints_labels_and_ratios(two):
    text = to_text(comparison([a.dir for a in two]))
    lines = text.splitlines()
    assert lines[0].startswith("A: p8  [onebox 127.0.0.1:34601 table=temp app_id=2 partitions=8 replicas=2 "
                               "labels=rocksdb_rate_limiter=on]")
    assert lines[1].startswith("B: p32  [onebox 127.0.0.1:34601 table=temp app_id=2 partitions=32 replicas=2]")
    row = next(line for line in lines if line.startswith("get  response.p50"))
    assert row.split()[-1] == "2.00x"


def test_a_different_load_is_named_in_a_warning(tmp_path, capsys):
    a = write_report(run_of(list(range(1, 101))), tmp_path / "a")
    c = write_report(run_of(list(range(1, 101)), rate=2000.0), tmp_path / "c")
    code, out, _ = compare_cli(capsys, str(a.dir), str(c.dir))
    assert code == 0
    assert "WARNING: runs are not directly comparable:" in out
    assert "scenario.phases[0].rate: 1000.0 vs 2000.0" in out


def test_cli_writes_json_and_html(two, tmp_path, capsys):
    out_json, out_html = tmp_path / "cmp.json", tmp_path / "cmp.html"
    code, out, _ = compare_cli(capsys, str(two[0].dir), str(two[1].dir), "--json", str(out_json),
                               "--html", str(out_html))
    assert code == 0 and "get  response.p99" in out
    data = json.loads(out_json.read_text())
    assert data["kind"] == "pegload-comparison" and len(data["runs"]) == 2
    assert data["runs"][1]["target"]["partition_count"] == 32
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and '"kind":"compare"' in page


def test_cli_exit_2_on_a_missing_run(tmp_path, capsys, two):
    code, out, err = compare_cli(capsys, str(two[0].dir), str(tmp_path / "missing"))
    assert code == 2 and out == "" and "missing does not exist" in err


def test_write_comparison_merges_repeats_of_a_target(tmp_path):
    runs = [run_of(list(range(1, 501)), seed=1), run_of(list(range(501, 1001)), seed=1),
            run_of([v * 3 for v in range(1, 1001)], name="p32", partitions=32)]
    written = [write_report(r, tmp_path / f"r{i}") for i, r in enumerate(runs)]
    paths = write_comparison([written[0], written[1].dir, runs[2]], tmp_path / "comparison")
    data = json.loads(paths.json.read_text())
    assert [r["label"] for r in data["runs"]] == ["p8 (x2)", "p32"]
    p50 = next(r for r in data["rows"] if r["op"] == "get" and r["metric"] == "p50" and r["kind"] == "response")
    assert p50["values"] == [500, 1500]  # the two p8 repeats merged: 1..1000 µs
    tput = next(r for r in data["rows"] if r["op"] == "get" and r["metric"] == "throughput")
    assert tput["values"] == [250.0, 500.0]  # 1000 ops over 2 x 2 s, 1000 ops over 2 s
    assert paths.html.is_file() and "p8 (x2)" in paths.text.read_text()
    assert load_run(written[0].dir).label == "p8"
