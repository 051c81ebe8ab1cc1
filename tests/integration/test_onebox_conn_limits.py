"""Per-connection bounds of the onebox listeners (issue 9): a frame over the cap is refused when
its header arrives, a frame that stalls is cut after the frame timeout, incomplete frames of all
connections together are capped, idle connections can be timed out, and a big slow-to-decode
frame does not hold up other connections."""
import struct
import threading
import time

import pytest

from pegload.client import wire
from pegload.client.wire import RPC_GET, RPC_MULTI_PUT, encode_key, encode_request

pytestmark = pytest.mark.integration


def _get(hk=b"limits", seqid=1):
    key = encode_key(hk, b"s")
    return encode_request(RPC_GET, seqid, key, app_id=1,
                          partition_index=wire.partition_index(wire.key_hash(key), 8))


def _primary(ob, frame):
    pidx = struct.unpack_from(">I", frame, 28)[0]  # v0 header: partition index
    return ob.partition_config("temp")[pidx]["primary"]


def _header_claiming(total):
    """A v0 request header announcing a frame of ``total`` bytes."""
    return b"THFT" + struct.pack(">IIIII", 0, 48, 0, total - 48, 0) + b"\x00" * 28


def test_frame_over_the_default_cap_is_refused_at_its_header(onebox, raw_connect):
    from pegload.onebox.conn_limits import DEFAULT_MAX_FRAME_BYTES

    addr = onebox.replica_addrs[0]
    bad = raw_connect(addr)
    bad.send(_header_claiming(DEFAULT_MAX_FRAME_BYTES + 1) + b"\x00" * 1000)
    assert bad.closed_by_peer()  # without waiting for the 4 MiB body
    ok = raw_connect(_primary(onebox, _get()))
    assert ok.call(_get()).error_name == "ERR_OK"


def test_configured_frame_cap(onebox_factory, raw_connect):
    ob = onebox_factory(tables={"temp": 8}, max_frame_bytes=100_000)
    hk = b"capped"
    put = encode_request(wire.RPC_PUT, 1, wire.UpdateRequest(encode_key(hk, b"s"), b"x" * 99_000, 0),
                         app_id=1, partition_index=wire.partition_index(wire.hash_key_hash(hk), 8))
    addr = _primary(ob, put)
    assert raw_connect(addr).call(put).result.error == 0
    c = raw_connect(addr)
    c.send(_header_claiming(101_000))
    assert c.closed_by_peer()
    assert ob.counters()["bad_frames"] >= 1


def test_stalled_frame_is_cut_after_the_frame_timeout(onebox_factory, raw_connect):
    ob = onebox_factory(tables={"temp": 8}, frame_timeout_s=0.5)
    frame = _get()
    addr = _primary(ob, frame)
    slow = raw_connect(addr)
    slow.send(frame[:30])  # a frame begun and never finished (a slowloris client)
    t0 = time.monotonic()
    assert slow.closed_by_peer(timeout=10)
    assert time.monotonic() - t0 >= 0.3  # cut by the timeout, not at once
    fine = raw_connect(addr)
    fine.send(frame[:30])
    fine.send(frame[30:])  # completes in time: answered, and the connection stays usable later
    assert wire.decode_response(fine.recv_frame()).error_name == "ERR_OK"
    assert not fine.closed_by_peer(timeout=0.8)  # idle (no frame begun) is not a stall
    assert fine.call(frame).error_name == "ERR_OK"


def test_idle_timeout_when_asked(onebox_factory, raw_connect):
    ob = onebox_factory(tables={"temp": 8}, idle_timeout_s=0.4)
    frame = _get()
    c = raw_connect(_primary(ob, frame))
    assert c.call(frame).error_name == "ERR_OK"
    assert c.closed_by_peer(timeout=10)


def test_incomplete_frames_of_all_connections_are_capped(onebox_factory, raw_connect):
    mib = 1 << 20
    ob = onebox_factory(tables={"temp": 8}, max_frame_bytes=mib, max_buffered_bytes=2 * mib)
    addr = ob.replica_addrs[0]
    part = _header_claiming(mib) + b"\x00" * (900 * 1024)
    first, second, third = raw_connect(addr), raw_connect(addr), raw_connect(addr)
    first.send(part)
    second.send(part)
    assert not first.closed_by_peer(timeout=0.5) and not second.closed_by_peer(timeout=0.5)
    third.send(part)  # 3 x 900 KiB > 2 MiB
    assert third.closed_by_peer()
    first.close()  # its bytes are given back: a new connection may hold as much again
    fourth = raw_connect(addr)
    fourth.send(part)
    assert not fourth.closed_by_peer(timeout=0.5)
    frame = _get()
    assert raw_connect(_primary(ob, frame)).call(frame).error_name == "ERR_OK"


def test_a_big_frame_being_decoded_does_not_hold_up_other_connections(onebox_factory, raw_connect):
    """A 3.9 MiB multi_put of empty values takes ~0.5 s to decode in Python (then it is refused,
    being over 1 MiB). Gets on another connection keep being answered meanwhile: the slowest of
    them waits far less than the big frame takes (inline decoding made one wait all of it)."""
    ob = onebox_factory(replica_ports=(0,), tables={"temp": 8})
    addr = ob.replica_addrs[0]
    hk = b"bigframe"
    n = 3_900_000 // 22
    big = encode_request(RPC_MULTI_PUT, 7, wire.MultiPutRequest(hk, [wire.KeyValue(b"%07d" % i, b"")
                                                                     for i in range(n)], 0),
                         app_id=1, partition_index=wire.partition_index(wire.hash_key_hash(hk), 8))
    getter = raw_connect(addr)
    get = _get()
    assert getter.call(get).error_name == "ERR_OK"
    done = threading.Event()
    waits = []

    def gets():
        while not done.is_set():
            t = time.perf_counter()
            assert getter.call(get).error_name == "ERR_OK"
            waits.append(time.perf_counter() - t)

    th = threading.Thread(target=gets)
    th.start()
    c = raw_connect(addr, timeout=30)
    t0 = time.perf_counter()
    c.send(big)
    r = wire.decode_response(c.recv_frame())
    took = time.perf_counter() - t0
    done.set()
    th.join(30)
    assert r.error_name == "ERR_INVALID_DATA"
    assert len(waits) >= 5
    assert max(waits) < took / 2, f"a get waited {max(waits) * 1e3:.0f} ms of the {took * 1e3:.0f} ms decode"
