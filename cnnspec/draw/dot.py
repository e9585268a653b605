"""The diagram in graphviz's DOT language, for users who have graphviz (``dot -Tpdf net.dot``).

Named blocks become clusters; a residual's sum is a ``+`` node, a concat's
join a ``concat`` node; an identity shortcut is an edge straight to the sum.
"""

from __future__ import annotations

from cnnspec.draw.diagram import Box, Element, Parallel, Series
from cnnspec.draw.style import FONT_FAMILY, FRAME, PALETTE
from cnnspec.render import escape

__all__ = ["dot"]


def _quote(text: str) -> str:
    return '"' + escape(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def node_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def emit(self, el: Element, indent: str) -> tuple[list[str], list[str]]:
        """Write ``el``; returns the nodes an incoming edge goes to and those an outgoing one leaves."""
        if isinstance(el, Box):
            node = self.node_id()
            fill, stroke = PALETTE.get(el.category, PALETTE["other"])
            label = "\\n".join(_quote(line)[1:-1] for line in el.lines)
            self.lines.append(f'{indent}{node} [label="{label}", fillcolor="{fill}", color="{stroke}", '
                              f"tooltip={_quote(el.key)}];")
            return [node], [node]
        if isinstance(el, Series):
            if not el.items:
                return [], []
            inner = indent
            if el.title:
                self.count += 1
                self.lines.append(f"{indent}subgraph cluster_{self.count} {{")
                inner = indent + "  "
                label = el.title + (f" → {el.subtitle}" if el.subtitle else "")
                style = "rounded,dashed" if el.dashed else "rounded,filled"
                self.lines.append(f'{inner}label={_quote(label)}; style="{style}"; fillcolor="{FRAME[0]}"; '
                                  f'color="{FRAME[1]}";')
            first: list[str] = []
            last: list[str] = []
            for item in el.items:
                into, out = self.emit(item, inner)
                if not into:
                    continue
                for a in last:
                    for b in into:
                        self.lines.append(f"{inner}{a} -> {b};")
                first = first or into
                last = out
            if el.title:
                self.lines.append(f"{indent}}}")
            return first, last
        return self.parallel(el, indent)

    def parallel(self, el: Parallel, indent: str) -> tuple[list[str], list[str]]:
        inner = indent
        if el.framed:
            self.count += 1
            self.lines.append(f"{indent}subgraph cluster_{self.count} {{")
            inner = indent + "  "
            self.lines.append(f'{inner}label={_quote(el.title)}; style="rounded,filled"; fillcolor="{FRAME[0]}"; '
                              f'color="{FRAME[1]}";')
        fork = self.node_id()
        self.lines.append(f'{inner}{fork} [shape=point, width=0.05, label=""];')
        join = self.node_id()
        label = "+" if el.merge == "+" else "concat"
        shape = "circle" if el.merge == "+" else "box"
        xlabel = _quote(f"{el.title} → {el.shape}")
        self.lines.append(f"{inner}{join} [shape={shape}, label={_quote(label)}, xlabel={xlabel}, "
                          f'fillcolor="#ffffff", style="rounded,filled"];')
        for branch in el.branches:
            into, out = self.emit(branch, inner)
            if not into:
                self.lines.append(f"{inner}{fork} -> {join};")
                continue
            for b in into:
                self.lines.append(f"{inner}{fork} -> {b};")
            for a in out:
                self.lines.append(f"{inner}{a} -> {join};")
        if el.framed:
            self.lines.append(f"{indent}}}")
        return [fork], [join]


def dot(root: Series, *, title: str = "") -> str:
    """The DOT source of the diagram (top to bottom)."""
    writer = _Writer()
    writer.lines += [
        f"digraph {_quote(title or 'network')} {{",
        '  rankdir=TB; newrank=true; nodesep=0.25; ranksep=0.3;',
        f'  node [shape=box, style="rounded,filled", fontname="{FONT_FAMILY}", fontsize=10];',
        f'  edge [color="#475569", arrowsize=0.6]; graph [fontname="{FONT_FAMILY}", fontsize=10];',
    ]
    writer.emit(root, "  ")
    writer.lines.append("}")
    return "\n".join(writer.lines) + "\n"
