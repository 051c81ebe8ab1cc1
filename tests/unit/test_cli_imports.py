"""`pegload --help` and `pegload validate` import only what they use: the command list needs
no area module, and validating a scenario needs neither gevent, nor RocksDB, nor the report
writers (each costs tens of milliseconds of start-up, on every CI invocation)."""
import subprocess
import sys

_PROBE = ("import sys, pegload.cli as cli; "
          "sys.argv = ['pegload'] + sys.argv[1:]; "
          "code = 0\n"
          "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
          "heavy = ('gevent', 'rocksdict', 'pegload.report', 'pegload.coordinator', 'pegload.onebox', "
          "'pegload.runner', 'pegload.client.pegasus', 'pegload.scenario', 'yaml')\n"
          "print('IMPORTED=' + ','.join(sorted({"
          "m.split('.')[0] if not m.startswith('pegload') else '.'.join(m.split('.')[:2]) "
          "for m in sys.modules if m.startswith(heavy)})))")


def _imported(*argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("IMPORTED=")][-1]
    return set(filter(None, line[len("IMPORTED="):].split(",")))


def test_help_imports_no_area_module():
    assert _imported("--help") == set()


def test_validate_imports_the_scenario_package_but_nothing_heavy(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nphases:\n  - name: run\n    duration: 1s\n    mix: {get: 1}\n")
    loaded = _imported("validate", "-q", str(scenario))
    assert "pegload.scenario" in loaded
    assert not loaded & {"gevent", "rocksdict", "pegload.report", "pegload.coordinator", "pegload.onebox",
                         "pegload.runner", "pegload.client.pegasus"}
