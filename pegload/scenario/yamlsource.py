"""YAML loading that keeps line numbers.

``load_yaml(text, file)`` returns plain Python data whose mappings are ``LineDict`` and whose
sequences are ``LineList``: ordinary dict/list subclasses that also remember the 1-based line of
every key and value. Validation reads the lines from the container that holds a value, so a
message can point at ``readheavy.yaml:14`` without a parallel tree of nodes. Duplicate keys
(silently merged by PyYAML) are recorded so that validation can report them.

Overrides from the command line replace values in these containers and mark them with the flag
name (``origin``) instead of a line; messages then say ``(--rate)`` instead of ``:14``.

Limits (checked while the document is composed, before any Python object is built): at most
``MAX_NODES`` nodes *after* alias expansion (an alias counts as the whole subtree it names, so a
"billion laughs" document is refused at the alias that crosses the limit, in milliseconds), no
alias that refers to a node containing it, at most ``MAX_DEPTH`` levels of nesting. The file size
limit (``MAX_FILE_BYTES``) is checked by the caller before reading (``load.py``) and again here
for text handed over directly. Messages quote values through ``excerpt``, never in full.
"""
from __future__ import annotations

from typing import Any

import yaml
import yaml.reader
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import Location, ScenarioError, excerpt, format_error

# A scenario has a few hundred nodes and 7 levels at most; these leave ample room for big
# target lists or weighted size tables while bounding the work a hostile file can cause.
MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 32


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


class _LimitError(ComposerError):
    """A document over a loading limit; ``path`` is where composing had got to."""

    def __init__(self, message: str, mark, path: tuple):
        super().__init__(None, None, message, mark)
        self.path = path


class _Loader(yaml.SafeLoader):
    """SafeLoader whose maps and sequences remember where they came from, and which counts the
    nodes of the document as aliases expand them (see the module docstring)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0  # nodes so far, each alias counted as the size of what it names
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, once composed
        self._path: list = []  # field path of the node being composed (for messages)

    def compose_node(self, parent, index):
        if parent is not None and index is not None:  # a sequence item or a mapping value
            key = index.value if isinstance(index, ScalarNode) else index
            self._path.append(key if isinstance(key, (int, str)) else "?")
        try:
            return self._compose_counted(parent, index)
        finally:
            if parent is not None and index is not None:
                self._path.pop()

    def _compose_counted(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self._sizes.get(id(node))
                if size is None:
                    raise _LimitError(f"alias *{excerpt(event.anchor, 40)} refers to a node that contains it "
                                      "(a recursive structure)", event.start_mark, tuple(self._path))
                self._count(size, event.start_mark, alias=True)
            return super().compose_node(parent, index)
        if len(self._path) >= MAX_DEPTH:
            raise _LimitError(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark,
                              tuple(self._path))
        self._count(1, self.peek_event().start_mark, alias=False)
        before = self._nodes - 1
        node = super().compose_node(parent, index)
        self._sizes[id(node)] = self._nodes - before
        return node

    def _count(self, n: int, mark, alias: bool) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            what = (f"with this alias ({n:,} nodes) the document expands to" if alias
                    else "the document has")
            raise _LimitError(f"too many aliases/nodes: {what} more than {MAX_NODES:,} nodes, "
                              "the most a scenario may hold", mark, tuple(self._path))

    def construct_object(self, node, deep=False):
        # PyYAML's int/float/timestamp constructors raise plain exceptions on odd scalars (an
        # integer of more than 4300 digits: ValueError; `!!int ''`: IndexError; a bad
        # `!!timestamp`: AttributeError): give them the node's position like any YAML error
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
            raise ConstructorError(None, None, f"cannot read this value: {excerpt(str(exc), 80)}",
                                   node.start_mark) from None


def _construct_map(loader: _Loader, node):
    if not isinstance(node, MappingNode):  # `!!map` on a scalar or a list
        raise ConstructorError(None, None, f"!!map needs a mapping, got a {node.id}", node.start_mark)
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
    if not isinstance(node, SequenceNode):  # `!!seq` on a scalar or a mapping
        raise ConstructorError(None, None, f"!!seq needs a sequence, got a {node.id}", node.start_mark)
    data = LineList(line=node.start_mark.line + 1)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_locs.append(item.start_mark.line + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def too_big_message(size: int | None = None) -> str:
    """``size`` None: a file without a known size (a pipe) that went on past the limit."""
    what = f"is {size:,} bytes" if size is not None else "goes on"
    return f"the file {what}, more than the {MAX_FILE_BYTES:,} a scenario may have (nothing was parsed)"


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document within the limits above; any problem becomes a ScenarioError
    naming file and line."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise ScenarioError([format_error(file, 1, (), too_big_message(size))])
    loader = None
    try:
        loader = _Loader(text)  # reads (and checks) the characters already
        return loader.get_single_data()
    except _LimitError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 1
        raise ScenarioError([format_error(file, line, exc.path, str(exc.problem))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = excerpt(exc.problem or exc.context or "invalid YAML", 200)
        kind = "YAML error" if isinstance(exc, ConstructorError) else "YAML syntax error"
        raise ScenarioError([format_error(file, line, (), f"{kind}: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control code, ...)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise ScenarioError([format_error(file, line, (), f"not a YAML text file: character #x{exc.character:04x} "
                                          f"at column {exc.position - text.rfind(chr(10), 0, exc.position)} "
                                          "is not allowed")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([format_error(file, 1, (), f"YAML error: {excerpt(str(exc), 200)}")]) from None
    except RecursionError:  # a guard: MAX_DEPTH keeps composing far from the interpreter's limit
        raise ScenarioError([format_error(file, 1, (), f"nested too deeply (more than {MAX_DEPTH} levels)")]) from None
    finally:
        if loader is not None:
            loader.dispose()
