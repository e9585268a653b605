"""What is under the cursor: the key path written there, the layer it belongs to, the variables in scope.

Built once per analysis from the positions the readers recorded (this
file's only — a composed spec also holds its bases' positions) and cached
on it, so every request is a lookup.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import Location
from cnnspec.load.document import Document, PathKey
from cnnspec.lsp.analysis import Analysis
from cnnspec.lsp.text import Span, token_span
from cnnspec.shapes.trace import LayerInfo, ShapeTrace
from cnnspec.spec import Spec

__all__ = ["Entry", "Variable", "entries", "entries_on", "entry_at", "layer_infos", "layers_at", "symbolic_shapes",
           "variables"]


@dataclass(frozen=True)
class Entry:
    """A key or a value written in this file, where it is, and its path in the resolved spec."""

    span: Span
    path: PathKey
    key: bool


@dataclass(frozen=True)
class Variable:
    name: str
    value: Any
    location: Location | None


def _cached(analysis: Analysis, name: str, make: Any) -> Any:
    if name not in analysis.cache:
        analysis.cache[name] = make()
    return analysis.cache[name]


def _starts(analysis: Analysis) -> dict[int, list[tuple[int, PathKey, bool]]]:
    """Line -> ``(col, path, is_key)`` of every key and value written on it (starts only: cheap)."""

    def make() -> dict[int, list[tuple[int, PathKey, bool]]]:
        seen: set[tuple[int, int, bool]] = set()
        out: dict[int, list[tuple[int, PathKey, bool]]] = {}
        docs = [d for d in (analysis.composed.document if analysis.composed else None, analysis.document) if d]
        for doc in docs:  # the composed document first: its paths are the resolved spec's
            for table, is_key in ((doc.positions, False), (doc.key_positions, True)):
                for path, loc in table.items():
                    if (loc.line, loc.column, is_key) in seen or not analysis.here(loc):
                        continue
                    seen.add((loc.line, loc.column, is_key))
                    out.setdefault(loc.line - 1, []).append((loc.column - 1, path, is_key))
        return out

    return _cached(analysis, "starts", make)


def entries_on(analysis: Analysis, line: int) -> list[Entry]:
    """The keys and values written on ``line``, with their spans (computed once per line)."""
    cache = _cached(analysis, "lines_entries", dict)
    if line not in cache:
        found = [Entry(token_span(analysis.lines, line, col), path, is_key)
                 for col, path, is_key in _starts(analysis).get(line, [])]
        cache[line] = sorted(found, key=lambda e: (e.span.col, not e.key))
    return cache[line]


def entries(analysis: Analysis) -> list[Entry]:
    """Every key and value of this file, with its span, sorted by position."""
    return [e for line in sorted(_starts(analysis)) for e in entries_on(analysis, line)]


def entry_at(analysis: Analysis, line: int, col: int) -> Entry | None:
    """The innermost key or value whose token covers ``(line, col)``."""
    best: Entry | None = None
    candidates = list(entries_on(analysis, line))
    for earlier in range(line - 1, max(-1, line - 40), -1):  # a flow collection opened on a line above
        candidates += [e for e in entries_on(analysis, earlier) if e.span.end_line >= line]
    for entry in candidates:
        if entry.span.contains(line, col) and (best is None or len(entry.path) >= len(best.path)):
            best = entry
    return best


def layer_infos(trace: ShapeTrace | None) -> dict[PathKey, list[LayerInfo]]:
    """Spec path -> the modules it made (several for the layers of a ``repeat``), in order."""
    out: dict[PathKey, list[LayerInfo]] = {}
    if trace is None:
        return out
    for info in trace.walk():
        if info.spec_path:
            out.setdefault(tuple(info.spec_path), []).append(info)
    return out


def layers_at(analysis: Analysis, line: int, col: int) -> tuple[PathKey, list[LayerInfo]] | None:
    """The layer (or block) written at ``(line, col)``: its path and its modules."""
    infos = _cached(analysis, "layers", lambda: layer_infos(analysis.any_trace))
    entry = entry_at(analysis, line, col)
    candidates = [entry.path] if entry else []
    # anywhere on a layer's line (the "- " of a list item): the layer that starts on it
    candidates += [e.path for e in entries_on(analysis, line) if not e.key]
    for path in candidates:
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in infos:
                return tuple(path[:n]), infos[tuple(path[:n])]
    return None


def symbolic_shapes(analysis: Analysis) -> dict[str, tuple]:
    """Qualified name -> output shape with the input's spatial dims as symbols (``H``, ``W``).

    For a spec with a fixed input this shows how each shape depends on the
    input size. Layers that need fixed sizes (a ``linear`` after ``flatten``)
    stop it: the layers before them still get their formulas.
    """

    def make() -> dict[str, tuple]:
        spec: Spec | None = analysis.spec
        trace = analysis.any_trace
        if spec is None or trace is None or len(spec.input) < 2:
            return {}
        if any(isinstance(d, str) for d in spec.input):
            return {i.qualname: i.output_shape for i in trace.walk()}
        names = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(len(spec.input) - 1)
        if names is None:
            return {}
        dims = [spec.input[0], *names]
        from cnnspec.exceptions import SpecError
        from cnnspec.shapes.walker import infer_shapes

        layers = spec.layers
        for _ in range(2):
            try:
                found = infer_shapes(dataclasses.replace(spec, layers=layers), input_shape=dims)
                return {i.qualname: i.output_shape for i in found.walk()}
            except SpecError as exc:
                key = exc.key or ()
                if len(key) < 2 or not isinstance(key[1], int):
                    return {}
                layers = tuple(n for n in layers if n.path[1] < key[1])
                if not layers:
                    return {}
            except Exception:
                return {}
        return {}

    return _cached(analysis, "symbolic", make)


def variables(analysis: Analysis) -> dict[str, Variable]:
    """The ``vars:`` in scope (this file's and its bases'), each with where it is defined."""

    def make() -> dict[str, Variable]:
        doc = analysis.document
        if doc is None or not isinstance(doc.data, dict):
            return {}
        from cnnspec.exceptions import SpecError
        from cnnspec.load.extends import resolve_extends

        merged = Document(copy.deepcopy(doc.data), doc.file, dict(doc.positions), dict(doc.key_positions))
        try:
            merged = resolve_extends(merged, [os.path.realpath(doc.file)], [doc.file])
        except SpecError:
            pass
        raw = merged.data.get("vars") if isinstance(merged.data, dict) else None
        if not isinstance(raw, dict):
            return {}
        return {str(name): Variable(str(name), value, merged.key_positions.get(("vars", name)))
                for name, value in raw.items()}

    return _cached(analysis, "variables", make)
