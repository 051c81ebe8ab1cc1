"""The control channel obeys only its token holder: every request carries the random token from
an owner-only file; an HTTP request, a non-JSON line or a missing/wrong token closes the
connection and nothing runs (issue 9: a local web page could POST a JSON line and stop the
cluster)."""
import json
import os
import socket
import stat

import pytest

from pegload.client.wire import parse_address

pytestmark = pytest.mark.integration


def _exchange(addr: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, return everything the channel answers until it closes the connection."""
    s = socket.create_connection(parse_address(addr), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)  # a socket.timeout here means the channel kept it open
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def _token(ob) -> str:
    with open(ob.control_token_file) as f:
        return f.read().strip()


def test_token_file_is_owner_only_and_in_the_api(fault_onebox):
    ob = fault_onebox
    path = ob.control_token_file
    assert path and os.path.dirname(path) == ob.data_dir
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(_token(ob)) == 64
    assert ob.faults()["everywhere"]["delay_ms"] == 0.0  # the API reads the file by itself
    other = ob.control_client()
    try:
        assert other.call("ping") == "pong"
    finally:
        other.close()


def test_http_post_with_a_json_body_runs_nothing(fault_onebox):
    ob = fault_onebox
    body = json.dumps({"op": "set_faults", "args": {"delay_ms": 7}}).encode() + b"\n"
    post = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
    assert _exchange(ob.control_addr, post) == b""  # closed at the request line, no answer
    # even with the right token inside, the HTTP request line ends the connection first
    body = json.dumps({"op": "set_faults", "args": {"delay_ms": 7}, "token": _token(ob)}).encode() + b"\n"
    assert _exchange(ob.control_addr, b"POST / HTTP/1.1\r\n\r\n" + body) == b""
    assert ob.faults()["everywhere"]["delay_ms"] == 0.0
    assert ob.running


@pytest.mark.parametrize("line", [
    b"shutdown\n",
    b"\x00\xff\xfe garbage\n",
    b'["shutdown"]\n',
    b'{"op": "shutdown"\n',
])
def test_non_json_lines_close_the_connection(fault_onebox, line):
    ob = fault_onebox
    assert _exchange(ob.control_addr, line + b'{"op": "shutdown"}\n') == b""
    assert ob.cluster_info()["event"] == "ready" and ob.running


@pytest.mark.parametrize("token", [None, "", "0" * 64, 12345])
def test_missing_or_wrong_token_is_refused_and_closed(fault_onebox, token):
    ob = fault_onebox
    msg = {"op": "set_faults", "args": {"busy_fraction": 1.0}}
    if token is not None:
        msg["token"] = token
    # a second, well-formed request on the same connection must not run either
    data = (json.dumps(msg) + "\n" + json.dumps({"op": "shutdown", "token": _token(ob)}) + "\n").encode()
    reply = _exchange(ob.control_addr, data)
    lines = reply.splitlines()
    assert len(lines) == 1, reply
    answer = json.loads(lines[0])
    assert answer["ok"] is False and answer["error"].startswith("refused:"), answer
    assert ob.faults()["everywhere"]["busy_fraction"] == 0.0
    assert ob.running


def test_control_client_needs_the_right_token(fault_onebox, tmp_path):
    from pegload.onebox import ControlClient, ControlError

    ob = fault_onebox
    with pytest.raises(ControlError, match="token is required"):
        ControlClient(ob.control_addr)
    loose = tmp_path / "loose.token"
    loose.write_text(_token(ob))
    loose.chmod(0o644)
    with pytest.raises(ControlError, match="accessible by other users"):
        ControlClient(ob.control_addr, str(loose))
    wrong = ControlClient(ob.control_addr, token="f" * 64)
    with pytest.raises(ControlError, match="wrong control token"):
        wrong.call("set_faults", delay_ms=3)
    wrong.close()
    assert ob.faults()["everywhere"]["delay_ms"] == 0.0
    right = ControlClient(ob.control_addr, ob.control_token_file)
    try:
        assert right.call("set_faults", delay_ms=3)["everywhere"]["delay_ms"] == 3.0
        assert right.call("ping") == "pong"  # the connection stays open between requests
    finally:
        right.close()


def test_a_second_onebox_on_the_same_data_dir_leaves_the_token_alone(onebox_factory, tmp_path):
    from pegload.onebox import OneboxError

    data_dir = str(tmp_path / "box")
    first = onebox_factory(tables={"temp": 8}, data_dir=data_dir)
    token = _token(first)
    with pytest.raises(OneboxError):
        onebox_factory(tables={"temp": 8}, data_dir=data_dir, start_timeout=30)  # RocksDB lock
    assert _token(first) == token
    other = first.control_client()
    try:
        assert other.call("ping") == "pong"
    finally:
        other.close()
