"""What the onebox promises about durability (docs/onebox.md): with ``--data-dir``, every write
it acknowledged survives the process being killed with SIGKILL (RocksDB's write-ahead log is
written before the reply; it is not fsynced, so an OS crash or power loss may lose the last ones).
"""
import os
import signal
import struct

import pytest

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_PUT, encode_key, encode_request

pytestmark = pytest.mark.integration

HK = b"durable"
PIDX = wire.partition_index(wire.hash_key_hash(HK), 8)


def _put(i: int) -> bytes:
    key = encode_key(HK, b"s%06d" % i)
    return encode_request(RPC_PUT, i, wire.UpdateRequest(key, b"value-%06d" % i, 0), app_id=1,
                          partition_index=PIDX, partition_hash=wire.key_hash(key))


def test_acknowledged_writes_survive_kill_9(onebox_factory, raw_connect, tmp_path):
    data_dir = str(tmp_path / "box")
    ob = onebox_factory(tables={"temp": 8}, data_dir=data_dir)
    primary = ob.partition_config("temp")[PIDX]["primary"]
    c = raw_connect(primary, timeout=30)
    total = 6000
    c.send(b"".join(_put(i) for i in range(1, total + 1)))  # all pipelined at once
    acked = []
    while len(acked) < total // 2:  # kill while the rest are still being applied or answered
        r = wire.decode_response(c.recv_frame())
        assert r.error_name == "ERR_OK" and r.result.error == 0
        acked.append(r.seqid)
    os.kill(ob.pid, signal.SIGKILL)
    # replies already in our socket buffer were acknowledged too
    c.sock.settimeout(5)
    try:
        while True:
            r = wire.decode_response(c.recv_frame())
            acked.append(r.seqid)
    except (ConnectionError, OSError, struct.error):
        pass
    assert ob.stop() == -signal.SIGKILL  # reaped: it really died by SIGKILL, no clean shutdown

    again = onebox_factory(tables={"temp": 8}, data_dir=data_dir)
    reader = raw_connect(again.partition_config("temp")[PIDX]["primary"])
    lost = []
    for i in acked:
        key = encode_key(HK, b"s%06d" % i)
        r = reader.call(encode_request(RPC_GET, i, key, app_id=1, partition_index=PIDX))
        if (r.result.error, r.result.value) != (0, b"value-%06d" % i):
            lost.append(i)
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged writes lost, e.g. {lost[:5]}"
    assert len(acked) >= total // 2
