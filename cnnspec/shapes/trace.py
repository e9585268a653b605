"""What static inference produces: one :class:`LayerInfo` per module, in a :class:`ShapeTrace`.

Pure data with a few views (totals, a depth-first walk, leaves, lookup by
qualified name): the report, the builder, the analysis tools and the
explainers all read traces, none re-derives shapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cnnspec.exceptions import Location, SpecError
from cnnspec.layer import Constraint, LayerType
from cnnspec.symbolic import Dim, product

if TYPE_CHECKING:
    from cnnspec.spec import Spec

__all__ = ["LayerInfo", "Shape", "ShapeTrace"]

Shape = tuple[Dim, ...]


@dataclass
class LayerInfo:
    """One module of the model, as inference sees it.

    ``name`` is the module's own name, ``qualname`` its dotted path in the
    built model (``features.conv1``). ``kind`` is ``"layer"`` or a container
    keyword; ``role`` marks the synthetic blocks containers add (``body``,
    ``shortcut``, ``branch``, ``repeat``).
    """

    name: str
    qualname: str
    path: str
    kind: str
    type: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: Dim
    rf: tuple[int, ...] | Literal["global"]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    children: list[LayerInfo] = field(default_factory=list)
    layer_type: LayerType | None = None
    depth: int = 0
    location: Location | None = None
    role: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the layer's path in the spec document (``("model", 3)``); ``()`` for synthetic blocks
    spec_path: tuple[str | int, ...] = ()
    #: parameters with ``requires_grad`` (``None``: all of ``params``)
    trainable: int | None = None

    @property
    def trainable_params(self) -> int:
        if self.is_leaf:
            return self.params if self.trainable is None else self.trainable
        return sum(c.trainable_params for c in self.children)

    @property
    def is_leaf(self) -> bool:
        return self.kind == "layer"

    @property
    def activation_numel(self) -> Dim:
        return product(self.output_shape)


@dataclass
class ShapeTrace:
    """The result of :func:`infer_shapes` for one spec."""

    spec: Spec
    input_shape: Shape
    output_shape: Shape
    layers: list[LayerInfo]
    constraints: list[Constraint] = field(default_factory=list)
    min_size: dict[str, int] = field(default_factory=dict)

    @property
    def params(self) -> int:
        return sum(info.params for info in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(info.trainable_params for info in self.layers)

    @property
    def macs(self) -> Dim:
        total: Dim = 0
        for info in self.walk():
            if info.is_leaf:
                total = total + info.macs
        return total

    @property
    def symbols(self) -> list[str]:
        return [d for d in self.spec.input if isinstance(d, str)]

    def walk(self) -> Iterator[LayerInfo]:
        """Every module, depth-first, containers before their children."""

        def rec(infos: Sequence[LayerInfo]) -> Iterator[LayerInfo]:
            for info in infos:
                yield info
                yield from rec(info.children)

        return rec(self.layers)

    def leaves(self) -> list[LayerInfo]:
        return [info for info in self.walk() if info.is_leaf]

    def find(self, qualname: str) -> LayerInfo:
        for info in self.walk():
            if info.qualname == qualname:
                return info
        known = ", ".join(i.qualname for i in self.walk())
        raise SpecError(f"no layer named '{qualname}'", hint=f"layers: {known}")
