"""Go to definition (``extends:`` files, ``${vars.x}``) and the outline (the layer tree with names).

The outline is the model as the spec language sees it — each layer under
its default or given name, blocks with their layers inside — plus the other
top-level sections, so an editor's outline view and breadcrumbs read like
``cnnspec summary``. It is built from whatever parses: a model list with a
mistake in one layer still lists the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnnspec.exceptions import Location
from cnnspec.layer import fmt_shape
from cnnspec.load.document import PathKey
from cnnspec.lsp.analysis import Analysis
from cnnspec.lsp.hover import var_at
from cnnspec.lsp.index import _starts, entry_at, layer_infos, variables
from cnnspec.lsp.text import Span, token_end, token_span
from cnnspec.spec.layers import LayerNode, LayerParser

__all__ = ["Symbol", "definition", "symbols"]


@dataclass
class Symbol:
    name: str
    detail: str
    kind: str  # "layer", "block", "section"
    span: Span
    selection: Span
    children: list[Symbol] = field(default_factory=list)


def definition(analysis: Analysis, line: int, col: int) -> tuple[str, int, int] | None:
    """``(file, line, col)`` of what is referred to at ``(line, col)``: a base spec, or a variable."""
    if not analysis.parsed or line >= len(analysis.lines):
        return None
    ref = var_at(analysis.lines[line], col)
    if ref is not None:
        var = variables(analysis).get(ref[0])
        loc: Location | None = var.location if var else None
        return (loc.file, loc.line - 1, loc.column - 1) if loc else None
    entry = entry_at(analysis, line, col)
    if entry is None or entry.path[:1] != ("extends",) or entry.key:
        return None
    doc = analysis.document
    value = doc.data if doc is not None else None
    for part in entry.path:
        value = value[part] if isinstance(value, (dict, list)) else None
    if not isinstance(value, str):
        return None
    target = Path(value) if Path(value).is_absolute() else Path(analysis.file).parent / value
    return (str(target.resolve()), 0, 0) if target.is_file() else None


def _subtree_ends(analysis: Analysis) -> dict[PathKey, Span]:
    """Path -> the span from its first to its last written token in this file."""
    first: dict[PathKey, tuple[int, int]] = {}
    last: dict[PathKey, tuple[int, int]] = {}
    for line, found in _starts(analysis).items():
        for col, path, _ in found:
            at = (line, col)
            for n in range(1, len(path) + 1):
                prefix = path[:n]
                if prefix not in first or at < first[prefix]:
                    first[prefix] = at
                if prefix not in last or at > last[prefix]:
                    last[prefix] = at
    ends: dict[tuple[int, int], tuple[int, int]] = {}
    out = {}
    for prefix, start in first.items():
        at = last[prefix]
        if at not in ends:  # many subtrees end on one token: its end is read once
            ends[at] = token_end(analysis.lines, *at)
        out[prefix] = Span(*start, *ends[at])
    return out


def _layer_nodes(analysis: Analysis) -> list[LayerNode]:
    if analysis.spec is not None:
        return list(analysis.spec.layers)
    composed = analysis.composed
    if composed is None or not isinstance(composed.document.data, dict):
        return []
    model = composed.document.data.get("model")
    if not isinstance(model, list):
        return []
    from cnnspec.plugins.manager import get_plugins

    try:  # what parses of a model with mistakes in it
        return LayerParser(composed.document, get_plugins()).parse_list(model, ("model",))
    except Exception:
        return []


def symbols(analysis: Analysis) -> list[Symbol]:
    """The outline: top-level sections, the model's layers nested as blocks nest them."""
    doc = analysis.document
    if not analysis.parsed or doc is None or not isinstance(doc.data, dict):
        return []
    spans = _subtree_ends(analysis)
    infos = layer_infos(analysis.any_trace)
    out: list[Symbol] = []
    for key in doc.data:
        key_loc = doc.key_positions.get((key,))
        if key_loc is None:
            continue
        selection = token_span(analysis.lines, key_loc.line - 1, key_loc.column - 1)
        whole = spans.get((key,), selection)
        span = Span(selection.line, selection.col, *max((whole.end_line, whole.end_col),
                                                        (selection.end_line, selection.end_col)))
        section = Symbol(str(key), "", "section", span, selection)
        if key == "model":
            section.children = _layers(analysis, _layer_nodes(analysis), spans, infos)
            section.detail = f"{len(section.children)} layers"
        out.append(section)
    return out


def _layers(analysis: Analysis, nodes: list[LayerNode], spans: dict[PathKey, Span],
            infos: dict[PathKey, list]) -> list[Symbol]:
    out = []
    for node in nodes:
        span = spans.get(tuple(node.path))
        if span is None:
            continue
        found = infos.get(tuple(node.path))
        shape = f" → {fmt_shape(found[-1].output_shape)}" if found else ""
        kind = "layer" if node.kind == "layer" else "block"
        symbol = Symbol(node.name, f"{node.type_name.lower()}{shape}", kind, span,
                        Span(span.line, span.col, span.line, span.end_col if span.end_line == span.line
                             else len(analysis.lines[span.line])))
        children = list(node.children) + list(node.shortcut or [])
        for branch in node.branches:
            children += branch
        symbol.children = _layers(analysis, children, spans, infos)
        out.append(symbol)
    return out
