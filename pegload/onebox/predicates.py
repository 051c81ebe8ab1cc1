"""Sort-key / hash-key filters and the check types of check_and_set / check_and_mutate
(server-semantics doc 5.6 and 5.9 step 6)."""
from __future__ import annotations

from pegload.client.wire import RocksStatus

from .intparse import parse_int64

FT_NO_FILTER, FT_MATCH_ANYWHERE, FT_MATCH_PREFIX, FT_MATCH_POSTFIX = 0, 1, 2, 3

OK = int(RocksStatus.kOk)
INVALID_ARGUMENT = int(RocksStatus.kInvalidArgument)
TRY_AGAIN = int(RocksStatus.kTryAgain)


def valid_filter_type(ftype: int) -> bool:
    return 0 <= ftype <= 3


def filter_matches(ftype: int, pattern: bytes, data: bytes) -> bool:
    """An empty pattern matches everything, whatever the type; a shorter key never matches."""
    if ftype == FT_NO_FILTER or not pattern:
        return True
    if len(data) < len(pattern):
        return False
    if ftype == FT_MATCH_ANYWHERE:
        return pattern in data
    if ftype == FT_MATCH_PREFIX:
        return data.startswith(pattern)
    return data.endswith(pattern)  # FT_MATCH_POSTFIX (the type was validated by the caller)


def valid_check_type(ctype: int) -> bool:
    return 0 <= ctype <= 17


def evaluate_check(ctype: int, exists: bool, value: bytes, operand: bytes) -> int:
    """Body status of the check: 0 passes, 13 (kTryAgain) fails, 4 invalid argument.

    ``ctype`` must already be valid. Types 3..17 need a live record and fail (13, not 4) on a
    missing one, before any parsing; INT types parse the stored value first, then the operand.
    """
    if ctype == 0:  # CT_NO_CHECK
        return OK
    if ctype == 1:  # CT_VALUE_NOT_EXIST
        return TRY_AGAIN if exists else OK
    if ctype == 2:  # CT_VALUE_NOT_EXIST_OR_EMPTY
        return OK if not exists or not value else TRY_AGAIN
    if not exists:
        return TRY_AGAIN
    if ctype == 3:  # CT_VALUE_EXIST (an empty value is present)
        passed = True
    elif ctype == 4:  # CT_VALUE_NOT_EMPTY
        passed = bool(value)
    elif ctype <= 7:  # MATCH_ANYWHERE / PREFIX / POSTFIX: an empty operand always matches
        if not operand:
            passed = True
        elif ctype == 5:
            passed = operand in value
        elif ctype == 6:
            passed = value.startswith(operand)
        else:
            passed = value.endswith(operand)
    elif ctype <= 12:  # BYTES_LESS .. BYTES_GREATER: unsigned bytewise (memcmp) order
        passed = _compare(ctype - 8, value, operand)
    else:  # INT_LESS .. INT_GREATER
        v = parse_int64(value)
        if v is None:
            return INVALID_ARGUMENT
        o = parse_int64(operand)
        if o is None:
            return INVALID_ARGUMENT
        passed = _compare(ctype - 13, v, o)
    return OK if passed else TRY_AGAIN


def _compare(op: int, a, b) -> bool:
    # op: 0 <, 1 <=, 2 ==, 3 >=, 4 >
    if op == 0:
        return a < b
    if op == 1:
        return a <= b
    if op == 2:
        return a == b
    if op == 3:
        return a >= b
    return a > b
