"""Where everything goes: a diagram laid out top to bottom, in pixels.

A series-parallel network needs no general graph layout: a series stacks its
elements on one vertical axis; a parallel element puts its branches side by
side between a fork and a merge node (``+`` or ``concat``). Sizes are
measured bottom-up, positions given top-down; text is measured in a
monospaced font (every glyph is :data:`CHAR_W` wide), so the SVG and the PNG
renderers draw the same picture without asking a font engine.

A very tall network (ResNet-50 laid out flat is thousands of pixels) is cut
into columns at its top level, read left to right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from cnnspec.draw.diagram import Box, Element, Parallel, Series

__all__ = ["CHAR_W", "FONT_PX", "LINE_H", "Edge", "Frame", "Merge", "Placed", "Scene", "layout"]

FONT_PX = 12.0
CHAR_W = FONT_PX * 0.6
LINE_H = 15.0
PAD_X, PAD_Y = 9.0, 6.0
MIN_BOX_W = 110.0
GAP = 22.0  # between elements of a series (room for an arrow)
H_GAP = 18.0  # between branches
FRAME_PAD = 10.0
FRAME_TITLE = 20.0
FORK = 22.0
MERGE_GAP = 22.0
MERGE_R = 10.0
IDENTITY_W = 26.0
MARGIN = 16.0
#: columns are cut when the picture would be taller than this and wider than tall would help
MAX_HEIGHT = 2600.0

Point = tuple[float, float]


@dataclass
class Placed:
    """A box at its place."""

    x: float
    y: float
    w: float
    h: float
    box: Box
    lines: list[str]


@dataclass
class Frame:
    x: float
    y: float
    w: float
    h: float
    title: str
    subtitle: str = ""
    dashed: bool = False


@dataclass
class Merge:
    """A join: a circle with ``+``, or a small ``concat`` box; ``label`` to its right."""

    cx: float
    cy: float
    w: float
    h: float
    kind: str
    label: str


@dataclass
class Edge:
    points: list[Point]
    arrow: bool = True


@dataclass
class Scene:
    width: float
    height: float
    boxes: list[Placed] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def text_width(text: str) -> float:
    return len(text) * CHAR_W


def _merge_size(p: Parallel) -> tuple[float, float]:
    return (2 * MERGE_R, 2 * MERGE_R) if p.merge == "+" else (text_width("concat") + 12, 2 * MERGE_R)


def _merge_label(p: Parallel) -> str:
    return f"{p.title} → {p.shape}"


class _Layout:
    def __init__(self) -> None:
        self.sizes: dict[int, tuple[float, float]] = {}
        self.scene = Scene(0, 0)

    # -- measuring ------------------------------------------------------------------------
    def size(self, el: Element) -> tuple[float, float]:
        key = id(el)
        if key not in self.sizes:
            self.sizes[key] = self.measure(el)
        return self.sizes[key]

    def measure(self, el: Element) -> tuple[float, float]:
        if isinstance(el, Box):
            lines = el.lines
            return max(MIN_BOX_W, max(map(text_width, lines)) + 2 * PAD_X), len(lines) * LINE_H + 2 * PAD_Y
        if isinstance(el, Series):
            if not el.items:
                return IDENTITY_W, 0.0
            sizes = [self.size(i) for i in el.items]
            boxes = [i for i in el.items if isinstance(i, Box)]
            if boxes:  # the boxes of one column share its width: a straight, calm column
                widest = max(self.sizes[id(b)][0] for b in boxes)
                for b in boxes:
                    self.sizes[id(b)] = (widest, self.sizes[id(b)][1])
                sizes = [self.size(i) for i in el.items]
            w = max(s[0] for s in sizes)
            h = sum(s[1] for s in sizes) + GAP * (len(sizes) - 1)
            if el.title:
                w = max(w + 2 * FRAME_PAD, text_width(el.title) + 2 * FRAME_PAD,
                        text_width(el.subtitle) + 2 * FRAME_PAD if el.subtitle else 0)
                h += FRAME_TITLE + FRAME_PAD
            return w, h
        sizes = [self.size(b) for b in el.branches]
        inner = sum(s[0] for s in sizes) + H_GAP * (len(sizes) - 1)
        mw, mh = _merge_size(el)
        w = max(inner, mw + 2 * (text_width(_merge_label(el)) + 8))
        h = FORK + max(s[1] for s in sizes) + MERGE_GAP + mh
        if el.framed:
            w = max(w + 2 * FRAME_PAD, text_width(el.title) + 2 * FRAME_PAD)
            h += FRAME_TITLE + FRAME_PAD
        return w, h

    # -- placing: returns the entry (top) and exit (bottom) points --------------------------
    def place(self, el: Element, cx: float, y: float) -> tuple[Point | None, Point | None]:
        w, h = self.size(el)
        if isinstance(el, Box):
            self.scene.boxes.append(Placed(cx - w / 2, y, w, h, el, el.lines))
            return (cx, y), (cx, y + h)
        if isinstance(el, Series):
            return self.place_series(el, cx, y, w, h)
        return self.place_parallel(el, cx, y, w, h)

    def place_series(self, el: Series, cx: float, y: float, w: float, h: float) -> tuple[Point | None, Point | None]:
        if not el.items:
            return None, None
        if el.title:
            self.scene.frames.append(Frame(cx - w / 2, y, w, h, el.title, el.subtitle, el.dashed))
            y += FRAME_TITLE
        entry = exit_ = None
        for item in el.items:
            top, bottom = self.place(item, cx, y)
            if exit_ is not None and top is not None:
                self.scene.edges.append(Edge([exit_, top]))
            entry = entry or top
            exit_ = bottom or exit_
            y += self.size(item)[1] + GAP
        return entry, exit_

    def place_parallel(self, el: Parallel, cx: float, y: float, w: float,
                       h: float) -> tuple[Point | None, Point | None]:
        if el.framed:
            self.scene.frames.append(Frame(cx - w / 2, y, w, h, el.title))
            y += FRAME_TITLE
        sizes = [self.size(b) for b in el.branches]
        inner = sum(s[0] for s in sizes) + H_GAP * (len(sizes) - 1)
        tallest = max(s[1] for s in sizes)
        fork_y, top = y + FORK / 2, y + FORK
        bus_y = top + tallest + MERGE_GAP / 2
        merge_top = top + tallest + MERGE_GAP
        mw, mh = _merge_size(el)
        self.scene.edges.append(Edge([(cx, y), (cx, fork_y)], arrow=False))
        x = cx - inner / 2
        for branch, (bw, _) in zip(el.branches, sizes):
            bx = x + bw / 2
            entry, exit_ = self.place(branch, bx, top)
            if entry is None or exit_ is None:  # the identity: straight through
                self.scene.edges.append(Edge([(cx, fork_y), (bx, fork_y), (bx, bus_y), (cx, bus_y)], arrow=False))
            else:
                self.scene.edges.append(Edge([(cx, fork_y), (bx, fork_y), entry]))
                self.scene.edges.append(Edge([exit_, (bx, bus_y), (cx, bus_y)], arrow=False))
            x += bw + H_GAP
        self.scene.edges.append(Edge([(cx, bus_y), (cx, merge_top)]))
        self.scene.merges.append(Merge(cx, merge_top + mh / 2, mw, mh, el.merge, _merge_label(el)))
        return (cx, y), (cx, merge_top + mh)


def _columns(root: Series, sizes: _Layout) -> list[Series]:
    """The top-level series cut into columns when it is very tall, the tallest column as short as can be."""
    total = sizes.size(root)[1]
    items = root.items
    if total <= MAX_HEIGHT or len(items) < 2:
        return [root]
    heights = [sizes.size(i)[1] + GAP for i in items]
    count = min(len(items), int(total // MAX_HEIGHT) + 1)
    # linear partition: best[k][i] = the least possible tallest column for items[:i] in k columns
    prefix = [0.0]
    for h in heights:
        prefix.append(prefix[-1] + h)
    inf = float("inf")
    best = [[inf] * (len(items) + 1) for _ in range(count + 1)]
    cut = [[0] * (len(items) + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for k in range(1, count + 1):
        for i in range(1, len(items) + 1):
            for j in range(k - 1, i):
                tallest = max(best[k - 1][j], prefix[i] - prefix[j])
                if tallest < best[k][i]:
                    best[k][i], cut[k][i] = tallest, j
    bounds, i = [], len(items)
    for k in range(count, 0, -1):
        bounds.append((cut[k][i], i))
        i = cut[k][i]
    return [Series(items[a:b]) for a, b in reversed(bounds) if b > a]


def layout(root: Series) -> Scene:
    """Every box, frame, merge node and edge of ``root`` at its place."""
    lay = _Layout()
    columns = _columns(root, lay)
    sizes = [lay.size(c) for c in columns]
    x = MARGIN
    placed: list[tuple[float, float, Point | None, Point | None]] = []  # left, right, entry, exit
    for column, (w, _) in zip(columns, sizes):
        entry, exit_ = lay.place(column, x + w / 2, MARGIN)
        placed.append((x, x + w, entry, exit_))
        x += w + 3 * H_GAP
    height = max(h for _, h in sizes) + 2 * MARGIN
    for (_, right, _, bottom), (_, _, top, _) in pairwise(placed):
        if bottom is None or top is None:
            continue
        # on to the next column: down, across to the gap, up above the next column, into its top
        low, gap_x, up = bottom[1] + GAP / 2, right + 1.5 * H_GAP, MARGIN / 2
        lay.scene.edges.append(Edge([bottom, (bottom[0], low), (gap_x, low), (gap_x, up), (top[0], up), top]))
        height = max(height, low + MARGIN)
    lay.scene.width = x - 3 * H_GAP + MARGIN
    lay.scene.height = height
    return lay.scene
