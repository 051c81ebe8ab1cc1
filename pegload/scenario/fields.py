"""Field readers for validation: typed parsers with a description of what they expect, and
``Section``, which reads the keys of one YAML mapping, reports each problem with its location,
and reports unknown and duplicated keys.

A parser is a callable ``value -> converted`` raising ``ValueError(message)``; its ``expect``
attribute describes a valid value for "missing" messages. A field that fails to parse becomes
``INVALID`` so that cross-field checks can skip it instead of reporting follow-on errors.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .errors import Location, Path, Problems, suggest
from .units import describe, parse_duration, parse_size
from .yamlsource import LineDict, LineList


class _Invalid:
    """Marks a field whose value was reported as invalid."""

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Any = _Invalid()
_ABSENT: Any = object()


def ok(*values) -> bool:
    """True when none of ``values`` is INVALID (so a cross-field check is meaningful)."""
    return not any(v is INVALID for v in values)


def expects(expect: str):
    def wrap(fn: Callable[[Any], Any]):
        fn.expect = expect  # type: ignore[attr-defined]
        return fn

    return wrap


def _num(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _bound_message(value, lo, hi, lo_excl, hi_excl) -> str | None:
    if lo is not None and (value < lo or (lo_excl and value == lo)):
        if hi is not None:
            return _between(lo, hi, lo_excl, hi_excl, value)
        return f"must be {'>' if lo_excl else '>='} {_num(lo)}, got {_num(value)}"
    if hi is not None and (value > hi or (hi_excl and value == hi)):
        if lo is not None:
            return _between(lo, hi, lo_excl, hi_excl, value)
        return f"must be {'<' if hi_excl else '<='} {_num(hi)}, got {_num(value)}"
    return None


def _between(lo, hi, lo_excl, hi_excl, value) -> str:
    left = "(" if lo_excl else "["
    right = ")" if hi_excl else "]"
    return f"must be in {left}{_num(lo)}, {_num(hi)}{right}, got {_num(value)}"


def integer(lo: int | None = None, hi: int | None = None):
    expect = "an integer" + (f" >= {lo}" if lo is not None else "")

    @expects(expect)
    def parse(value):
        if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected {expect}, got {describe(value)}")
        msg = _bound_message(value, lo, hi, False, False)
        if msg:
            raise ValueError(msg)
        return value

    return parse


def number(lo: float | None = None, hi: float | None = None, lo_excl: bool = False, hi_excl: bool = False):
    expect = "a number" + (f" {'>' if lo_excl else '>='} {_num(lo)}" if lo is not None else "")

    @expects(expect)
    def parse(value):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"expected {expect}, got {describe(value)}")
        msg = _bound_message(value, lo, hi, lo_excl, hi_excl)
        if msg:
            raise ValueError(msg)
        return float(value)

    return parse


def duration(lo: float = 0.0, lo_excl: bool = False):
    expect = "a duration like 30s, 500ms or 2m"

    @expects(expect)
    def parse(value):
        seconds = parse_duration(value)
        if seconds < lo or (lo_excl and seconds == lo):
            raise ValueError(f"must be {'>' if lo_excl else '>='} {lo:g}s, got {value!r}")
        return seconds

    return parse


def size(lo: int = 0):
    expect = "a size in bytes like 100 or 4KiB"

    @expects(expect)
    def parse(value):
        nbytes = parse_size(value)
        if nbytes < lo:
            raise ValueError(f"must be >= {lo} bytes, got {value!r}")
        return nbytes

    return parse


@expects("true or false")
def boolean(value):
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


def string(nonempty: bool = True):
    expect = "a non-empty string" if nonempty else "a string"

    @expects(expect)
    def parse(value):
        if not isinstance(value, str) or (nonempty and not value):
            raise ValueError(f"expected {expect}, got {describe(value)}")
        return value

    return parse


def choice(options: Iterable[str]):
    options = tuple(options)
    expect = "one of " + ", ".join(options)

    @expects(expect)
    def parse(value):
        if not isinstance(value, str) or value not in options:
            hint = suggest(value, options) if isinstance(value, str) else ""
            raise ValueError(f"expected one of {', '.join(options)}, got {describe(value)}{hint}")
        return value

    return parse


class Section:
    """Reads the fields of one mapping at ``path``; every problem is reported to ``problems``.

    Call ``finish()`` after reading: keys that were never asked for are reported as unknown
    (with a "did you mean" hint), and keys given twice are reported too.
    """

    def __init__(self, problems: Problems, data: LineDict, path: Path):
        self.problems = problems
        self.data = data
        self.path = tuple(path)
        self.known: list[str] = []

    @property
    def line(self) -> Location:
        return self.data.line

    def has(self, key: str) -> bool:
        return key in self.data

    def value_loc(self, key: str) -> Location:
        return self.data.value_loc(key)

    def key_loc(self, key: str) -> Location:
        return self.data.key_loc(key)

    def error(self, key: str | None, message: str, at_key: bool = False) -> None:
        """Report a problem with field ``key`` (or the mapping itself when None)."""
        if key is None:
            self.problems.add(self.data.line, self.path, message)
        elif key not in self.data:
            self.problems.add(self.data.line, self.path + (key,), message)
        else:
            loc = self.data.key_loc(key) if at_key else self.data.value_loc(key)
            self.problems.add(loc, self.path + (key,), message)

    def raw(self, key: str, default=None):
        """The value as written (no parsing); marks the key as known."""
        self.known.append(key)
        return self.data.get(key, default)

    def get(self, key: str, parse, default=_ABSENT, required: bool = False):
        """Parse field ``key``. Missing: ``default`` (or a "missing" error when required).
        Invalid: the error is reported and INVALID returned."""
        self.known.append(key)
        if key not in self.data:
            if required:
                self.error(key, f"missing; expected {getattr(parse, 'expect', 'a value')}")
                return INVALID
            return None if default is _ABSENT else default
        try:
            return parse(self.data[key])
        except ValueError as exc:
            self.error(key, str(exc))
            return INVALID

    def mapping(self, key: str, required: bool = False, what: str = "a mapping") -> LineDict | None:
        """The sub-mapping at ``key`` (None if absent or not a mapping; the latter is reported)."""
        return self._container(key, LineDict, required, what)

    def sequence(self, key: str, required: bool = False, what: str = "a list") -> LineList | None:
        """The list at ``key`` (None if absent or not a list; the latter is reported)."""
        return self._container(key, LineList, required, what)

    def _container(self, key: str, kind: type, required: bool, what: str):
        self.known.append(key)
        if key not in self.data:
            if required:
                self.error(key, f"missing; expected {what}")
            return None
        value = self.data[key]
        if not isinstance(value, kind):
            self.error(key, f"expected {what}, got {describe(value)}")
            return None
        return value

    def sub(self, key: str, data: LineDict) -> Section:
        return Section(self.problems, data, self.path + (key,))

    def finish(self) -> None:
        for key in self.data:
            if key not in self.known:
                hint = suggest(key, self.known)
                allowed = ", ".join(sorted(set(self.known)))
                self.problems.add(
                    self.data.key_loc(key), self.path + (key,), f"unknown key{hint or f' (expected one of: {allowed})'}"
                )
        for key, line in self.data.duplicates:
            self.problems.add(line, self.path + (key,), "key given twice")
