"""What a layer type is: the contract shared by built-in and plugin layers.

A :class:`LayerType` bundles three things so a layer is first-class everywhere:

* ``params`` — a pydantic model of the spec arguments (torch's own keyword
  names), validated strictly with ``extra="forbid"``;
* ``infer`` — the pure-Python shape rule ``(params, input_shape, ctx) ->
  LayerShape``. It must not import torch: ``cnnspec validate`` runs it;
* ``build`` — ``(kwargs) -> torch.nn.Module``, importing torch lazily.

Shapes are per sample (no batch dimension) and their entries are ``int`` or
symbolic :class:`~cnnspec.symbolic.Expr`; rules written with ``+ - * //``
work for both. Rules report problems through :class:`ShapeContext`, which
turns them into located, formatted :class:`~cnnspec.exceptions.ShapeError`\\ s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, field_validator

from cnnspec.exceptions import KeyPath, Location, ShapeError
from cnnspec.names import IDENTIFIER, RESERVED_NAMES
from cnnspec.symbolic import Dim, Expr, free_symbols, is_const

__all__ = [
    "RESERVED_NAMES",
    "Constraint",
    "LayerParams",
    "LayerShape",
    "LayerType",
    "ShapeContext",
    "fmt_shape",
    "torch_module",
]

Shape = tuple[Dim, ...]
RF = tuple[tuple[int, int], ...] | Literal["global"] | None



class LayerParams(BaseModel):
    """Base of every layer's argument model.

    Strict: ``kernel_size: "3"`` or ``true`` is an error, never coerced, and an
    unknown key is an error with a suggestion. ``name`` is the optional module
    name; the rest are the torch constructor's keyword arguments.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, defer_build=True)

    #: argument names that are inferred from the input when omitted
    inferred: ClassVar[tuple[str, ...]] = ()

    name: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not IDENTIFIER.match(value):
            raise ValueError(
                f"layer name {value!r} must be an identifier (letters, digits, _; "
                "not starting with a digit), since it becomes a module name"
            )
        if value in RESERVED_NAMES:
            raise ValueError(f"layer name {value!r} is an attribute of torch.nn.Module")
        return value

    def kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Constructor keyword arguments: every field but ``name``, with overrides."""
        out = {k: getattr(self, k) for k in type(self).model_fields if k != "name"}
        out.update(overrides)
        return out


@dataclass(frozen=True)
class LayerShape:
    """A shape rule's answer for one layer.

    ``kwargs`` are the constructor arguments the builder receives, with the
    inferred ones (``in_channels``...) filled in. ``rf`` describes how the
    layer grows the receptive field per trailing spatial dim as ``(effective
    kernel, stride)`` pairs; ``None`` means pointwise, ``"global"`` means every
    output sees the whole input.
    """

    shape: Shape
    params: int = 0
    macs: Dim = 0
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    rf: RF = None
    #: parameters that train (``None``: all of them); a frozen backbone reports 0
    trainable: int | None = None


@dataclass(frozen=True)
class Constraint:
    """A condition on symbolic input dims that some layer needs to hold.

    ``label`` names the layer with its path (``model[2] conv2d 'conv2'``),
    ``subject`` without it (``conv2d 'conv2'``).
    """

    path: str
    label: str
    lhs: Dim
    op: Literal[">=", "=="]
    rhs: Dim
    what: str
    subject: str = ""

    def __str__(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}  ({self.label}: {self.what})"


InferFn = Callable[[Any, Shape, "ShapeContext"], LayerShape]
BuildFn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class LayerType:
    """A layer the spec language knows, from cnnspec or from a plugin.

    ``name`` is the display name (the torch class name for built-ins) and is
    matched case-insensitively. ``prefix`` makes default module names
    (``conv1``, ``conv2``...). ``tags`` let tools find layers by role without
    knowing every type: ``"conv"`` marks spatial feature maps (Grad-CAM's
    default target), ``"inplace"`` an activation that may run in place.
    """

    name: str
    params: type[LayerParams]
    infer: InferFn
    build: BuildFn
    prefix: str = ""
    doc: str = ""
    tags: frozenset[str] = frozenset()

    @property
    def default_prefix(self) -> str:
        return self.prefix or self.name.lower()


def torch_module(class_name: str) -> BuildFn:
    """A builder for ``torch.nn.<class_name>(**kwargs)``, importing torch late."""

    def build(kwargs: Mapping[str, Any]) -> Any:
        import torch.nn

        cls = getattr(torch.nn, class_name)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})

    build.__name__ = f"build_{class_name}"
    build.__qualname__ = build.__name__
    return build


def fmt_shape(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


#: an argument's position: where its token is and its key path in the document
ArgLocator = Callable[[str], "tuple[Location | None, KeyPath] | None"]


class ShapeContext:
    """Where a shape rule reports problems; knows the layer and its location.

    ``collect`` receives constraints on symbolic dims: a condition that holds
    for some input sizes and not others is recorded, not raised, and the
    inference pass checks afterwards that one size satisfies them all.

    Every report may name the argument that caused it (``arg="kernel_size"``,
    or several, the first the spec writes wins): the error then points at
    that argument's own token, not only at the layer.
    """

    def __init__(
        self,
        *,
        type_name: str,
        name: str,
        path: str,
        location: Location | None,
        input_shape: Shape,
        collect: Callable[[Constraint], None] | None = None,
        key: KeyPath | None = None,
        locate_arg: ArgLocator | None = None,
    ) -> None:
        self.type_name = type_name
        self.name = name
        self.path = path
        self.location = location
        self.input_shape = input_shape
        self.key = key
        self._collect = collect
        self._locate_arg = locate_arg

    @property
    def subject(self) -> str:
        """The layer's type and name: ``conv2d 'conv3'``."""
        return f"{self.type_name.lower()} '{self.name}'"

    @property
    def label(self) -> str:
        return f"{self.path} {self.subject}"

    def _where(self, arg: str | Sequence[str] | None) -> tuple[Location | None, KeyPath | None]:
        if arg is not None and self._locate_arg is not None:
            for name in (arg,) if isinstance(arg, str) else arg:
                found = self._locate_arg(name)
                if found is not None:
                    return found
        return self.location, self.key

    def error(self, what: str, *, hint: str | None = None, arg: str | Sequence[str] | None = None) -> ShapeError:
        location, key = self._where(arg)
        err = ShapeError(f"{self.label}: {what}", location=location, path=self.path, key=key, hint=hint)
        err.subject, err.detail = self.subject, what
        return err

    def fail(self, what: str, *, hint: str | None = None, arg: str | Sequence[str] | None = None) -> NoReturn:
        raise self.error(what, hint=hint, arg=arg)

    def input_text(self) -> str:
        return f"input is {fmt_shape(self.input_shape)}"

    def require_rank(self, ranks: Sequence[int], meaning: str) -> None:
        """Fail unless the per-sample input has one of ``ranks`` dims."""
        rank = len(self.input_shape)
        if rank not in ranks:
            want = " or ".join(str(r) for r in ranks)
            self.fail(
                f"expects a per-sample input of {want} dims ({meaning}), "
                f"got {rank}: {self.input_text()}",
                hint="check the layers before it; a flatten may be misplaced, "
                "or the input needs a channel dim",
            )

    def concrete(self, value: Dim, what: str, *, hint: str | None = None) -> int:
        """``value`` as an int, or a failure naming the symbols it depends on."""
        if is_const(value):
            return int(value)  # type: ignore[arg-type]
        symbols = ", ".join(sorted(free_symbols(value)))
        self.fail(
            f"{what} must be a fixed number, but it depends on {symbols}: {value}",
            hint=hint or f"give {symbols} fixed values in `input:`",
        )

    def require_positive(self, value: Dim, *, what: str, arithmetic: str, hint: str | None,
                         arg: str | Sequence[str] | None = None) -> None:
        """Fail (or, if symbolic, record) unless ``value >= 1``."""
        if isinstance(value, Expr):
            if self._collect is not None:
                self._collect(Constraint(self.path, self.label, value, ">=", 1, what, self.subject))
            return
        if value < 1:
            self.fail(f"{what} would be {value}: {arithmetic}, {self.input_text()}.", hint=hint, arg=arg)

    def require_equal(self, a: Dim, b: Dim, *, what: str, hint: str | None,
                      arg: str | Sequence[str] | None = None) -> None:
        """Fail (or, if symbolic, record) unless ``a == b``."""
        if a == b:
            return
        if (isinstance(a, Expr) or isinstance(b, Expr)) and self._collect is not None:
            self._collect(Constraint(self.path, self.label, a, "==", b, what, self.subject))
            return
        self.fail(what, hint=hint, arg=arg)
