"""The run page's server view and events in headless Chromium: event markers on every time plot,
the per-replica-server rate chart, the client/server table and its warning, no JavaScript error."""
import importlib.util
import re
from pathlib import Path

import pytest

from pegload.report import write_report

# the browser helpers and the synthetic run of test_report_browser.py (tests are not a package)
_spec = importlib.util.spec_from_file_location("report_browser_helpers",
                                               Path(__file__).with_name("test_report_browser.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
CHROMIUM, assert_clean, chromium, make_run, series_paths = (
    _helpers.CHROMIUM, _helpers.assert_clean, _helpers.chromium, _helpers.make_run, _helpers.series_paths)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]


def with_server_and_events(run):
    t0 = run.started_at
    run_phase = next(p for p in run.phases if p.name == "run")
    start = run_phase.start
    run.scenario = {**run.scenario, "phases": [{"name": "run"}]}
    run.events = [
        {"index": 0, "phase": "run", "at_s": 1.0, "kind": "onebox", "action": "stall", "label": "stall 1s",
         "planned_at": start + 1.0, "started_at": start + 1.0, "ended_at": start + 1.01, "outcome": "ok",
         "args": {"seconds": 1.0}},
        {"index": 1, "phase": "run", "at_s": 2.5, "kind": "exec", "action": "exec", "label": "exec: false",
         "planned_at": start + 2.5, "started_at": start + 2.5, "ended_at": start + 2.6, "outcome": "failed",
         "exit_code": 1, "output": "it failed\n", "command": "false", "timeout_s": 30.0},
    ]
    rows = [[round(start - t0 + k, 3), 1.0, {"get": 300 + 100 * k}] for k in range(4)]
    rows[2] = [rows[2][0], 1.0, None]  # a span with a failed read: a gap in the line
    run.server = {"captured": True, "interval_s": 1.0, "reads": 5, "errors": [
        {"server": "127.0.0.1:2", "error": "ConnectionRefusedError: [Errno 111] Connection refused", "reads": 1}],
        "replicas": [{"address": f"127.0.0.1:{i}", "requests": {"get": 900}, "by_phase": {"run": {"get": 900}},
                      "latency_us": {"get": {"p50": 8.0, "p90": 11.0, "p95": 12.0, "p99": 40.0, "p999": 90.0}},
                      "resets": int(i == 2), "timeseries": {"columns": ["start", "duration", "requests"], "rows": rows}}
                     for i in (1, 2)]}
    return run


def test_events_and_server_view_render(tmp_path):
    paths = write_report(with_server_and_events(make_run()), tmp_path / "report")
    dom = chromium(tmp_path, paths.html.as_uri(), "--dump-dom")
    assert_clean(dom)
    # both events on the throughput, p99 and server-rate charts
    assert dom.count('class="event"') == 6 and dom.count("⚡ stall 1s") == 3
    names = series_paths(dom)
    assert names.count("127.0.0.1:1") == 1 and names.count("127.0.0.1:2 (restarted)") == 1
    assert "<figcaption>requests per replica server (all ops; writes count per copy)</figcaption>" in dom
    # the servers counted 1,800 gets for the client's 4,004: a warning names it
    assert re.search(r"Server vs client: .*counted 1,800 get requests for the client's 4,004 get ops", dom)
    assert re.search(r"<td>run</td><td>get</td><td>get</td><td>once</td>", dom)
    assert re.search(r'<tr class="regression"><td>exec: false</td>.*?failed \(exit 1\)', dom)
    assert "ConnectionRefusedError" in dom and "it failed" in dom
