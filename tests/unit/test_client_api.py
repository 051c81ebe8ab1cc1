"""The facade's surface without a server: exports, options, argument checks, logging setup and
scanner range construction (no sockets)."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from pegload.client import MultiGetOptions, Pegasus, ScanOptions, error_types, filter_type
from pegload.client.args import to_bytes
from pegload.client.logconf import configure_logging
from pegload.client.scanner import Scanner, ScanSpec
from pegload.client.table import Table
from pegload.client.wire import encode_key, hash_key_upper_bound


def test_importing_the_codec_does_not_load_the_client_or_gevent():
    code = ("import sys, pegload.client.wire; "
            "print(any(m == 'gevent' or m.startswith('pegload.client.pegasus') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_scanner_and_the_call_path_do_not_import_the_table():
    # the request path lives in callpath.py; only table.py (and the facade) sit above it
    code = ("import sys, pegload.client.scanner, pegload.client.callpath; "
            "print(sorted(m for m in sys.modules if m in ('pegload.client.table', 'pegload.client.pegasus')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_client_creates_no_files(tmp_path):
    code = "import pegload.client as c; c.Pegasus(['127.0.0.1:1'], 't'); c.configure_logging"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []


def test_seed_option_defaults():
    o = MultiGetOptions()
    assert (o.start_inclusive, o.stop_inclusive, o.sortkey_filter_type, o.sortkey_filter_pattern,
            o.no_value, o.reverse) == (True, False, filter_type.FT_NO_FILTER, "", False, False)
    s = ScanOptions()
    assert (s.timeout_millis, s.batch_size, s.start_inclusive, s.stop_inclusive, s.snapshot) == \
        (5000, 1000, True, False, None)
    assert filter_type.FT_MATCH_ANYWHERE == 1 and filter_type.FT_MATCH_PREFIX == 2
    assert filter_type.FT_MATCH_POSTFIX == 3
    assert ScanOptions(batch_size=5) != ScanOptions() and ScanOptions() == ScanOptions()
    assert "batch_size=5" in repr(ScanOptions(batch_size=5))


def test_scan_options_snapshot_is_immutable_and_converts_text():
    o = ScanOptions(sort_key_filter_type=filter_type.FT_MATCH_PREFIX, sort_key_filter_pattern="p")
    spec = o.to_spec()
    o.batch_size = 1
    assert spec == ScanSpec(sort_key_filter_type=2, sort_key_filter_pattern=b"p")
    with pytest.raises(Exception):
        spec.batch_size = 3


def test_constructor_validates_without_io():
    with pytest.raises(ValueError, match="'host:port'"):
        Pegasus(["localhost"], "temp")
    with pytest.raises(ValueError, match="non-empty list"):
        Pegasus([], "temp")
    with pytest.raises(ValueError, match="table_name"):
        Pegasus(["127.0.0.1:1"], "")
    with pytest.raises(ValueError, match="timeout_ms must be positive"):
        Pegasus(["127.0.0.1:1"], "temp", timeout=0)


def test_calls_before_init_return_invalid_state():
    c = Pegasus(["127.0.0.1:1"], "temp")
    assert c.get("h", "s") == (error_types.ERR_INVALID_STATE.value, None)
    assert c.set("h", "s", "v") == (error_types.ERR_INVALID_STATE.value, None)


def test_keys_accept_bytes_and_utf8_text_only():
    assert to_bytes("中文", "k") == "中文".encode() and to_bytes(b"\xff", "k") == b"\xff"
    assert to_bytes(bytearray(b"ab"), "k") == b"ab"
    with pytest.raises(TypeError, match="hash_key must be bytes or str, not int"):
        to_bytes(5, "hash_key")
    t = Table(["127.0.0.1:1"], "temp")
    with pytest.raises(ValueError, match="hash_key must not be empty"):
        t.multi_get("", None)
    with pytest.raises(TypeError, match="iterable of keys"):
        t.multi_del("h", "abc")
    with pytest.raises(ValueError, match="at most 65534"):
        t.sort_key_count(b"x" * 65535)
    with pytest.raises(ValueError, match="ttl must be >= 0"):
        t.set("h", "s", "v", ttl_seconds=-5)


class FirstRequest(Exception):
    pass


class RecordingPath:
    """Stands in for the table's CallPath: records the first request a scanner sends, then stops it."""

    def __init__(self) -> None:
        self.requests = []

    def call(self, encode, req, *args, **kw):
        self.requests.append(req)
        raise FirstRequest


def _scanner(start, stop, **spec):
    return Scanner.for_hash_key(RecordingPath(), b"hk", start, stop, ScanSpec(**spec))


def _range(start, stop, **spec):
    path = RecordingPath()
    s = Scanner.for_hash_key(path, b"hk", start, stop, ScanSpec(**spec))
    try:
        item = s.get_next()
    except FirstRequest:
        r = path.requests[0]
        return r.start_key, r.start_inclusive, r.stop_key, r.stop_inclusive
    assert item is None and path.requests == [] and list(s) == []
    return None  # nothing sent: an empty range


def test_scanner_range_construction():
    assert _range(b"a", b"") == (encode_key(b"hk", b"a"), True, hash_key_upper_bound(b"hk"), False)
    assert _range(b"a", b"c", stop_inclusive=True)[2:] == (encode_key(b"hk", b"c"), True)
    # prefix filters narrow the range to [prefix, next(prefix))
    r = _range(b"", b"", sort_key_filter_type=2, sort_key_filter_pattern=b"k1")
    assert (r[0], r[2], r[3]) == (encode_key(b"hk", b"k1"), encode_key(b"hk", b"k2"), False)


@pytest.mark.parametrize("start, stop, si, ei", [
    (b"b", b"a", True, True), (b"a", b"a", True, False), (b"a", b"a", False, True),
])
def test_empty_scanner_ranges_send_nothing(start, stop, si, ei):
    assert _range(start, stop, start_inclusive=si, stop_inclusive=ei) is None
    assert _range(b"a", b"a", start_inclusive=True, stop_inclusive=True) is not None


def test_hash_key_filters_are_refused_on_single_hash_key_scanners():
    with pytest.raises(ValueError, match="unordered scanners only"):
        _scanner(b"", b"", hash_key_filter_type=2, hash_key_filter_pattern=b"zz")


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    for h in root.handlers:
        if h not in saved[0]:
            h.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_configure_logging_default_and_logger_conf(tmp_path, monkeypatch, restore_logging):
    monkeypatch.chdir(tmp_path)
    assert configure_logging() == "default"
    logging.getLogger("pgclient.test").info("hello from the test")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "hello from the test" in (tmp_path / "pegasus.log").read_text()
    (tmp_path / "logger.conf").write_text(
        "[loggers]\nkeys=root\n[logger_root]\nlevel=WARNING\nhandlers=h\n[handlers]\nkeys=h\n"
        "[handler_h]\nclass=FileHandler\nformatter=f\nargs=('custom.log', 'a')\n"
        "[formatters]\nkeys=f\n[formatter_f]\nformat=%(name)s %(message)s\n")
    assert configure_logging() == "logger.conf"
    logging.getLogger("pgclient.test").warning("custom")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "pgclient.test custom" in (tmp_path / "custom.log").read_text()
    with pytest.raises(FileNotFoundError, match="missing.conf"):
        configure_logging("missing.conf")


def test_every_exported_name_resolves():
    import pegload.client as client

    for name in client.__all__:
        assert getattr(client, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = client.Nope  # the access itself must raise
    assert client.PegasusScanner is client.Scanner
