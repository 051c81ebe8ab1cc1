"""Filters (multi_get / scans) and the 18 check types of check_and_set / check_and_mutate."""
import pytest

from pegload.onebox.predicates import evaluate_check, filter_matches, valid_check_type, valid_filter_type

OK, INVALID, TRY_AGAIN = 0, 4, 13


@pytest.mark.parametrize("ftype, pattern, data, expected", [
    (0, b"zz", b"abc", True),
    (1, b"", b"abc", True), (2, b"", b"", True), (3, b"", b"x", True),  # empty pattern matches all
    (1, b"bc", b"abcd", True), (1, b"x", b"abcd", False),
    (2, b"ab", b"abcd", True), (2, b"bc", b"abcd", False),
    (3, b"cd", b"abcd", True), (3, b"bc", b"abcd", False),
    (2, b"abcde", b"abcd", False),  # shorter key never matches
])
def test_filters(ftype, pattern, data, expected):
    assert filter_matches(ftype, pattern, data) is expected


def test_valid_types():
    assert [valid_filter_type(t) for t in (-1, 0, 3, 4)] == [False, True, True, False]
    assert [valid_check_type(t) for t in (-1, 0, 17, 18)] == [False, True, True, False]


@pytest.mark.parametrize("ctype, exists, value, operand, expected", [
    (0, False, b"", b"", OK),
    (1, False, b"", b"", OK), (1, True, b"", b"", TRY_AGAIN),
    (2, False, b"", b"", OK), (2, True, b"", b"", OK), (2, True, b"v", b"", TRY_AGAIN),
    (3, True, b"", b"", OK), (3, False, b"", b"", TRY_AGAIN),
    (4, True, b"v", b"", OK), (4, True, b"", b"", TRY_AGAIN), (4, False, b"", b"", TRY_AGAIN),
    (5, True, b"hello", b"ell", OK), (5, True, b"hello", b"xyz", TRY_AGAIN),
    (5, True, b"hello", b"", OK), (5, False, b"", b"", TRY_AGAIN),  # empty operand needs a record
    (6, True, b"hello", b"he", OK), (6, True, b"hello", b"lo", TRY_AGAIN),
    (7, True, b"hello", b"lo", OK), (7, True, b"hello", b"he", TRY_AGAIN),
    (8, True, b"a", b"b", OK), (8, True, b"b", b"b", TRY_AGAIN),
    (9, True, b"b", b"b", OK), (9, True, b"c", b"b", TRY_AGAIN),
    (10, True, b"b", b"b", OK), (10, True, b"b", b"bb", TRY_AGAIN),
    (11, True, b"b", b"b", OK), (11, True, b"a", b"b", TRY_AGAIN),
    (12, True, b"\xff", b"\x01", OK),  # unsigned bytes
    (12, True, b"b", b"b", TRY_AGAIN),
    (13, True, b"9", b"10", OK),  # numeric, not bytewise
    (13, True, b"10", b"9", TRY_AGAIN),
    (14, True, b"010", b"8", OK),  # octal 010 == 8
    (15, True, b"0x10", b"16", OK), (15, True, b"1", b"2", TRY_AGAIN),
    (16, True, b"-1", b"-1", OK), (17, True, b"3", b"2", OK), (17, True, b"2", b"2", TRY_AGAIN),
    (13, False, b"", b"x", TRY_AGAIN),  # missing record fails before any parsing
    (13, True, b"", b"1", INVALID),  # empty stored value does not parse
    (13, True, b"x", b"1", INVALID), (13, True, b"1", b"", INVALID), (13, True, b"1", b"y", INVALID),
])
def test_checks(ctype, exists, value, operand, expected):
    assert evaluate_check(ctype, exists, value, operand) == expected
