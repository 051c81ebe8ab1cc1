"""Value sizes, payloads, and the checkable verification format."""
import collections
import random
import struct

import pytest

from pegload.scenario import ValueSize
from pegload.workload.values import (
    CORRECT,
    CORRUPT,
    HEADER_SIZE,
    MISSING,
    PayloadSource,
    ValueSizer,
    check_value,
    make_value,
)

HK, SK = b"hk00000042", b"sk00007"


def test_make_value_is_pure_and_sized():
    v = make_value(HK, SK, 3, 100)
    assert v == make_value(HK, SK, 3, 100) and len(v) == 100
    assert v[:4] == b"PLV1" and struct.unpack(">Q", v[4:12])[0] == 3 and struct.unpack(">I", v[12:16])[0] == 100
    assert make_value(HK, SK, 4, 100) != v and make_value(HK, b"sk00008", 3, 100) != v
    assert len(make_value(HK, SK, 1, HEADER_SIZE)) == HEADER_SIZE
    with pytest.raises(ValueError):
        make_value(HK, SK, 1, HEADER_SIZE - 1)


@pytest.mark.parametrize("size", [HEADER_SIZE, 21, 100, 4096, 100_003])
def test_check_value_accepts_its_values_and_reads_the_version(size):
    result = check_value(HK, SK, make_value(HK, SK, 12345678901, size))
    assert result.status == CORRECT and result.ok and result.version == 12345678901


def test_check_value_tells_corruption_apart():
    good = make_value(HK, SK, 5, 200)
    flipped = bytearray(good)
    flipped[150] ^= 0x01
    cases = {
        "damaged value bytes": bytes(flipped),
        "header says 200 bytes, read 199": good[:-1],
        "header says 200 bytes, read 201": good + b"x",
        "checksum does not match this key": make_value(HK, b"sk00008", 5, 200),  # another key's value
        "no pegload header": b"hello world, not a pegload value",
    }
    for reason, value in cases.items():
        result = check_value(HK, SK, value)
        assert result.status == CORRUPT and reason in result.reason, (reason, result)
    bad_version = bytearray(good)
    bad_version[11] ^= 0x01  # version changed, checksum not
    assert check_value(HK, SK, bytes(bad_version)).status == CORRUPT
    assert check_value(HK, SK, b"").status == CORRUPT
    missing = check_value(HK, SK, None)
    assert missing.status == MISSING and missing.version is None


def test_value_sizer_distributions():
    r = random.Random(3).random
    assert {ValueSizer(ValueSize("fixed", (77,)), r).next() for _ in range(100)} == {77}
    uniform = [ValueSizer(ValueSize("uniform", (10, 13)), r).next() for _ in range(4000)]
    assert set(uniform) == {10, 11, 12, 13}
    assert all(800 < c < 1200 for c in collections.Counter(uniform).values())
    sizer = ValueSizer(ValueSize("weighted", (100, 1000, 5000), (7.0, 2.0, 1.0)), r)
    counts = collections.Counter(sizer.next() for _ in range(20_000))
    assert counts[100] / 20_000 == pytest.approx(0.7, abs=0.015)
    assert counts[1000] / 20_000 == pytest.approx(0.2, abs=0.015)
    assert counts[5000] / 20_000 == pytest.approx(0.1, abs=0.015)


def test_payload_source_is_seeded_and_sized():
    a, b = PayloadSource(500, seed=1), PayloadSource(500, seed=1)
    assert a.payload(500, 0.999) == b.payload(500, 0.999) and len(a.payload(500, 0.999)) == 500
    assert a.payload(100, 0.0) != a.payload(100, 0.5)
    assert PayloadSource(500, seed=2).payload(100, 0.0) != a.payload(100, 0.0)
    assert a.payload(0, 0.3) == b""
