"""The onebox as a process: the Python API's lifecycle, persistence with a data dir, the CLI in
the foreground, and clear errors."""
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_PUT, RPC_QUERY_CFG, encode_key, encode_request
from pegload.onebox import ConfigError, Onebox, OneboxError

pytestmark = pytest.mark.integration
KEY = encode_key(b"persist", b"s")
PIDX = wire.partition_index(wire.key_hash(KEY), 8)


def test_lifecycle_and_temporary_data_dir(raw_connect):
    ob = Onebox(meta_ports=(0,), replica_ports=(0, 0), tables={"temp": 4})
    with ob:
        assert ob.running and len(ob.meta_addrs) == 1 and len(ob.replica_addrs) == 2
        data_dir = ob.data_dir
        assert os.path.isdir(data_dir)
        r = raw_connect(ob.meta_addrs[0]).call(encode_request(RPC_QUERY_CFG, 1, wire.QueryCfgRequest("temp", [])))
        assert r.result.partition_count == 4
        pid = ob.pid
    assert not ob.running and ob.pid is None
    assert not os.path.exists(data_dir)  # removed by the child on a clean stop
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_data_dir_survives_restart(tmp_path, raw_connect):
    data = str(tmp_path / "box")
    with Onebox(data_dir=data) as ob:
        c = raw_connect(ob.partition_config()[PIDX]["primary"])
        d1 = c.call(encode_request(RPC_PUT, 1, wire.UpdateRequest(KEY, b"kept", 0), app_id=1,
                                   partition_index=PIDX)).result.decree
    with Onebox(data_dir=data, tables={"temp": 8, "more": 2}) as ob:
        assert ob.tables == {"temp": {"app_id": 1, "partition_count": 8}, "more": {"app_id": 2, "partition_count": 2}}
        c = raw_connect(ob.partition_config()[PIDX]["primary"])
        assert c.call(encode_request(RPC_GET, 2, KEY, app_id=1, partition_index=PIDX)).result.value == b"kept"
        d2 = c.call(encode_request(RPC_PUT, 3, wire.UpdateRequest(KEY, b"x", 0), app_id=1,
                                   partition_index=PIDX)).result.decree
        assert d2 > d1
    assert os.path.exists(os.path.join(data, "onebox.json"))
    with pytest.raises(OneboxError, match="exited with status 1"):
        Onebox(data_dir=data, tables={"temp": 16}, stderr=subprocess.DEVNULL).start()


def test_busy_port_is_a_clear_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = subprocess.run([sys.executable, "-m", "pegload.onebox", "--meta-ports", str(port),
                            "--replica-ports", "0"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
        with pytest.raises(OneboxError, match="before it was ready"):
            Onebox(meta_ports=(port,), stderr=subprocess.DEVNULL).start()
    finally:
        s.close()


def test_bad_settings_fail_in_the_caller():
    with pytest.raises(ConfigError, match="partition count 0"):
        Onebox(tables={"temp": 0})
    with pytest.raises(ConfigError, match="busy_fraction"):
        Onebox(busy_fraction=7)


def test_host_port_fields_on_request(raw_connect):
    with Onebox(meta_ports=(0,), replica_ports=(0,), send_host_port=True) as ob:
        r = raw_connect(ob.meta_addrs[0]).call(encode_request(RPC_QUERY_CFG, 1, wire.QueryCfgRequest("temp", [])))
        assert str(r.result.partitions[0].hp_primary) == ob.replica_addrs[0]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # a clean stop removes the temporary data dir
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_child_exits_when_its_parent_goes_away():
    proc = subprocess.Popen([sys.executable, "-m", "pegload.onebox", "--meta-ports", "0", "--replica-ports", "0",
                             "--ready-json", "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert b'"event": "ready"' in proc.stdout.readline()
        proc.stdin.close()  # what happens when the parent dies
        assert proc.wait(timeout=20) == 0
    finally:
        _stop(proc)


def test_cli_runs_in_the_foreground_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "pegload.onebox", "--meta-ports", "0,0",
                             "--replica-ports", "0", "--table", "temp:8", "--table", "t32:32",
                             "--delay-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.monotonic() + 30
        while b"  control token:" not in out:  # raw reads: select() and a buffered reader do not mix
            assert time.monotonic() < deadline, out
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                assert chunk, proc.stderr.read()
                out += chunk
        lines = out.decode().splitlines()
        text = out.decode()
        assert "pegload onebox is serving (Ctrl-C to stop)" in text
        assert "table t32: app_id 2, 32 partitions" in text and "meta servers:    127.0.0.1:" in text
        token_file = next(line for line in lines if "control token:" in line).split()[2]
        assert os.stat(token_file).st_mode & 0o777 == 0o600
        replica = next(line for line in lines if "replica servers" in line).split()[-1]
        host, port = replica.split(":")
        socket.create_connection((host, int(port)), timeout=5).close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        _stop(proc)
