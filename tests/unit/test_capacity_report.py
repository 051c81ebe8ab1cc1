"""Capacity SLO judging, the report text/page, compare's ratio and the --min-capacity gate, on
synthetic capacity summaries."""
from __future__ import annotations

import json

import pytest

from pegload.capacity import search
from pegload.capacity.slo import judge_step, parse_slo
from pegload.cli import main
from pegload.report.capacity import capacity_text, check_capacity, compare_capacity, is_capacity, render_capacity_html
from pegload.scenario.thresholds import ThresholdError


def scope(p99_us: float, service_p99_us: float | None = None, errors: float = 0.0, count: int = 10_000) -> dict:
    lat = {"response": {"p50": 500, "p90": 800, "p99": p99_us, "p999": p99_us * 1.2, "max": p99_us * 2, "mean": 600},
           "service": {"p50": 400, "p90": 700, "p99": service_p99_us or p99_us, "p999": p99_us, "max": p99_us,
                       "mean": 500}}
    entry = {"count": count, "error_count": int(errors * count), "error_rate": errors, "latency_us": lat,
             "throughput": count / 5}
    return {"ops": {"get": entry}, "all": entry}


TERMS = parse_slo("get.p99<5ms", ["get"])


def test_parse_slo_adds_an_errors_term_and_checks_ops():
    assert [t.text for t in TERMS] == ["get.p99 < 5ms", "errors < 1%"]
    assert [t.text for t in parse_slo("get.p99<5ms,errors<0.1%", ["get"])] == ["get.p99 < 5ms", "errors < 0.1%"]
    with pytest.raises(ThresholdError, match="runs no 'set' ops"):
        parse_slo("set.p99<5ms", ["get"])
    with pytest.raises(ThresholdError, match="throughput"):
        parse_slo("throughput>5", ["get"])


@pytest.mark.parametrize("case,expect", [
    (dict(s=scope(3000), valid=True, lim=None), search.PASS),
    (dict(s=scope(9000), valid=True, lim=None), search.SLO),
    (dict(s=scope(3000, errors=0.05), valid=True, lim=None), search.ERRORS),
    # load not offered: the client's verdict
    (dict(s=scope(9000, service_p99_us=2000), valid=False, lim="client", codes=["rate"]), search.CLIENT),
    # service latency breached too: the target was too slow, the client's shortage followed
    (dict(s=scope(9000, service_p99_us=8000), valid=False, lim="client", codes=["greenlets"]), search.SLO),
    # only client-added delays, SLO met anyway: a pass
    (dict(s=scope(3000), valid=False, lim="client", codes=["lateness_tail"]), search.PASS),
    # SLO met but the planned load was not offered: no pass
    (dict(s=scope(3000), valid=False, lim="client", codes=["rate", "lateness_tail"]), search.CLIENT),
    (dict(s=scope(3000), valid=False, lim="run", codes=["worker_lost"]), search.INVALID),
    (dict(s=scope(3000), valid=False, lim="target", codes=["target_lost"]), search.INVALID),
])
def test_step_verdicts(case, expect):
    j = judge_step(case["s"], TERMS, valid=case["valid"], limited_by=case["lim"], reasons=case.get("codes", ()))
    assert j.verdict == expect


def test_interrupted_step():
    assert judge_step(scope(3000), TERMS, valid=True, limited_by=None, interrupted=True).verdict == search.INTERRUPTED


def step(i, rate, achieved, p99, verdict, stage="grow"):
    s = scope(p99)
    return {"index": i, "stage": stage, "repeat": 1, "bracket": [None, None], "target_rate": rate,
            "achieved_rate": achieved, "concurrency": 128, "verdict": verdict, "note": "",
            "validity": {"valid": verdict != "client", "limited_by": "client" if verdict == "client" else None,
                         "reasons": ["phase 'run': achieved 10 of 20 ops/s"] if verdict == "client" else [],
                         "codes": ["rate"] if verdict == "client" else []},
            "slo": [], "ops": {op: {"count": e["count"], "error_count": 0, "error_rate": 0.0, "mean_us": 600,
                                    "latency_us": {k: {p: v for p, v in e["latency_us"][k].items() if p != "max"}
                                                   for k in ("response", "service")}}
                               for op, e in (("get", s["all"]), ("all", s["all"]))},
            "errors": {"count": 0, "rate": 0.0, "by_name": {}}, "report": f"steps/{i + 1:02d}-{rate}"}


def capacity(max_rate, limited_by="slo", slo=("get.p99 < 5ms", "errors < 1%"), knee=3000):
    steps = [step(0, 1000, 1000, 1500, "pass"), step(1, 2000, 2000, 1700, "pass"),
             step(2, 4000, 3990, 21000, "slo"), step(3, knee, knee, 1800, "pass", "bisect")]
    return {"schema_version": 1, "kind": "pegload-capacity", "scenario_hash": "h",
            "run": {"id": "x", "scenario_name": "getonly", "started_at": "t", "workers": 2, "concurrency": 64,
                    "exit_code": 0, "error": None},
            "target": {"kind": "onebox", "meta": ["127.0.0.1:1"], "table": "temp"},
            "capacity": {"mode": "open", "phase": "run", "slo": list(slo), "slo_text": ", ".join(slo),
                         "max_rate": max_rate, "limited_by": limited_by,
                         "judged": limited_by in ("slo", "errors", "max_rate"), "lowest_fail": 4000,
                         "precision": 0.05, "repeat": 1, "start_rate": 1000, "rate_ceiling": 1e6,
                         "step_duration_s": 5, "warmup_s": 1, "advice": None, "steps": steps}}


def write(tmp_path, name, data):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(data))
    return d


def test_text_and_page_show_the_answer_curve_slo_line_and_knee():
    data = capacity(3000)
    text = capacity_text(data)
    assert text.splitlines()[0] == "capacity: 3,000 ops/s at get.p99 < 5ms, errors < 1% (limited by the SLO)"
    page = render_capacity_html(data)
    assert "<svg" in page and "SLO 5 ms" in page and "capacity 3,000 ops/s" in page
    assert page.count('class="series"') == 3  # p50, p99, p99.9
    assert "steps/04-3000/report.html" in page


def test_client_limited_headline_says_floor_and_advice():
    data = capacity(2000, "client")
    data["capacity"]["advice"] = "more --workers"
    assert "at least 2,000" in capacity_text(data) and "more --workers" in capacity_text(data)


def test_compare_states_the_ratio(tmp_path):
    a, b = write(tmp_path, "a", capacity(2000)), write(tmp_path, "b", capacity(2820))
    assert is_capacity(a) and not is_capacity(tmp_path)
    text, page = compare_capacity([a, b])
    assert "B sustains 1.41x A at get.p99 < 5ms, errors < 1%" in text
    assert "A: capacity 2,000" in page and "B: capacity 2,820" in page


@pytest.mark.parametrize("cur,base,ratio,code", [(2900, 3000, 0.95, 0), (2800, 3000, 0.95, 1), (3000, 3000, 1.0, 0)])
def test_min_capacity_gate(tmp_path, cur, base, ratio, code):
    c, b = write(tmp_path, "c", capacity(cur)), write(tmp_path, "b", capacity(base))
    got, text = check_capacity(c, b, ratio)
    assert got == code, text


def test_gate_refuses_unjudged_search_and_different_slos(tmp_path):
    c = write(tmp_path, "c", capacity(2000, "client"))
    b = write(tmp_path, "b", capacity(3000))
    assert check_capacity(c, b, 0.95)[0] == 2
    d = write(tmp_path, "d", capacity(3000, slo=("get.p99 < 10ms", "errors < 1%")))
    code, text = check_capacity(d, b, 0.95)
    assert code == 2 and "different SLOs" in text


def test_check_and_compare_commands_route_capacity_reports(tmp_path, capsys):
    c, b = write(tmp_path, "c", capacity(2800)), write(tmp_path, "b", capacity(3000))
    assert main(["check", str(c), "--baseline", str(b), "--min-capacity", "0.95"]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert main(["check", str(c), "--baseline", str(b)]) == 2  # capacity reports need --min-capacity
    assert main(["compare", str(b), str(c), "--html", str(tmp_path / "cmp.html")]) == 0
    assert "B sustains 0.93x A" in capsys.readouterr().out and (tmp_path / "cmp.html").is_file()


def test_capacity_command_refuses_rate_and_unknown_slo_op(tmp_path, capsys):
    sc = tmp_path / "s.yaml"
    sc.write_text("phases:\n  - name: run\n    duration: 5s\n    mix: {get: 1}\n")
    assert main(["capacity", str(sc), "--slo", "get.p99<5ms", "--rate", "100"]) == 2
    assert main(["capacity", str(sc), "--slo", "set.p99<5ms"]) == 2
    assert "runs no 'set' ops" in capsys.readouterr().err
    assert main(["capacity", str(sc), "--slo", "get.p99<5ms", "--start-rate", "100", "--max-rate", "50"]) == 2
    assert main(["capacity", str(sc), "--slo", "get.p99<5ms", "--agents", "2"]) == 2
    assert "--agents and --listen need --dask" in capsys.readouterr().err


def test_ratio_against_a_floor_is_a_bound(tmp_path):
    a = write(tmp_path, "a", capacity(4000, "max_rate"))
    b = write(tmp_path, "b", capacity(375))
    text, _ = compare_capacity([a, b])
    assert "B sustains at most 0.09x A" in text
    text, _ = compare_capacity([b, a])
    assert "B sustains at least 10.67x A" in text
    c = write(tmp_path, "c", capacity(4000, "max_rate"))
    assert "both capacities are floors" in compare_capacity([a, c])[0]


def test_multi_target_capacity_run_writes_a_comparison(tmp_path, monkeypatch):
    """Several targets: one search each in its own folder, and the comparison beside them."""
    import io

    from pegload.capacity import run as caprun
    from pegload.scenario import load_scenario

    sc = tmp_path / "s.yaml"
    sc.write_text("targets:\n  - {name: p4, onebox: {partitions: 4}}\n  - {name: p8, onebox: {partitions: 8}}\n"
                  "phases:\n  - name: run\n    duration: 5s\n    mix: {get: 1}\n")
    scenario = load_scenario(sc)
    seen = []

    def fake_search(self, opts):
        seen.append((self.scenario.targets[0].name, self.base))
        self.base.mkdir(parents=True)
        rate = 1000 if self.scenario.targets[0].name == "p4" else 1410
        (self.base / "summary.json").write_text(json.dumps(capacity(rate)))
        return 0

    monkeypatch.setattr(caprun.CapacityRun, "search", fake_search)
    out = io.StringIO()
    opts = caprun.SearchOptions(1000, 10_000, 1.0, 0.0, 0.05, 1)
    code = caprun.run_search(scenario, parse_slo("get.p99<5ms", ["get"]), opts, report_dir=tmp_path / "rep",
                             out=out, err=io.StringIO(), quiet=True)
    assert code == 0
    assert [name for name, _ in seen] == ["p4", "p8"] and seen[0][1] == tmp_path / "rep" / "p4"
    assert "B sustains 1.41x A" in out.getvalue()
    assert (tmp_path / "rep" / "comparison.html").is_file()


def test_live_progress_line_shows_step_bracket_and_slo_against_limit():
    import io
    from types import SimpleNamespace

    from pegload.capacity.progress import CapacityProgress, bracket_text

    kinds = {"response": SimpleNamespace(p50=800, p90=900, p99=6200, p999=7000, max=9000)}
    latest = SimpleNamespace(ops={"get": SimpleNamespace(count=3000, error_count=3, kinds=kinds)})
    acc = SimpleNamespace(latest=lambda: latest)
    p = CapacityProgress(io.StringIO(), terms=parse_slo("get.p99<5ms", ["get"]))
    assert p.slo_text(acc) == "get.p99 6.2 ms/5 ms OVER | errors 0.1%/1% ok"
    assert bracket_text(2000, 4000) == "[2,000..4,000)" and bracket_text(None, None) == "[none yet]"
