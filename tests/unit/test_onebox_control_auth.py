"""The control channel's parser and token file, without sockets."""
import json
import os
import stat

import pytest

from pegload.onebox.control_server import Refused, parse_request
from pegload.onebox.control_token import new_token, read_token_file, write_token_file

TOKEN = "ab" * 32


def line(**msg):
    return json.dumps(msg).encode() + b"\n"


def test_a_well_formed_request():
    assert parse_request(line(op="set_faults", args={"delay_ms": 2}, token=TOKEN), TOKEN) == \
        ("set_faults", {"delay_ms": 2})
    assert parse_request(line(op="ping", token=TOKEN), TOKEN) == ("ping", {})


@pytest.mark.parametrize("raw, reply", [
    (b"POST / HTTP/1.1\r\n", False),
    (b"GET /metrics HTTP/1.1\n", False),
    (b"\x16\x03\x01\x02\x00\x01\n", False),  # a TLS hello
    (b'["op", "shutdown"]\n', False),
    (b'{"op": "shutdown"', False),  # no newline: over-long or cut
    (line(op="shutdown"), True),
    (line(op="shutdown", token=""), True),
    (line(op="shutdown", token="x" * 64), True),
    (line(op="shutdown", token=123), True),
    (line(op=["x"], token=TOKEN), True),
    (line(op="../x", token=TOKEN), True),
    (line(op="ping", args=[1], token=TOKEN), True),
])
def test_anything_else_is_refused(raw, reply):
    with pytest.raises(Refused) as e:
        parse_request(raw, TOKEN)
    assert (e.value.reply is not None) == reply
    if reply:
        assert e.value.reply["error"].startswith("refused:")


def test_token_file_is_owner_only(tmp_path):
    t = new_token()
    assert len(t) == 64 and t != new_token()
    path = write_token_file(str(tmp_path), t)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_token_file(path) == t
    os.chmod(path, 0o640)
    with pytest.raises(ValueError, match="accessible by other users"):
        read_token_file(path)
    os.chmod(path, 0o600)
    path2 = write_token_file(str(tmp_path), "cd" * 32)  # a restart replaces it
    assert path2 == path and read_token_file(path) == "cd" * 32
    assert sorted(os.listdir(tmp_path)) == ["control.token"]
