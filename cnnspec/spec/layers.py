"""The layer list: ``model:`` entries parsed into a tree of :class:`LayerNode`.

A layer entry is ``{type: {args}}`` or a bare ``type``; the type is a
registered layer (torch.nn class names, matched case-insensitively) or one of
the containers ``sequential``, ``repeat``, ``residual``, ``concat``. Layer
arguments are validated against the layer type's own params model, so plugin
layers are checked exactly like built-in ones, and every error is located in
the source. Unnamed layers get stable default names (``conv1``, ``conv2``...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, ValidationError

from cnnspec.component import SpecModel
from cnnspec.exceptions import SpecError
from cnnspec.layer import LayerParams, LayerType
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.names import CONTAINER_KEYWORDS, IDENTIFIER, RESERVED_NAMES, suggest
from cnnspec.plugins.manager import PluginSet
from cnnspec.plugins.registry import RegistryError
from cnnspec.spec.errors import translate

__all__ = ["CONTAINERS", "MAX_REPEAT", "LayerNode", "LayerParser", "describe_kind"]

#: a repeat block is unrolled into modules; more copies than this is a typo, not a network
MAX_REPEAT = 1000



class SequentialArgs(SpecModel):
    """A named block of layers, built as a nested ``nn.Sequential``."""

    name: str | None = Field(default=None, description="module name of the block (default block1, block2...)")
    layers: list[Any] = Field(min_length=1, description="the layers of the block, in order")


class RepeatArgs(SpecModel):
    """``times`` copies of the layers, each inferred on the previous copy's output."""

    name: str | None = Field(default=None, description="module name (default repeat1...); copies are 0, 1, ...")
    times: int = Field(ge=1, le=MAX_REPEAT, description=f"how many copies (at most {MAX_REPEAT})")
    layers: list[Any] = Field(min_length=1, description="the layers one copy consists of")


class ResidualArgs(SpecModel):
    """``body(x) + shortcut(x)`` with torch's broadcasting (ResNet's blocks)."""

    name: str | None = Field(default=None, description="module name (default residual1...)")
    layers: list[Any] = Field(min_length=1, description="the body: layers on the main path")
    shortcut: list[Any] | None = Field(default=None, description="layers on the skip path; none = identity")


class ConcatArgs(SpecModel):
    """``torch.cat`` of parallel branches (Inception's blocks)."""

    name: str | None = Field(default=None, description="module name (default concat1...)")
    branches: list[list[Any]] = Field(min_length=1, description="each branch is a list of layers on the same input")
    dim: int = Field(default=1, description="batched dim to concatenate on (1 = channels)")


#: container keyword -> (args model, default name prefix)
CONTAINERS: dict[str, tuple[type[SpecModel], str]] = {
    "sequential": (SequentialArgs, "block"),
    "repeat": (RepeatArgs, "repeat"),
    "residual": (ResidualArgs, "residual"),
    "concat": (ConcatArgs, "concat"),
}
assert set(CONTAINERS) == CONTAINER_KEYWORDS, "the container keywords are declared in cnnspec.names"


@dataclass
class LayerNode:
    """One entry of ``model:`` after validation, before shapes are known.

    ``kind`` is ``"layer"`` or a container keyword. Containers keep their
    sub-lists in ``children`` (sequential, repeat, residual body), ``shortcut``
    (residual) and ``branches`` (concat).
    """

    kind: str
    name: str
    path: PathKey
    layer_type: LayerType | None = None
    params: LayerParams | None = None
    args: Any = None
    children: list[LayerNode] = field(default_factory=list)
    shortcut: list[LayerNode] | None = None
    branches: list[list[LayerNode]] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        return self.layer_type.name if self.layer_type else self.kind

    @property
    def label(self) -> str:
        return f"{format_path(self.path)} {self.type_name.lower()} '{self.name}'"


class LayerParser:
    def __init__(self, doc: Document, plugins: PluginSet) -> None:
        self.doc = doc
        self.registry = plugins.layers()
        self.errors: list[SpecError] = []

    def parse_list(self, items: Sequence[Any], path: PathKey) -> list[LayerNode]:
        nodes = []
        for i, item in enumerate(items):
            node = self.parse_item(item, (*path, i))
            if node is not None:
                nodes.append(node)
        self.assign_names(nodes)
        return nodes

    def parse_item(self, item: Any, path: PathKey) -> LayerNode | None:
        where = format_path(path)
        if isinstance(item, str):
            type_name, args, args_path = item, {}, path
        elif isinstance(item, dict) and len(item) == 1:
            ((type_name, args),) = item.items()
            args_path = (*path, type_name)
            if args is None:
                args = {}
            if not isinstance(args, dict):
                self.errors.append(self.doc.error(
                    f"{where} {type_name}: arguments must be a mapping, got {describe_kind(args)}", args_path,
                    hint=f"write {type_name}: {{arg: value, ...}}"))
                return None
        else:
            shown = f"a mapping with {len(item)} keys ({', '.join(map(str, item))})" if isinstance(item, dict) \
                else describe_kind(item)
            self.errors.append(self.doc.error(
                f"{where}: a layer is a type name or a one-key mapping {{type: {{args}}}}, got {shown}", path,
                hint="put each layer in its own list item: - conv2d: {out_channels: 8, kernel_size: 3}"))
            return None
        key = type_name.lower()
        if key in CONTAINERS:
            return self.parse_container(key, args, path, args_path)
        try:
            layer_type = self.registry.get(type_name)
        except RegistryError as exc:
            message = exc.message
            if "did you mean" not in message:
                close = suggest(type_name, [*self.registry.names(), *CONTAINERS])
                if close:
                    message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            hint = exc.hint if exc.hint and "did you mean" not in message else None
            self.errors.append(self.doc.error(f"{where}: {message}", path if isinstance(item, str)
                                              else (*path, type_name), key=not isinstance(item, str),
                                              hint=hint))
            return None
        label = f"{where} {layer_type.name.lower()}"
        try:
            params = layer_type.params.model_validate(args)
        except ValidationError as exc:
            self.errors.extend(translate(
                exc, self.doc, args_path, args, layer_type.params, owner=label))
            return None
        return LayerNode("layer", params.name or "", path, layer_type=layer_type, params=params, args=args)

    def parse_container(self, kind: str, args: dict[str, Any], path: PathKey, args_path: PathKey) -> LayerNode | None:
        model, _ = CONTAINERS[kind]
        label = f"{format_path(path)} {kind}"
        try:
            parsed = model.model_validate(args)
        except ValidationError as exc:
            self.errors.extend(translate(
                exc, self.doc, args_path, args, model, owner=label))
            return None
        name = parsed.name or ""
        if name and (not IDENTIFIER.match(name) or name in RESERVED_NAMES):
            self.errors.append(self.doc.error(
                f"{label}: the name {name!r} cannot be a module name", (*args_path, "name"),
                hint="use an identifier (letters, digits, _) that is not a torch.nn.Module attribute"))
        node = LayerNode(kind, name, path, args=parsed)
        if kind == "concat":
            node.branches = [self.parse_list(b, (*args_path, "branches", i)) for i, b in enumerate(parsed.branches)]
            for i, branch in enumerate(node.branches):
                if not branch and parsed.branches[i] == []:
                    self.errors.append(self.doc.error(
                        f"{label}: branch {i} is empty", (*args_path, "branches", i),
                        hint="a branch needs at least one layer (identity for a pass-through)"))
        else:
            node.children = self.parse_list(parsed.layers, (*args_path, "layers"))
        if kind == "residual" and parsed.shortcut is not None:
            node.shortcut = self.parse_list(parsed.shortcut, (*args_path, "shortcut"))
        return node

    def assign_names(self, nodes: list[LayerNode]) -> None:
        """Explicit names first (checked unique), then ``prefix1, prefix2...``.

        Counting per prefix keeps names stable: inserting a relu does not
        rename the convolutions.
        """
        taken: dict[str, LayerNode] = {}
        for node in nodes:
            if not node.name:
                continue
            if node.name in taken:
                first = taken[node.name]
                self.errors.append(self.doc.error(
                    f"{format_path(node.path)}: the layer name '{node.name}' is already used by "
                    f"{format_path(first.path)} in this block", node.path,
                    hint="names must be unique within a block (they become module names)"))
            taken.setdefault(node.name, node)
        counters: dict[str, int] = {}
        for node in nodes:
            if node.name:
                continue
            prefix = node.layer_type.default_prefix if node.layer_type else CONTAINERS[node.kind][1]
            n = counters.get(prefix, 0)
            while True:
                n += 1
                candidate = f"{prefix}{n}"
                if candidate not in taken:
                    break
            counters[prefix] = n
            node.name = candidate
            taken[candidate] = node


def describe_kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
