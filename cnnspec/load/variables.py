"""``vars:`` and ``${vars.name}``: named values, interpolated, never evaluated.

A string that is exactly one reference takes the variable's value and type
(``out_channels: ${vars.width}`` is an int); references inside longer strings
are formatted into them. Variables may use other variables; cycles are
refused, ``$${`` is a literal ``${``, and what interpolation may create is
bounded (a few bytes of variables repeating each other could otherwise expand
to gigabytes). Each interpolated value is located at the variable's
definition, and the template is kept for blame.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import MAX_BYTES, MAX_NODES, Document, PathKey, format_path
from cnnspec.load.paths import Positions, drop_subtree, parse_key_path, what_is_there
from cnnspec.names import suggest

__all__ = ["Interpolation", "Variables"]

_REF = re.compile(r"\$\$\{|\$\{([^{}]*)\}")


@dataclass(frozen=True)
class Interpolation:
    """How a value was produced from ``vars``: the template and where it was written.

    ``site`` is where the ``${...}`` text was; ``names`` are the variables it
    used with the location of each one's definition.
    """

    text: str
    site: Location | None
    names: tuple[tuple[str, Location | None], ...]
    whole: bool


class Variables:
    """Resolves ``${vars...}`` references, each variable once, cycles refused."""

    def __init__(self, doc: Document, interpolations: dict[PathKey, Interpolation]) -> None:
        self.doc = doc
        self.interpolations = interpolations
        raw = doc.data.get("vars")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise doc.error("vars: expected a mapping of names to values", ("vars",),
                            hint="e.g. vars: {width: 32, lr: 0.01}")
        self.vars: dict[str, Any] = raw
        self.done: set[str] = set()
        self.active: list[str] = []
        # interpolation can double a value per variable: bound what it may create
        self.created_values = 0
        self.created_chars = 0

    def spend(self, values: int, chars: int, path: PathKey) -> None:
        self.created_values += values
        self.created_chars += chars
        if self.created_values > MAX_NODES or self.created_chars > MAX_BYTES:
            raise self.doc.error(
                f"{format_path(path)}: ${{vars}} interpolation makes the spec larger than "
                f"{MAX_NODES:,} values or {MAX_BYTES:,} characters", path,
                hint="variables that repeat other variables multiply in size")

    def resolve_all(self) -> None:
        for name in list(self.vars):
            self.var(name)
        for key in list(self.doc.data):
            if key != "vars":
                self.doc.data[key] = self.walk(self.doc.data[key], (key,))

    def var(self, name: str) -> Any:
        if name in self.done:
            return self.vars[name]
        if name in self.active:
            chain = " -> ".join([*self.active[self.active.index(name):], name])
            raise self.doc.error(f"vars: {chain} refer to each other in a cycle", ("vars", name),
                                 hint="a variable cannot use itself, directly or through others")
        self.active.append(name)
        self.vars[name] = self.walk(self.vars[name], ("vars", name))
        self.active.pop()
        self.done.add(name)
        return self.vars[name]

    def walk(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            return self.string(value, path) if "${" in value else value
        if isinstance(value, dict):
            for key in value:
                value[key] = self.walk(value[key], (*path, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                value[i] = self.walk(sub, (*path, i))
        return value

    def lookup(self, ref: str, path: PathKey, text: str) -> tuple[Any, PathKey]:
        """The value named by ``vars.a.b[0]`` and its path in the document."""
        where = format_path(path)
        hint = "write ${vars.NAME} for a variable defined under vars:; $${ is a literal ${"
        if not ref.startswith("vars.") or len(ref) == len("vars."):
            raise self.doc.error(f"{where}: {text!r}: only ${{vars.NAME}} references are interpolated, "
                                 f"got ${{{ref}}}", path, hint=hint)
        try:
            parts = parse_key_path(ref[len("vars."):], what=f"{where}: ${{{ref}}}:")
        except SpecError as exc:
            raise self.doc.error(exc.message, path, hint=hint) from None
        name = parts[0]
        if name not in self.vars:
            close = suggest(str(name), self.vars)
            msg = f"{where}: unknown variable {name!r} in {text!r}"
            if close:
                msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            defined = ", ".join(self.vars) or "none"
            raise self.doc.error(msg, path, hint=f"variables defined under vars: {defined}")
        value: Any = self.var(str(name))
        vpath: PathKey = ("vars", name)
        for part in parts[1:]:
            if isinstance(value, dict) and isinstance(part, str) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
                part = part % len(value)
                value = value[part]
            else:
                raise self.doc.error(f"{where}: ${{{ref}}}: there is no {part!r} in {format_path(vpath)}", path,
                                     hint=what_is_there(value))
            vpath = (*vpath, part)
        return value, vpath

    def string(self, text: str, path: PathKey) -> Any:
        site = self.doc.positions.get(path)
        refs = list(_REF.finditer(text))
        leftover = _REF.sub("", text)
        if "${" in leftover:
            raise self.doc.error(f"{format_path(path)}: {text!r} has an unclosed or nested ${{", path,
                                 hint="references look like ${vars.NAME}; write $${ for a literal ${")
        if len(refs) == 1 and refs[0].group(1) is not None and refs[0].span() == (0, len(text)):
            value, vpath = self.lookup(refs[0].group(1).strip(), path, text)
            self.spend(*_size(value), path)
            value = copy.deepcopy(value)
            drop_subtree(self.doc, path)
            pos = Positions()
            pos.take(self.doc, value, path, vpath)
            self.doc.positions.update(pos.values)
            self.doc.key_positions.update(pos.keys)
            self.note(path, text, site, [vpath], whole=True)
            return value
        used: list[PathKey] = []
        out, last = [], 0
        for m in refs:
            out.append(text[last:m.start()])
            last = m.end()
            if m.group(1) is None:
                out.append("${")
                continue
            value, vpath = self.lookup(m.group(1).strip(), path, text)
            if isinstance(value, (dict, list)):
                raise self.doc.error(f"{format_path(path)}: ${{{m.group(1)}}} is a {type(value).__name__}, "
                                     "which cannot be formatted into a string", path,
                                     hint="use the reference as the whole value to keep its type")
            out.append(value if isinstance(value, str) else json.dumps(value))
            used.append(vpath)
        out.append(text[last:])
        self.spend(1, sum(len(part) for part in out), path)
        if used:
            self.note(path, text, site, used, whole=False)
        return "".join(out)

    def note(self, path: PathKey, text: str, site: Location | None, used: list[PathKey], whole: bool) -> None:
        if path[0] == "vars":
            return
        names = tuple((format_path(v[1:]), self.doc.positions.get(v)) for v in used)
        self.interpolations[path] = Interpolation(text, site, names, whole)


def _size(value: Any) -> tuple[int, int]:
    """(values, characters) in a plain-data value, counted without copying it."""
    values, chars, stack = 0, 0, [value]
    while stack:
        item = stack.pop()
        values += 1
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        if values > MAX_NODES:
            break
    return values, chars
