"""Integer parsing exactly as the server's ``buf2int64``: C ``strtoll`` with base 0 over the whole
value (server-semantics doc 5.5).

Accepted: optional leading whitespace, optional sign, then ``0x``/``0X`` + hex digits, or a leading
``0`` + octal digits (``"010"`` is 8), or decimal digits; nothing may follow; the result must fit
in a signed 64-bit integer. Incr and the INT check types of check_and_set/check_and_mutate use it.
"""
from __future__ import annotations

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_SPACE = b" \t\n\v\f\r"  # C isspace() in the "C" locale
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OCT = frozenset(b"01234567")
_DEC = frozenset(b"0123456789")


def parse_int64(data: bytes) -> int | None:
    """The parsed value, or None when strtoll would stop early, find no digits or overflow."""
    n = len(data)
    i = 0
    while i < n and data[i] in _SPACE:
        i += 1
    neg = False
    if i < n and data[i] in b"+-":
        neg = data[i] == 0x2D
        i += 1
    if data[i : i + 2] in (b"0x", b"0X") and i + 2 < n and data[i + 2] in _HEX:
        digits, base = data[i + 2 :], 16
        allowed = _HEX
    elif i < n and data[i] == 0x30:
        digits, base = data[i:], 8
        allowed = _OCT
    else:
        digits, base = data[i:], 10
        allowed = _DEC
    if not digits or any(c not in allowed for c in digits):
        return None  # no digits, or something left over after them
    value = int(digits, base)
    if neg:
        value = -value
    if value < INT64_MIN or value > INT64_MAX:
        return None  # ERANGE
    return value
