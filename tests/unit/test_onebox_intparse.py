"""C strtoll base-0 parsing over the whole value, as incr and the INT check types use it."""
import pytest

from pegload.onebox.intparse import INT64_MAX, INT64_MIN, parse_int64


@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"42", 42), (b"-42", -42), (b"+7", 7),
    (b"010", 8),  # leading 0 = octal
    (b"0x1f", 31), (b"0X1F", 31), (b"-0x10", -16),
    (b"  12", 12), (b"\t\n\v\f\r5", 5),  # leading C whitespace accepted
    (b"9223372036854775807", INT64_MAX), (b"-9223372036854775808", INT64_MIN),
    (b"0777", 511), (b"00", 0),
])
def test_accepted(text, value):
    assert parse_int64(text) == value


@pytest.mark.parametrize("text", [
    b"", b" ", b"+", b"-", b"12 ",  # trailing space is left over
    b"1a", b"08",  # 8 is not an octal digit
    b"0x", b"0xg",  # strtoll parses "0" and stops at "x"
    b"9223372036854775808", b"-9223372036854775809",  # ERANGE
    b"1_000", b"12\x003", b"1.5", b"abc", b"- 1",
])
def test_rejected(text):
    assert parse_int64(text) is None
