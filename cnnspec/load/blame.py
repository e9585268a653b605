"""Where each value of a resolved spec came from, and the resolved spec as text.

After ``extends``, ``vars`` and ``--set`` a value may come from a base file, an
override on the command line, a variable defined somewhere else, or a default
pydantic filled in. :func:`resolve` pairs the resolved data with an
:class:`Origin` per value; :func:`render_yaml` prints it as YAML with the
origin of each value as a comment, in a form that loads back to the same spec.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import Location
from cnnspec.load.compose import Composed, Interpolation
from cnnspec.load.reader import PathKey, format_path

__all__ = ["DEFAULT", "Origin", "leaves", "render_json", "render_yaml", "resolve"]

DEFAULT = "(default)"


@dataclass(frozen=True)
class Origin:
    """What set one value: a source position (a file or ``--set[i]``) or a default.

    ``via`` is set when the value was produced by ``${vars...}``: ``location``
    is then the variable's definition (for a whole-value reference) or the
    template's position (for a reference inside a longer string).
    """

    location: Location | None
    default: bool = False
    via: Interpolation | None = None

    @property
    def source(self) -> str:
        """``file:line``, ``--set[i]``, ``(default)`` or ``?`` when unknown."""
        if self.default:
            return DEFAULT
        return _where(self.location)

    def __str__(self) -> str:
        if self.via is None:
            return self.source
        if self.via.whole:
            return f"{self.source} (vars.{self.via.names[0][0]}, used at {_where(self.via.site)})"
        used = ", ".join(f"vars.{n} at {_where(loc)}" for n, loc in self.via.names)
        return f"{self.source} ({used})"

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        out: dict[str, Any] = {
            "origin": self.source,
            "file": None if self.default or loc is None else loc.file,
            "line": None if self.default or loc is None or loc.file.startswith("--set") else loc.line,
            "default": self.default,
        }
        if self.via is not None:
            out["via"] = {
                "text": self.via.text,
                "at": _where(self.via.site),
                "vars": {n: _where(loc) for n, loc in self.via.names},
            }
        return out


def _where(loc: Location | None) -> str:
    if loc is None:
        return "?"
    if loc.file.startswith("--set"):
        return loc.file
    return f"{loc.file}:{loc.line}"


def resolve(composed: Composed, config: Any = None) -> tuple[Any, dict[PathKey, Origin]]:
    """The resolved data and the origin of every value in it.

    With ``config`` (the validated pydantic ``SpecDocument``), the defaults it
    filled in for missing keys are added (``None`` defaults are not: they mean
    "not set"). Layer arguments stay as written; their defaults are torch's.
    """
    doc = composed.document
    data = json.loads(json.dumps(doc.data))
    origins: dict[PathKey, Origin] = {}
    for path, _ in _walk(data, ()):
        via = composed.interpolations.get(path)
        if via is None:
            for n in range(len(path) - 1, 0, -1):
                outer = composed.interpolations.get(path[:n])
                if outer is not None and outer.whole:
                    via = outer
                    break
        origins[path] = Origin(doc.positions.get(path) or doc.locate(path), via=via)
    if config is not None and isinstance(data, dict):
        dump = config.model_dump(mode="json", by_alias=True)
        _fill_defaults(data, dump, (), origins)
    return data, origins


def _fill_defaults(data: dict[str, Any], dump: dict[str, Any], path: PathKey,
                   origins: dict[PathKey, Origin]) -> None:
    for key, value in dump.items():
        kpath = (*path, key)
        if key not in data:
            if value is None:
                continue
            data[key] = value
            for sub, _ in _walk(value, kpath):
                origins[sub] = Origin(None, default=True)
        elif isinstance(data[key], dict) and isinstance(value, dict):
            _fill_defaults(data[key], value, kpath, origins)


def _walk(value: Any, path: PathKey) -> Iterator[tuple[PathKey, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _walk(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _walk(sub, (*path, i))


def leaves(data: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """``(path, value)`` for every scalar and every empty list or mapping."""
    for p, value in _walk(data, path):
        if not isinstance(value, (dict, list)) or not value:
            yield p, value


# -- YAML output ---------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}
_FLOW_WIDTH = 72


def scalar(value: Any) -> str:
    """A scalar in YAML that cnnspec's (YAML 1.2 core) loader reads back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flat(value: Any) -> bool:
    if isinstance(value, dict):
        return all(not isinstance(v, (dict, list)) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, (dict, list)) for v in value)
    return False


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return scalar(value)


class _Emitter:
    def __init__(self, origins: dict[PathKey, Origin] | None) -> None:
        self.origins = origins
        self.lines: list[tuple[str, str]] = []

    def note(self, path: PathKey) -> str:
        if self.origins is None:
            return ""
        origin = self.origins.get(path)
        return str(origin) if origin is not None else "?"

    def inline(self, value: Any, path: PathKey) -> tuple[str, str] | None:
        """``value`` on one line, with its comment, when it can be."""
        if not isinstance(value, (dict, list)) or not value:
            return _flow(value) if isinstance(value, (dict, list)) else scalar(value), self.note(path)
        if not _flat(value):
            return None
        text = _flow(value)
        items = value.keys() if isinstance(value, dict) else range(len(value))
        notes = {self.note((*path, k)) for k in items}
        if len(text) > _FLOW_WIDTH or len(notes) > 1:
            return None
        return text, notes.pop()

    def emit(self, value: Any, path: PathKey, indent: int) -> None:
        pad = " " * indent
        if isinstance(value, dict):
            for key, sub in value.items():
                self.entry(f"{pad}{scalar(key)}:", sub, (*path, key), indent + 2)
        else:
            for i, sub in enumerate(value):
                self.entry(f"{pad}-", sub, (*path, i), indent + 2, item=True)

    def entry(self, head: str, value: Any, path: PathKey, indent: int, item: bool = False) -> None:
        one = self.inline(value, path)
        if one is not None:
            self.lines.append((f"{head} {one[0]}", one[1]))
            return
        if item and isinstance(value, dict):
            # "- key: ..." keeps a layer's type on the dash line, as specs are written
            first, *_ = value
            sub = _Emitter(self.origins)
            sub.emit({first: value[first]}, path, indent)
            (text, note), *rest = sub.lines
            self.lines.append((head + " " + text.lstrip(), note))
            self.lines.extend(rest)
            if len(value) > 1:
                self.emit({k: v for k, v in value.items() if k != first}, path, indent)
            return
        self.lines.append((head, ""))
        self.emit(value, path, indent)


def render_yaml(data: Any, origins: dict[PathKey, Origin] | None = None, *, header: str = "") -> str:
    """YAML text of ``data``; with ``origins``, each value's origin as a comment."""
    em = _Emitter(origins)
    if isinstance(data, (dict, list)) and data:
        em.emit(data, (), 0)
    else:
        em.lines.append((_flow(data) if isinstance(data, (dict, list)) else scalar(data), em.note(())))
    width = min(max((len(t) for t, n in em.lines if n), default=0), 56)
    out = [f"# {line}" for line in header.splitlines()]
    for text, note in em.lines:
        out.append(f"{text.ljust(width)}  # {note}" if note else text)
    return "\n".join(out) + "\n"


def render_json(data: Any, origins: dict[PathKey, Origin] | None = None) -> str:
    """JSON: the spec alone, or ``{"spec": ..., "blame": {path: origin}}``."""
    if origins is None:
        return json.dumps(data, indent=2) + "\n"
    blame = {format_path(p) or "(root)": {**origins[p].to_dict(), "value": v}
             for p, v in leaves(data) if p in origins}
    return json.dumps({"spec": data, "blame": blame}, indent=2) + "\n"
