"""Scenario errors: every problem names the file, the line (or the CLI flag), the field path and
what was expected, e.g. ``readheavy.yaml:14 phases[1].mix.get.weight: must be > 0, got 0``.

Validation collects *all* problems of a file before raising, so a user fixes them in one go.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

# Where a value came from: a 1-based line of the scenario file, or the CLI flag that overrode it.
Location = int | str
# A field path as a tuple: ("phases", 1, "mix", "get", "weight")
Path = tuple


class ScenarioError(Exception):
    """A scenario file (or its overrides) is invalid. ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        count = len(self.errors)
        head = f"{count} problem{'s' if count != 1 else ''} in scenario:"
        super().__init__("\n".join([head] + ["  " + e for e in self.errors]))


# More problems than this in one file are summarised: a generated or hostile file could
# otherwise produce one line per node.
MAX_REPORTED = 100


def excerpt(text: str, limit: int = 80) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was when cut: messages
    quote what the user wrote, never a megabyte of it."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def format_path(path: Path) -> str:
    """("phases", 1, "mix", "get", "weight") -> "phases[1].mix.get.weight"; () -> "<root>"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + excerpt(str(part), 40)
    return out or "<root>"


def format_error(file: str, loc: Location, path: Path, message: str) -> str:
    where = f"{file}:{loc}" if isinstance(loc, int) else f"{file} ({loc})"
    return f"{where} {format_path(path)}: {message}"


def suggest(word: str, candidates: Iterable[str]) -> str:
    """"; did you mean 'x'?" when a candidate is close to ``word``, else ""."""
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Problems:
    """Collects the errors of one scenario file; they are reported in file order (line), then
    the ones caused by command-line overrides."""

    def __init__(self, file: str):
        self.file = file
        self._found: list[tuple[tuple, str]] = []

    @property
    def errors(self) -> list[str]:
        found = [text for _, text in sorted(self._found, key=lambda item: item[0])]
        if len(found) > MAX_REPORTED:
            more = len(found) - MAX_REPORTED
            found = found[:MAX_REPORTED] + [f"{self.file}: ... and {more:,} more problem{'s' if more != 1 else ''}"]
        return found

    def add(self, loc: Location, path: Path, message: str) -> None:
        order = (0, loc) if isinstance(loc, int) else (1, 0)
        self._found.append(((order, len(self._found)), format_error(self.file, loc, path, message)))

    def raise_if_any(self) -> None:
        if self._found:
            raise ScenarioError(self.errors)
