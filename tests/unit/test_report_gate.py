"""`pegload check`: exit 0 pass, 1 regression / SLO breach / unstable, 2 bad input."""
import json
from xml.etree import ElementTree as ET

import pytest

from pegload.cli import main
from pegload.report import RunStatus, Validity, write_report
from pegload.report.gate import Rule, default_rules, judge, parse_rules
from pegload.report.stats import midranks, p_greater, smallest_p, u_statistic
from pegload.report.synthetic import SyntheticPhase, latency_samples, synthetic_run


def make(tmp_path, name, median=400, shift=0, seed=1, rate=1100.0, n=4000, **run):
    phases = [SyntheticPhase("run", {"get": latency_samples(n, median, seed=seed, shift_us=shift),
                                     "set": latency_samples(n // 10, median * 2, seed=seed + 100, shift_us=shift)},
                             duration_s=4.0, mode="open", target_rate=rate)]
    return str(write_report(synthetic_run(phases, workers=2, **run), tmp_path / name).dir)


def check(capsys, *argv):
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_identical_runs_pass(tmp_path, capsys):
    a, b = make(tmp_path, "a", seed=1), make(tmp_path, "b", seed=1)
    code, out, _ = check(capsys, b, "--baseline", a)
    assert code == 0, out
    assert "PASS: 10 checks" in out and "REGRESSION" not in out


def test_two_runs_with_different_noise_pass_the_defaults(tmp_path, capsys):
    a, b = make(tmp_path, "a", seed=1), make(tmp_path, "b", seed=2)
    code, out, _ = check(capsys, b, "--baseline", a)
    assert code == 0, out


def test_three_ms_more_latency_fails_naming_the_metric(tmp_path, capsys):
    base, slow = make(tmp_path, "base"), make(tmp_path, "slow", shift=3000, seed=2)
    code, out, _ = check(capsys, slow, "--baseline", base)
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("get.p99 "))
    assert row.split()[-1] == "REGRESSION"
    assert "FAIL:" in out and "get.p99" in out.splitlines()[-1]
    # throughput did not change: still a pass
    assert next(line for line in out.splitlines() if line.startswith("get.throughput")).endswith("pass")


def test_max_regression_rules_replace_the_defaults(tmp_path, capsys):
    base, slow = make(tmp_path, "base"), make(tmp_path, "slow", shift=3000, seed=2)
    code, out, _ = check(capsys, slow, "--baseline", base, "--max-regression", "throughput=5%")
    assert code == 0 and "all.throughput" in out and "get.p99" not in out
    code, out, _ = check(capsys, slow, "--baseline", base, "--max-regression", "defaults,get.p99=2000%")
    assert code == 1
    assert next(line for line in out.splitlines() if line.startswith("get.p99 ")).endswith("pass")


def test_slo_breach_fails(tmp_path, capsys):
    a = make(tmp_path, "a")
    code, out, _ = check(capsys, a, "--baseline", a, "--slo", "get.p99<500us,errors<0.1%")
    assert code == 1
    assert next(line for line in out.splitlines() if line.startswith("SLO get.p99 < 500us")).endswith("BREACH")
    assert next(line for line in out.splitlines() if line.startswith("SLO errors < 0.1%")).endswith("pass")
    code, _, _ = check(capsys, a, "--baseline", a, "--slo", "get.p99<5ms", "--no-regression")
    assert code == 0


@pytest.mark.parametrize("corrupt, message", [
    (lambda p: p.write_text("{not json"), "not valid JSON (line 1, column 2"),
    (lambda p: p.write_text(json.dumps({"kind": "pegload-run", "schema_version": 99})), "summary schema 99"),
    (lambda p: p.write_text(json.dumps({"kind": "something-else"})), "not a pegload run summary"),
    (lambda p: p.write_text(p.read_text().replace('"significant_digits": 3', '"significant_digits": 2')),
     "histograms recorded as"),
    (lambda p: p.write_text(p.read_text().replace('"histograms": {\n', '"histograms": {"bogus": "x",\n', 1)),
     "unknown histogram kind"),
])
def test_corrupt_baseline_exits_2_with_a_clear_message(tmp_path, capsys, corrupt, message):
    base, cur = make(tmp_path, "base"), make(tmp_path, "cur")
    corrupt(tmp_path / "base" / "summary.json")
    code, out, err = check(capsys, cur, "--baseline", base, "--slo", "get.p99<1s,all.p50<1s")
    assert code == 2 and out == ""
    assert message in err and "summary.json" in err


def test_missing_baseline_exits_2(tmp_path, capsys):
    cur = make(tmp_path, "cur")
    code, _, err = check(capsys, cur, "--baseline", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere does not exist (expected a pegload report folder" in err


def test_incompatible_baseline_exits_2_naming_what_differs(tmp_path, capsys):
    base, cur = make(tmp_path, "base", rate=1100.0), make(tmp_path, "cur", rate=2200.0)
    code, _, err = check(capsys, cur, "--baseline", base)
    assert code == 2
    assert "incompatible runs" in err and "scenario.phases[0].rate: 1100.0 vs 2200.0" in err


@pytest.mark.parametrize("argv, message", [
    (["--max-regression", "get.p99=ten%"], "not a number"),
    (["--max-regression", "get.p99"], "expected <[op.][kind.]metric>=<percent>%"),
    (["--max-regression", "gett.p99=10%"], "unknown operation 'gett'"),
    (["--slo", "get.p99<5"], "latency needs a time unit"),
    (["--max-regression", "scan.p99=10%"], "the baseline has no scan ops"),
    (["--min-delta", "soon"], "expected a duration"),
])
def test_bad_expressions_exit_2(tmp_path, capsys, argv, message):
    a = make(tmp_path, "a")
    code, _, err = check(capsys, a, "--baseline", a, *argv)
    assert code == 2 and message in err


def test_repeated_runs_pass_regress_or_are_unstable(tmp_path, capsys):
    base = [make(tmp_path, f"b{i}", seed=i) for i in (1, 2, 3)]
    same = [make(tmp_path, f"s{i}", seed=i) for i in (4, 5, 6)]
    slow = [make(tmp_path, f"r{i}", seed=i, shift=3000) for i in (7, 8, 9)]
    mixed = slow[:2] + [make(tmp_path, "m", median=300, seed=10)]

    code, out, _ = check(capsys, *same, "--baseline", *base)
    assert code == 0 and "3 runs vs a baseline of 3 runs" in out

    code, out, _ = check(capsys, *slow, "--baseline", *base)
    row = next(line for line in out.splitlines() if line.startswith("get.p99 "))
    assert code == 1 and row.split()[-2:] == ["0.05", "REGRESSION"]

    code, out, _ = check(capsys, *mixed, "--baseline", *base)
    row = next(line for line in out.splitlines() if line.startswith("get.p50 "))
    p = float(row.split()[-2])
    assert code == 1 and row.split()[-1] == "UNSTABLE" and p > 0.05  # one current run is fast
    assert f"not significant (p={p:g} > 0.05)" in out
    code, out, _ = check(capsys, *mixed, "--baseline", *base, "--allow-unstable")
    assert code == 0 and "unstable, allowed" in out


def test_junit_and_markdown_outputs(tmp_path, capsys):
    base, slow = make(tmp_path, "base"), make(tmp_path, "slow", shift=3000, seed=2)
    junit, md = tmp_path / "gate.xml", tmp_path / "gate.md"
    code, _, _ = check(capsys, slow, "--baseline", base, "--slo", "get.p99<1s",
                       "--junit", str(junit), "--markdown", str(md))
    assert code == 1
    suites = ET.parse(junit).getroot()
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == 11 and suites.get("failures") == "5"
    skipped = next(c for c in cases if c.get("name") == "set.p99").find("skipped")
    assert "400 ops in a run, a p99 needs 1,000" in skipped.get("message")
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert "get.p99" in failed and failed["get.p99"].get("type") == "regression"
    assert "(limit +150%)" in failed["get.p99"].get("message")
    assert any(c.get("name") == "SLO get.p99 < 1s" and c.get("classname") == "pegload.slo" for c in cases)
    text = md.read_text()
    assert text.startswith("### pegload check: FAIL")
    assert any(line.startswith("| get.p99 |") and line.endswith("| **REGRESSION** |") for line in text.splitlines())


def test_defaults_depend_on_the_loop_and_thin_tails_are_not_judged(tmp_path, capsys):
    open_rules = {r.name: r.limit for r in default_rules(["get"], closed_loop=False)}
    closed_rules = {r.name: r.limit for r in default_rules(["get"], closed_loop=True)}
    assert open_rules == {"all.error_rate": 0.005, "all.p50": 0.5, "all.p99": 1.5, "all.throughput": 0.1,
                          "get.p50": 0.5, "get.p99": 1.5, "get.throughput": 0.1}
    assert closed_rules == {"all.error_rate": 0.005, "all.p50": 1.5, "all.throughput": 0.65,
                            "get.p50": 1.5, "get.throughput": 0.65}
    few = make(tmp_path, "few", n=500)
    code, out, _ = check(capsys, few, "--baseline", few)
    assert code == 0
    assert next(line for line in out.splitlines() if line.startswith("get.p99 ")).endswith("SKIPPED")
    assert "get.p99: not judged: 500 ops in a run, a p99 needs 1,000" in out


def test_latency_noise_floor_and_directions():
    rule = Rule("get", "response", "p50", 0.25)
    assert judge(rule, [100.0], [200.0], min_delta_us=250, alpha=0.05).verdict == "pass"  # +100%, but +100 µs
    assert judge(rule, [100.0], [400.0], min_delta_us=250, alpha=0.05).verdict == "regression"
    thr = Rule("all", "", "throughput", 0.15)
    assert judge(thr, [1000.0], [900.0], 250, 0.05).verdict == "pass"
    v = judge(thr, [1000.0], [800.0], 250, 0.05)
    assert v.verdict == "regression" and v.change_text() == "-20%"
    err = Rule("all", "", "error_rate", 0.005)
    assert judge(err, [0.0], [0.004], 250, 0.05).verdict == "pass"
    assert judge(err, [0.0], [0.006], 250, 0.05).verdict == "regression"
    assert judge(rule, [100.0], [], 250, 0.05).verdict == "missing"


def test_rule_parsing():
    rules = parse_rules("get.p99=10%,throughput=5%,errors=0.5%,get.service.p50=20%", ["get"])
    assert [(r.name, r.limit) for r in rules] == [
        ("get.p99", 0.10), ("all.throughput", 0.05), ("all.error_rate", 0.005), ("get.service.p50", 0.20)]
    merged = parse_rules("defaults,get.p99=10%", ["get", "set"])
    assert len(merged) == len(default_rules(["get", "set"]))
    assert [r.limit for r in merged if r.name == "get.p99"] == [0.10]


def test_mann_whitney():
    assert midranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2]
    assert u_statistic([1, 2, 3], [4, 5, 6]) == 9
    assert p_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1 / 20)
    assert p_greater([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(1 / 70)
    assert p_greater([4, 5, 6], [1, 2, 3]) == 1.0
    assert p_greater([1, 1], [1, 1]) == 1.0  # all tied: no evidence
    # ties share ranks: y's ranks are 1.5, 5, 6 and 5 of the 20 splits reach 12.5
    assert p_greater([1, 2, 3], [1, 5, 6]) == pytest.approx(5 / 20)
    assert smallest_p(1, 3) == 0.25 and smallest_p(3, 3) == pytest.approx(0.05)
    big = p_greater(list(range(40)), list(range(30, 70)))  # beyond the exact limit: normal approximation
    assert 0 < big < 1e-6
    assert 0.3 < p_greater(list(range(0, 80, 2)), list(range(1, 81, 2))) < 0.5


@pytest.mark.parametrize("side", ["run", "baseline"])
@pytest.mark.parametrize("run, named", [
    (dict(status=RunStatus(130, interrupted=True, error="interrupted by SIGINT")),
     "interrupted (interrupted by SIGINT)"),
    (dict(status=RunStatus(3, crashed_workers=({"worker_id": 1, "reason": "fell silent"},))), "worker 1: fell silent"),
    (dict(validity=Validity(False, ("phase 'run': achieved 900 of 1,000 ops/s on time",))), "NOT VALID (phase 'run'"),
], ids=["interrupted", "crashed", "not-valid"])
def test_check_refuses_incomplete_or_invalid_runs_unless_allowed(tmp_path, capsys, side, run, named):
    good, bad = make(tmp_path, "good"), make(tmp_path, "bad", **run)
    current, baseline = (bad, good) if side == "run" else (good, bad)
    code, out, err = check(capsys, current, "--baseline", baseline)
    assert code == 2 and out == ""
    assert f"{side} {bad}" in err and named in err and "--allow-invalid" in err
    code, out, _ = check(capsys, current, "--baseline", baseline, "--allow-invalid")
    assert code == 0 and "PASS" in out


def test_compare_shows_an_invalid_run_and_warns(tmp_path, capsys):
    good = make(tmp_path, "good")
    bad = make(tmp_path, "bad", status=RunStatus(130, interrupted=True, error="interrupted by SIGINT"))
    code = main(["compare", good, bad])
    out = capsys.readouterr()
    assert code == 0 and "WARNING, not a trustworthy run: " in out.out and "interrupted" in out.out
    assert "pegload check would refuse it" in out.err


def test_a_caution_leaves_the_run_judged_but_not_the_tail_it_names(tmp_path, capsys):
    """A run whose client delays fill only p99.9 and max (validity caution) is still judged on
    p50/p99 and throughput; rules and SLOs on the tail it names are not judged, and an SLO that
    cannot be judged fails."""
    caution = {"reason": "lateness_tail", "phase": "run", "stats": ["p999", "max"],
               "text": "phase 'run': lateness p99.9 1.5 ms is 55% of response p99.9 2.8 ms"}
    cautious = Validity(True, (), (), None, (caution,))
    base, cur = make(tmp_path, "base"), make(tmp_path, "cur", seed=2, validity=cautious)
    code, out, _ = check(capsys, cur, "--baseline", base, "--max-regression", "defaults,get.p999=50%")
    assert code == 0, out
    p999 = next(line for line in out.splitlines() if line.startswith("get.p999 "))
    assert p999.split()[-1] == "SKIPPED" and "not judged" in out and "lateness p99.9 1.5 ms" in out
    assert next(line for line in out.splitlines() if line.startswith("get.p99 ")).endswith("pass")
    code, out, _ = check(capsys, cur, "--baseline", base, "--slo", "get.p999<1s,get.p99<1s")
    assert code == 1 and "not judged" in out
    # the service-time tail excludes the client's pacing delays: still judged
    code, out, _ = check(capsys, cur, "--baseline", base, "--slo", "get.service.p999<1s")
    assert code == 0, out
