"""YAML → :class:`~cnnspec.load.document.Document`, composed rather than constructed.

Only plain data survives: explicit tags are refused, scalars follow the YAML
1.2 core schema, duplicate keys are errors, and limits bound the expanded
size and depth. The C parser is used only when the text cannot nest deeply
(it crashes the interpreter on ~50,000 levels); otherwise the pure-Python
parser, whose recursion limit turns deep nesting into an ordinary error.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
import yaml.composer
import yaml.nodes
import yaml.parser
import yaml.reader
import yaml.resolver
import yaml.scanner

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES, Document, PathKey, format_path

__all__ = ["parse_yaml"]

_TAG = "tag:yaml.org,2002:"
#: the only tags a scalar may carry (implicitly resolved or written as !!str etc.)
_SCALAR_KINDS = ("str", "null", "bool", "int", "float")


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
        if not tag.startswith(_TAG) or tag[len(_TAG):] not in _SCALAR_KINDS:
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
            if key_node.tag[len(_TAG):] not in _SCALAR_KINDS or not key_node.tag.startswith(_TAG):
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


def parse_yaml(text: str, file: str) -> Document:
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
