"""The coordinator must stay free of gevent and of the worker module: workers are separate,
monkeypatched interpreters, and a patched or half-patched coordinator would hang on pipes."""
import subprocess
import sys


def test_coordinator_imports_neither_gevent_nor_the_worker():
    code = ("import sys, pegload.cli, pegload.coordinator.cli, pegload.coordinator.run; "
            "pegload.cli.build_parser(); "
            "bad = sorted(m for m in sys.modules if m == 'gevent' or m.startswith(('gevent.', "
            "'pegload.runner.worker', 'pegload.runner.phase', 'pegload.client.pegasus'))); "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
