"""Safe YAML/JSON loading that remembers where every value came from.

``yaml.safe_load`` forgets positions, keeps the last of two duplicate keys,
reads ``1e-3`` as a string (YAML 1.1) and expands a 342-byte alias bomb into
hundreds of millions of nodes. Here documents are *composed* (not
constructed), and the node tree is turned into plain data by our own code:

* only plain data: any explicit tag (``!!python/object``...) is refused;
* YAML 1.2 core scalars: ``1e-3`` is a float, ``yes``/``no``/``on`` are
  strings, ``true``/``false`` booleans, ``0x1f``/``0o17`` ints;
* duplicate keys are an error naming both lines;
* limits on size, nesting depth, expanded node count and integer digits;
* every value's and key's :class:`~cnnspec.exceptions.Location` is recorded
  under its path (``("model", 3, "conv2d", "kernel_size")``).

The C parser is used when the text cannot nest deeply (it crashes the
interpreter on ~50,000 levels); otherwise the pure-Python one, whose recursion
limit turns deep nesting into an ordinary error.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml.composer
import yaml.constructor
import yaml.nodes
import yaml.parser
import yaml.reader
import yaml.resolver
import yaml.scanner

from cnnspec.exceptions import Location, SpecError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "Document",
    "PathKey",
    "format_path",
    "load_document",
    "parse_text",
]

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_INT_DIGITS = 64

PathKey = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"


def format_path(path: PathKey) -> str:
    """``("model", 3, "conv2d")`` → ``model[3].conv2d``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass
class Document:
    """Plain data plus the source position of each value and key."""

    data: Any
    file: str
    positions: dict[PathKey, Location] = field(default_factory=dict)
    key_positions: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Location | None:
        """The position of ``path`` or of its nearest recorded ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, message: str, path: PathKey, *, hint: str | None = None, key: bool = False,
              cls: type[SpecError] = SpecError) -> SpecError:
        return cls(message, location=self.locate(path, key=key), path=format_path(path), hint=hint)


# -- YAML ------------------------------------------------------------------------------


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-schema implicit types (plus ``<<`` merge keys)."""


_Resolver.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("merge", r"^(?:<<)$", "<"),
]:
    _Resolver.add_implicit_resolver(_TAG + _tag, re.compile(_regexp), list(_first))


class _PyLoader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


try:
    from yaml.cyaml import CParser

    class _CLoader(CParser, _Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Resolver.__init__(self)

except ImportError:  # pragma: no cover - libyaml missing
    _CLoader = None  # type: ignore[assignment,misc]

_SAFE_C_DEPTH = 1000


def _nesting_bound(text: str) -> int:
    """An upper bound of the nesting depth, cheap to compute.

    Flow nesting needs a bracket per level; block nesting needs a column of
    indentation (or an indicator such as ``- `` on the same line) per level.
    """
    depth = worst = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth += 1 if m.group() in "[{" else -1
        worst = max(worst, depth)
    indent = max((len(line) - len(line.lstrip(" -?:\t")) for line in text.splitlines()), default=0)
    return worst + indent


class _Builder:
    """Turns a node tree into plain data, recording positions."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[PathKey, Location] = {}
        self.key_positions: dict[PathKey, Location] = {}
        self.count = 0

    def loc(self, node: yaml.nodes.Node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def fail(self, message: str, node: yaml.nodes.Node, path: PathKey, hint: str | None = None) -> SpecError:
        return SpecError(message, location=self.loc(node), path=format_path(path), hint=hint)

    def build(self, node: yaml.nodes.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the document expands to more than {MAX_NODES} values",
                node, path, hint="aliases (*name) that repeat large anchors multiply in size",
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(f"values are nested deeper than {MAX_DEPTH} levels", node, path)
        self.positions[path] = self.loc(node)
        if isinstance(node, yaml.nodes.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.nodes.SequenceNode):
            self.check_tag(node, "seq", path)
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        self.check_tag(node, "map", path)
        return self.mapping(node, path)

    def check_tag(self, node: yaml.nodes.Node, kind: str, path: PathKey) -> None:
        if node.tag != _TAG + kind:
            raise self.fail(
                f"the tag {_short_tag(node.tag)} is not allowed",
                node, path,
                hint="a spec holds plain data only: strings, numbers, booleans, null, lists, mappings",
            )

    def scalar(self, node: yaml.nodes.ScalarNode, path: PathKey) -> Any:
        tag, text = node.tag, node.value
        if not tag.startswith(_TAG) or tag[len(_TAG):] not in ("str", "null", "bool", "int", "float"):
            self.check_tag(node, "str", path)
        kind = tag[len(_TAG):]
        if kind == "str":
            return text
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() == "true"
        if kind == "int":
            return self.integer(text, node, path)
        try:
            return float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                         .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan"))
        except ValueError:
            raise self.fail(f"{text!r} is not a number", node, path) from None

    def integer(self, text: str, node: yaml.nodes.Node, path: PathKey) -> int:
        digits = text.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise self.fail(
                f"an integer with {len(digits)} digits is too long (at most {MAX_INT_DIGITS})",
                node, path,
            )
        try:
            if digits.startswith("0x"):
                value = int(digits[2:], 16)
            elif digits.startswith("0o"):
                value = int(digits[2:], 8)
            else:
                value = int(digits, 10)
        except ValueError:
            raise self.fail(f"{text!r} is not an integer", node, path) from None
        return -value if text.startswith("-") else value

    def mapping(self, node: yaml.nodes.MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, yaml.nodes.Node] = {}
        merges: list[tuple[yaml.nodes.Node, yaml.nodes.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, yaml.nodes.ScalarNode):
                raise self.fail("a mapping key must be a plain string", key_node, path)
            if not key_node.tag.startswith(_TAG):
                self.check_tag(key_node, "str", path)
            key = key_node.value
            if key in seen:
                first = self.loc(seen[key])
                raise self.fail(
                    f"duplicate key '{key}' (first defined at line {first.line}, column {first.column})",
                    key_node, (*path, key),
                    hint="a key may appear once per mapping; remove or rename one of them",
                )
            seen[key] = key_node
            self.key_positions[(*path, key)] = self.loc(key_node)
            out[key] = self.build(value_node, (*path, key))
        for key_node, value_node in merges:
            sources = value_node.value if isinstance(value_node, yaml.nodes.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.nodes.MappingNode):
                    raise self.fail("'<<' merges only mappings", source, path)
                merged = self.build(source, path)
                for key, value in merged.items():
                    out.setdefault(key, value)
                    self.key_positions.setdefault((*path, key), self.loc(key_node))
        self.positions[path] = self.loc(node)
        return out


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _parse_yaml(text: str, file: str) -> Document:
    loader_cls = _CLoader if _CLoader is not None and _nesting_bound(text) < _SAFE_C_DEPTH else _PyLoader
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise SpecError(f"YAML syntax error: {problem}{context}", location=loc) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", location=Location(file, 1, 1)) from None
    except RecursionError:
        raise SpecError(
            f"values are nested deeper than {MAX_DEPTH} levels", location=Location(file, 1, 1)
        ) from None
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose:
            dispose()
    if node is None:
        return Document(None, file, {(): Location(file, 1, 1)})
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise SpecError(
            f"values are nested deeper than {MAX_DEPTH} levels", location=Location(file, 1, 1)
        ) from None
    return Document(data, file, builder.positions, builder.key_positions)


# -- JSON ------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WS = re.compile(r"[ \t\n\r]*")


class _JsonParser:
    """A strict JSON reader that records the position of each value and key."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[PathKey, Location] = {}
        self.key_positions: dict[PathKey, Location] = {}
        self.count = 0

    def loc(self, index: int) -> Location:
        line = bisect.bisect_right(self.line_starts, index) - 1
        return Location(self.file, line + 1, index - self.line_starts[line] + 1)

    def fail(self, message: str, index: int, path: PathKey = ()) -> SpecError:
        return SpecError(message, location=self.loc(index), path=format_path(path))

    def skip(self, i: int) -> int:
        return _WS.match(self.text, i).end()  # type: ignore[union-attr]

    def parse(self) -> Document:
        i = self.skip(0)
        if i == len(self.text):
            raise self.fail("JSON syntax error: the document is empty", i)
        value, i = self.value(i, ())
        i = self.skip(i)
        if i != len(self.text):
            raise self.fail("JSON syntax error: extra data after the document", i)
        return Document(value, self.file, self.positions, self.key_positions)

    def value(self, i: int, path: PathKey) -> tuple[Any, int]:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"the document has more than {MAX_NODES} values", i, path)
        if len(path) > MAX_DEPTH:
            raise self.fail(f"values are nested deeper than {MAX_DEPTH} levels", i, path)
        self.positions[path] = self.loc(i)
        text = self.text
        ch = text[i : i + 1]
        if ch == "{":
            return self.obj(i, path)
        if ch == "[":
            return self.array(i, path)
        if ch == '"':
            return self.string(i)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return val, i + len(word)
        m = _NUMBER.match(text, i)
        if m and m.end() > i:
            token = m.group()
            if m.group(1) or m.group(2):
                return float(token), m.end()
            if len(token.lstrip("-")) > MAX_INT_DIGITS:
                raise self.fail(
                    f"an integer with {len(token.lstrip('-'))} digits is too long (at most {MAX_INT_DIGITS})",
                    i, path,
                )
            return int(token), m.end()
        what = repr(ch) if ch else "end of file"
        raise self.fail(f"JSON syntax error: unexpected {what}", i, path)

    def string(self, i: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, i + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(f"JSON syntax error: {exc.msg}", exc.pos) from None

    def obj(self, i: int, path: PathKey) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "}":
            return out, i + 1
        while True:
            if self.text[i : i + 1] != '"':
                raise self.fail("JSON syntax error: expected a quoted key", i, path)
            key_at = i
            key, i = self.string(i)
            if key in out:
                first = self.key_positions[(*path, key)]
                raise SpecError(
                    f"duplicate key '{key}' (first defined at line {first.line}, column {first.column})",
                    location=self.loc(key_at), path=format_path((*path, key)),
                    hint="a key may appear once per object; remove or rename one of them",
                )
            self.key_positions[(*path, key)] = self.loc(key_at)
            i = self.skip(i)
            if self.text[i : i + 1] != ":":
                raise self.fail("JSON syntax error: expected ':' after the key", i, path)
            out[key], i = self.value(self.skip(i + 1), (*path, key))
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == "}":
                return out, i + 1
            if ch != ",":
                raise self.fail("JSON syntax error: expected ',' or '}'", i, path)
            i = self.skip(i + 1)

    def array(self, i: int, path: PathKey) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "]":
            return out, i + 1
        while True:
            item, i = self.value(i, (*path, len(out)))
            out.append(item)
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == "]":
                return out, i + 1
            if ch != ",":
                raise self.fail("JSON syntax error: expected ',' or ']'", i, path)
            i = self.skip(i + 1)


def _parse_json(text: str, file: str) -> Document:
    try:
        return _JsonParser(text, file).parse()
    except RecursionError:
        raise SpecError(
            f"values are nested deeper than {MAX_DEPTH} levels", location=Location(file, 1, 1)
        ) from None


# -- entry points ------------------------------------------------------------------------


def parse_text(text: str, file: str = "<string>", *, fmt: str | None = None) -> Document:
    """Parse spec text; ``fmt`` is ``"yaml"`` or ``"json"`` (default: by file name)."""
    if len(text) > MAX_BYTES:
        raise SpecError(
            f"the spec is {len(text)} bytes; at most {MAX_BYTES} are read",
            location=Location(file, 1, 1),
        )
    if fmt is None:
        fmt = "json" if file.lower().endswith(".json") else "yaml"
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        raise SpecError("the spec contains a NUL byte; is it a binary file?",
                        location=Location(file, line, at - (text.rfind("\n", 0, at) + 1) + 1))
    return _parse_json(text, file) if fmt == "json" else _parse_yaml(text, file)


def read_text(path: Path) -> str:
    """The file's text, or a located error (missing, unreadable, not UTF-8)."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(f"the spec is {size} bytes; at most {MAX_BYTES} are read",
                            location=Location(name, 1, 1))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {name}") from None
    except IsADirectoryError:
        raise SpecError(f"{name} is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError("the spec is not valid UTF-8 text", location=Location(name, line, col)) from None
    return text


def _looks_like_path(source: str) -> bool:
    return "\n" not in source and source.strip().lower().endswith((".yaml", ".yml", ".json"))


def load_document(source: str | Path | Mapping[str, Any]) -> Document:
    """A :class:`Document` from a path, spec text, or an already-parsed mapping."""
    if isinstance(source, Mapping):
        return Document(dict(source), "<dict>")
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        return parse_text(read_text(path), str(source))
    return parse_text(source, "<string>")
