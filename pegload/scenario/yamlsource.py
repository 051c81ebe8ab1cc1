"""YAML loading that keeps line numbers.

``load_yaml(text, file)`` returns plain Python data whose mappings are ``LineDict`` and whose
sequences are ``LineList``: ordinary dict/list subclasses that also remember the 1-based line of
every key and value. Validation reads the lines from the container that holds a value, so a
message can point at ``readheavy.yaml:14`` without a parallel tree of nodes. Duplicate keys
(silently merged by PyYAML) are recorded so that validation can report them.

Overrides from the command line replace values in these containers and mark them with the flag
name (``origin``) instead of a line; messages then say ``(--rate)`` instead of ``:14``.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import ScalarNode

from .errors import Location, ScenarioError, format_error


class LineDict(dict):
    """A mapping from YAML with the location of its keys and values."""

    __slots__ = ("line", "key_locs", "value_locs", "raw", "duplicates")

    def __init__(self, *args, line: Location = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.line: Location = line
        self.key_locs: dict = {}
        self.value_locs: dict = {}
        self.raw: dict = {}  # key -> the scalar's source text (labels keep `on` as "on")
        self.duplicates: list = []  # (key, line) of keys given twice

    def key_loc(self, key) -> Location:
        return self.key_locs.get(key, self.line)

    def value_loc(self, key) -> Location:
        return self.value_locs.get(key, self.line)

    def put(self, key, value, origin: Location) -> None:
        """Set ``key`` as an override from ``origin`` (a CLI flag name)."""
        self[key] = value
        self.key_locs[key] = origin
        self.value_locs[key] = origin
        self.raw.pop(key, None)


class LineList(list):
    """A sequence from YAML with the location of each item."""

    __slots__ = ("line", "item_locs")

    def __init__(self, *args, line: Location = 1):
        super().__init__(*args)
        self.line: Location = line
        self.item_locs: list = []

    def item_loc(self, index: int) -> Location:
        return self.item_locs[index] if index < len(self.item_locs) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader whose maps and sequences remember where they came from."""


def _construct_map(loader: _Loader, node):
    data = LineDict(line=node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(
                None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark
            ) from None
        key_line = key_node.start_mark.line + 1
        if key in data:
            data.duplicates.append((key, key_line))
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_locs[key] = key_line
        data.value_locs[key] = value_node.start_mark.line + 1
        if isinstance(value_node, ScalarNode):
            data.raw[key] = value_node.value


def _construct_seq(loader: _Loader, node):
    data = LineList(line=node.start_mark.line + 1)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_locs.append(item.start_mark.line + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document; syntax errors become a ScenarioError naming file and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError([format_error(file, line, (), f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([format_error(file, 1, (), f"YAML error: {exc}")]) from None
