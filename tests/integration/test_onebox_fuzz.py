"""Fuzzing the onebox's frame parser (issue 9): random bytes, and real valid requests with bytes
flipped, inserted, dropped or cut, or with length fields set to extreme values, sent to a replica
or a meta port. Whatever arrives, the onebox keeps answering a normal client on another
connection. Brief by design (a few hundred inputs); derandomized so CI runs are repeatable."""
import json
import socket
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pegload.client import wire
from pegload.client.wire import (
    RPC_BATCH_GET,
    RPC_CHECK_AND_MUTATE,
    RPC_CHECK_AND_SET,
    RPC_GET,
    RPC_INCR,
    RPC_MULTI_PUT,
    RPC_PUT,
    encode_key,
    encode_request,
    parse_address,
)

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).resolve().parents[1] / "data" / "pegasus-vectors.json"
HK = b"fuzz"
PIDX = wire.partition_index(wire.hash_key_hash(HK), 8)


def _seeds() -> list[bytes]:
    doc = json.loads(VECTORS.read_text())
    frames = [bytes.fromhex(v["frame_hex"]) for group in ("request_frames_v0", "request_frames_supplementary")
              for v in doc[group].values()]
    key = encode_key(HK, b"s")
    at = dict(app_id=1, partition_index=PIDX)
    frames += [
        encode_request(RPC_PUT, 1, wire.UpdateRequest(key, b"v" * 40, 0), version=1, **at),
        encode_request(RPC_MULTI_PUT, 2, wire.MultiPutRequest(HK, [wire.KeyValue(b"a", b"1"),
                                                                   wire.KeyValue(b"b", b"2")], 0), **at),
        encode_request(RPC_INCR, 3, wire.IncrRequest(key, 5, 0), **at),
        encode_request(RPC_CHECK_AND_SET, 4, wire.CheckAndSetRequest(
            hash_key=HK, check_sort_key=b"s", check_type=wire.CasCheckType.CT_NO_CHECK,
            check_operand=b"", set_diff_sort_key=False, set_sort_key=b"s", set_value=b"x",
            set_expire_ts_seconds=0, return_check_value=True), **at),
        encode_request(RPC_CHECK_AND_MUTATE, 5, wire.CheckAndMutateRequest(
            hash_key=HK, check_sort_key=b"s", check_type=wire.CasCheckType.CT_VALUE_EXIST,
            check_operand=b"", mutate_list=[wire.Mutate(wire.MutateOperation.MO_PUT, b"m", b"v", 0)],
            return_check_value=False), **at),
        encode_request(RPC_BATCH_GET, 6, wire.BatchGetRequest([wire.FullKey(HK, b"s"),
                                                              wire.FullKey(HK, b"t")]), **at),
    ]
    return frames


SEEDS = _seeds()


@st.composite
def fuzzed_input(draw) -> bytes:
    kind = draw(st.sampled_from(["random", "mutate", "mutate", "lengths", "concat"]))
    if kind == "random":
        head = draw(st.sampled_from([b"", b"THFT", b"THFT\x00\x00\x00\x00", b"THFT\x00\x00\x00\x01"]))
        return head + draw(st.binary(max_size=300))
    frame = bytearray(draw(st.sampled_from(SEEDS)))
    if kind == "concat":  # a valid frame, then a mutated copy of another
        other = bytearray(draw(st.sampled_from(SEEDS)))
        i = draw(st.integers(0, len(other) - 1))
        other[i] = draw(st.integers(0, 255))
        return bytes(frame + other)
    if kind == "lengths":  # header length fields (v0: 8, 16; v1: 8, 12) and any i32 in the body
        spots = [8, 12, 16] + [draw(st.integers(20, max(20, len(frame) - 4)))]
        for pos in draw(st.lists(st.sampled_from(spots), min_size=1, max_size=3)):
            value = draw(st.sampled_from([0, 1, 47, 48, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                          len(frame), len(frame) + 1, 5 << 20]))
            if pos + 4 <= len(frame):
                struct.pack_into(">I", frame, pos, value)
        return bytes(frame)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        i = draw(st.integers(0, max(0, len(frame) - 1)))
        if op == "flip" and frame:
            frame[i] = draw(st.integers(0, 255))
        elif op == "insert":
            frame[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del frame[i:i + draw(st.integers(1, 8))]
        else:
            del frame[i:]
    return bytes(frame)


def _send_and_drain(addr: str, data: bytes) -> None:
    """Send ``data``, end our side, read until the onebox closes: by then it is done with it."""
    s = socket.create_connection(parse_address(addr), timeout=15)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass  # the onebox cut a malformed stream while we were still writing
    finally:
        s.close()


@pytest.fixture(scope="module")
def fuzz_box():
    from pegload.onebox import Onebox

    with Onebox(tables={"temp": 8}, frame_timeout_s=5.0) as ob:
        yield ob


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=fuzzed_input(), port=st.sampled_from(["replica", "meta"]))
def test_fuzzed_frames_never_stop_the_onebox(fuzz_box, raw_connect, data, port):
    addr = fuzz_box.replica_addrs[0] if port == "replica" else fuzz_box.meta_addrs[0]
    _send_and_drain(addr, data)
    key = encode_key(b"fuzz-probe", b"s")
    pidx = wire.partition_index(wire.key_hash(key), 8)
    probe = getattr(fuzz_box, "_fuzz_probe", None)
    if probe is None:  # one connection for every example: the onebox never cuts it
        probe = fuzz_box._fuzz_probe = raw_connect(fuzz_box.partition_config("temp")[pidx]["primary"])
    r = probe.call(encode_request(RPC_GET, 1, key, app_id=1, partition_index=pidx))
    assert r.error_name == "ERR_OK" and r.result.error in (0, 1)


def test_onebox_still_serves_after_fuzzing(fuzz_box):
    from pegload.client import Pegasus

    c = Pegasus(fuzz_box.meta_addrs, "temp")
    try:
        assert c.init()
        assert c.set("after-fuzz", "s", "v")[0] == 0
        assert c.get("after-fuzz", "s") == (0, b"v")
    finally:
        c.close()
    assert fuzz_box.running
