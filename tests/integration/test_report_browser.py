"""report.html and the comparison page rendered in headless Chromium: the page's own script
must build the charts (SVG paths in the DOM) without a JavaScript error, offline."""
import re
import shutil
import subprocess

import pytest

from pegload.report import TargetFingerprint, write_comparison, write_report
from pegload.report.synthetic import SyntheticPhase, latency_samples, synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium; bin/test installs it when run as root)"),
]


def chromium(tmp_path, url, *mode):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *mode, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def series_paths(dom):
    return re.findall(r'<path class="series" d="M[^"]+"[^>]*data-series="([^"]+)"', dom)


def make_run(name="p8", partitions=8, shift=0, validity=None):
    phases = [
        SyntheticPhase("load", {"set": latency_samples(600, 700, seed=1)}, duration_s=2.0, kind="load"),
        SyntheticPhase("run", {
            "get": latency_samples(4000, 400, seed=2, shift_us=shift) + [(40_000, 900, 39_000, "ERR_TIMEOUT")] * 4,
            "multi_get": latency_samples(800, 1500, sigma=0.6, seed=3, shift_us=shift),
        }, duration_s=4.0, mode="open", target_rate=1200),
    ]
    target = TargetFingerprint(kind="onebox", meta=("127.0.0.1:34601",), table="temp", app_id=1,
                               partition_count=partitions, name=name, labels={"partitions": str(partitions)})
    return synthetic_run(phases, workers=2, target=target, validity=validity)


def assert_clean(dom):
    assert 'data-rendered="true"' in dom, "the page script did not finish"
    errors = re.search(r'<div id="js-errors">(.*?)</div>', dom, re.S)
    assert errors is not None and errors.group(1) == "", f"JavaScript errors: {errors and errors.group(1)}"


def assert_offline(html):
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "@import" not in html and "url(" not in html


def judged():
    """A verdict and self-check as the coordinator makes them: worker 1 saturated its CPU."""
    from pegload.coordinator.validity import PhaseCheck, judge_run

    def sample(cpu):
        return {"cpu": cpu, "wall_s": 1.0, "loop_lag_max_ms": 2.0, "loop_lag_mean_ms": 0.5, "gc_pause_total_ms": 0.1,
                "gc_pause_max_ms": 0.1, "gc_collections": 1, "retries": {"get": {"busy": 3}}, "reconnects": 1}
    return judge_run([PhaseCheck("run", open_loop=True, sent=4804, recorded=4804,
                                 samples={0: [sample(0.3)] * 4, 1: [sample(0.96)] * 4})])


def test_run_report_renders_its_charts(tmp_path):
    validity, self_check = judged()
    run = make_run(validity=validity)
    run.self_check = self_check
    paths = write_report(run, tmp_path / "report")
    html = paths.html.read_text()
    assert_offline(html)
    dom = chromium(tmp_path, paths.html.as_uri(), "--dump-dom")
    assert_clean(dom)
    names = series_paths(dom)
    # spectra: load/set, run/get, run/multi_get, 3 kinds each; throughput: 2 ops + all; p99: 2 ops
    # (the load phase has its own table and stays off the time axes, which it would scale)
    assert names.count("response") == 3 and names.count("service") == 3 and names.count("lateness") == 3
    assert names.count("all ops") == 1 and names.count("get") == 2 and names.count("multi_get") == 2
    assert len(names) == 9 + 3 + 2
    for caption in ("load / set: latency by percentile", "run / get: latency by percentile",
                    "run / multi_get: latency by percentile", "throughput", "p99 response time per interval"):
        assert f"<figcaption>{caption}</figcaption>" in dom
    assert "NOT VALID: the client, not the server, limited this run." in dom
    assert re.search(r"<td>client CPU</td><td>run</td><td>96% of a core \(limit 90%\)</td>", dom)
    assert re.search(r"<td>run</td><td>get</td><td>ERR_TIMEOUT</td><td class=\"num\">4</td>", dom)
    assert re.search(r'text-anchor="(middle|end)"[^>]*>99\.9%</text>', dom)  # the percentile axis, inside the chart
    assert 'id="retries"' in dom and "reconnections" in dom
    assert "<h3>Phase run</h3>" in dom and "loop lag max" in dom  # the self-check as tables, not JSON
    assert '"rate": 1200' in dom  # the scenario, pretty-printed


def test_run_report_screenshot(tmp_path):
    paths = write_report(make_run(), tmp_path / "report")
    shot = tmp_path / "report.png"
    chromium(tmp_path, paths.html.as_uri(), f"--screenshot={shot}", "--window-size=1300,2400")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page is a few KB


def test_comparison_page_overlays_runs(tmp_path):
    runs = [make_run("p8", 8), make_run("p32", 32, shift=3000)]
    paths = write_comparison([write_report(r, tmp_path / r.target.name) for r in runs], tmp_path / "cmp")
    html = paths.html.read_text()
    assert_offline(html)
    dom = chromium(tmp_path, paths.html.as_uri(), "--dump-dom")
    assert_clean(dom)
    names = series_paths(dom)
    # per measured op (get, multi_get; set ran only in the load phase): spectrum, throughput and
    # p99 charts, each with one line per run
    assert names.count("p8") == names.count("p32") == 6 and len(names) == 12
    assert "Comparable: same scenario and load shape." in dom
    assert "<figcaption>get: response time by percentile</figcaption>" in dom
    assert re.search(r'<tr class="regression"><td>get</td><td>p99</td><td>response</td>', dom)
