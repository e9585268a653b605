"""What a picture of a network shows: boxes, blocks in series, branches side by side.

The diagram is read off the static trace alone — no torch, no module — so
``cnnspec draw``, ``validate``-time tools and a training callback can all make
one. A network is a series of elements; an element is a :class:`Box` (a
layer, or a whole block cut off by ``depth``), a :class:`Series` (a named
``sequential`` or ``repeat`` block, drawn with a frame), or a :class:`Parallel`
(``residual``: body and shortcut added; ``concat``: branches concatenated),
each branch itself a series. Symbolic dims stay expressions (``[16, H - 2, W - 2]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cnnspec.layer import fmt_shape
from cnnspec.render import escape
from cnnspec.shapes.report import argument_cells, human
from cnnspec.shapes.trace import LayerInfo, ShapeTrace

__all__ = ["Box", "Element", "Parallel", "Series", "box_lines", "category", "diagram", "elements"]

#: the widest a label line gets before it is wrapped (characters)
MAX_LINE = 56

_CATEGORIES = (
    ("conv", re.compile(r"conv", re.I)),
    ("norm", re.compile(r"norm", re.I)),
    ("pool", re.compile(r"pool", re.I)),
    ("linear", re.compile(r"^(linear|bilinear|lazylinear)$", re.I)),
    ("dropout", re.compile(r"dropout", re.I)),
    ("shape", re.compile(r"^(flatten|unflatten|identity)$", re.I)),
)
#: arguments not worth a place in a box: inferred counts, the module name, in-place flags
_QUIET = {"name", "inplace", "in_channels", "in_features", "num_features", "kernel_size", "stride", "padding"}
#: arguments shown first and bare (the count a layer produces)
_COUNTS = ("out_channels", "out_features", "num_groups")


@dataclass
class Box:
    """One box: a layer, a block drawn as one (cut by ``depth``), or the input/output."""

    key: str
    title: str
    kind: str
    args: str
    shape: str
    category: str
    depth: int = 0

    @property
    def lines(self) -> list[str]:
        return box_lines(self)


@dataclass
class Series:
    """Elements one after the other; a frame with ``title`` when the block is named."""

    items: list[Element]
    title: str = ""
    subtitle: str = ""
    dashed: bool = False
    key: str = ""


@dataclass
class Parallel:
    """Branches on the same input, joined by ``merge``: ``"+"`` (residual) or ``"concat"``.

    An empty branch is the identity (a residual without a shortcut).
    """

    branches: list[Series]
    merge: str
    key: str
    title: str
    shape: str
    framed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


Element = Box | Series | Parallel


def category(type_name: str, info: LayerInfo | None = None) -> str:
    """``conv``, ``norm``, ``pool``, ``linear``, ``dropout``, ``shape``, ``activation``, ``block`` or ``other``."""
    if info is not None and not info.is_leaf:
        return "block"
    for name, pattern in _CATEGORIES:
        if pattern.search(type_name):
            return name
    tags = info.layer_type.tags if info is not None and info.layer_type is not None else frozenset()
    if "activation" in tags or "conv" in tags:
        return "activation" if "activation" in tags else "conv"
    return "other"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "x".join(_value(v) for v in value)
    return str(value)


def layer_args(info: LayerInfo) -> str:
    """The arguments that make this layer what it is, compactly: ``64 · 7x7 /2 p3 · bias=false``.

    Only arguments that differ from their defaults are shown (the spec's own
    choices); the counts inferred from the input never are.
    """
    kwargs = dict(info.kwargs or {})
    defaults: dict[str, Any] = {}
    if info.layer_type is not None:
        for name, f in info.layer_type.params.model_fields.items():
            if not f.is_required():
                defaults[name] = f.default
    parts = [_value(kwargs[k]) for k in _COUNTS if k in kwargs]
    kernel, stride, padding = argument_cells(info)
    if kernel:
        geometry = kernel
        if stride not in ("", "1"):
            geometry += f" /{stride}"
        if padding not in ("", "0"):
            geometry += f" p{padding}"
        parts.append(geometry)
    rest = []
    for key, value in kwargs.items():
        if key in _QUIET or key in _COUNTS or (key in defaults and defaults[key] == value):
            continue
        rest.append(f"{key}={_value(value)}")
    return " · ".join(parts + rest)


def _wrap(text: str, width: int = MAX_LINE) -> list[str]:
    """Long lines (symbolic shapes) broken after a comma or space."""
    out: list[str] = []
    while len(text) > width:
        cut = max(text.rfind(", ", 0, width), text.rfind(" ", 0, width))
        cut = cut + 1 if cut > width // 3 else width
        out.append(text[:cut].rstrip())
        text = "  " + text[cut:].lstrip()
    out.append(text)
    return out


def box_lines(box: Box) -> list[str]:
    """The text of a box, line by line: name and type, arguments, output shape."""
    head = box.title if box.title == box.kind or not box.kind else f"{box.title} · {box.kind}"
    lines = _wrap(head)
    if box.args:
        lines += _wrap(box.args)
    if box.shape:
        lines += _wrap(box.shape)
    return [escape(line) for line in lines]


def _block_args(info: LayerInfo) -> str:
    what = f"x{info.extra['times']}" if info.kind == "repeat" and "times" in info.extra else ""
    count = sum(1 for _ in _leaves(info))
    parts = [p for p in (what, f"{count} layers", f"{human(info.params)} params") if p]
    return " · ".join(parts)


def _leaves(info: LayerInfo) -> Iterator[LayerInfo]:
    if info.is_leaf:
        yield info
    for child in info.children:
        yield from _leaves(child)


def _shown(info: LayerInfo, depth: int | None) -> bool:
    """Whether ``info``'s children are drawn (else it is one box)."""
    return bool(info.children) and (depth is None or info.depth + 1 < depth)


def _box(info: LayerInfo) -> Box:
    args = layer_args(info) if info.is_leaf else _block_args(info)
    return Box(info.qualname, info.name, info.type, args, fmt_shape(info.output_shape), category(info.type, info),
               info.depth)


def _element(info: LayerInfo, depth: int | None) -> Element:
    if not _shown(info, depth):
        return _box(info)
    shape = fmt_shape(info.output_shape)
    if info.kind == "residual":
        body = next((c for c in info.children if c.role == "body"), None)
        short = next((c for c in info.children if c.role == "shortcut"), None)
        branches = [_branch(body, depth), _branch(short, depth)]
        return Parallel(branches, "+", info.qualname, info.name, shape)
    if info.kind == "concat":
        branches = [_branch(c, depth) for c in info.children]
        return Parallel(branches, "concat", info.qualname, info.name, shape, framed=True,
                        extra={"dim": info.extra.get("dim", 1)})
    if info.kind == "repeat":
        times = info.extra.get("times", len(info.children))
        items = [_element(c, depth) if c.is_leaf or c.role != "repeat" else
                 Series([_element(g, depth) for g in c.children], title=f"{int(c.name) + 1} of {times}",
                        dashed=True, key=c.qualname)
                 if _shown(c, depth) else _box(c)
                 for c in info.children]
        return Series(items, title=f"{info.name} · repeat x{times}", subtitle=shape, key=info.qualname)
    return Series([_element(c, depth) for c in info.children], title=info.name, subtitle=shape, key=info.qualname)


def _branch(info: LayerInfo | None, depth: int | None) -> Series:
    if info is None:
        return Series([])
    if not _shown(info, depth):
        return Series([_box(info)])
    return Series([_element(c, depth) for c in info.children], key=info.qualname)


def diagram(trace: ShapeTrace, depth: int | None = None) -> Series:
    """The whole network, input to output; blocks nested ``depth`` levels deep or more drawn as one box."""
    items: list[Element] = [Box("input", "input", "", "", fmt_shape(trace.input_shape), "io", -1)]
    items += [_element(info, depth) for info in trace.layers]
    items.append(Box("output", "output", "", "", fmt_shape(trace.output_shape), "io", -1))
    return Series(items, key="")


def elements(element: Element) -> Iterator[Element]:
    """Every element, depth-first (a series before its items, a parallel before its branches)."""
    yield element
    if isinstance(element, Series):
        for item in element.items:
            yield from elements(item)
    elif isinstance(element, Parallel):
        for branch in element.branches:
            yield from elements(branch)
