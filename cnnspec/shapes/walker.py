"""Static shape inference: walk the layer tree, no torch, no tensors.

For every layer the per-sample output shape, parameter count, MACs (counted
as torchinfo counts them), activation size and receptive field; for
containers the static rules of their combinators (``+`` broadcasting for
``residual``, ``torch.cat`` for ``concat``). With symbolic input dims the
shapes are closed-form expressions, size-dependent conditions are collected
as constraints, and the smallest input size satisfying all of them is found
by exact evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from cnnspec.exceptions import Location, ShapeError, SpecError
from cnnspec.layer import Constraint, LayerShape, LayerType, ShapeContext, fmt_shape
from cnnspec.load.reader import format_path
from cnnspec.shapes.solver import MAX_SOLVE_SIZE, solve_min_size
from cnnspec.shapes.trace import LayerInfo, Shape, ShapeTrace
from cnnspec.spec import LayerNode, Spec
from cnnspec.symbolic import Dim, Expr, evaluate, free_symbols, symbol

__all__ = ["MAX_SOLVE_SIZE", "LayerInfo", "ShapeTrace", "check_size", "infer_shapes"]

RFState = tuple[tuple[int, int], ...] | Literal["global"]

#: most layers a spec may unroll to (nested repeats multiply)
MAX_LAYERS = 20_000


def _rf_start(shape: Shape) -> RFState:
    return tuple((1, 1) for _ in shape[1:])


def _rf_apply(state: RFState, rf: Any) -> RFState:
    if state == "global" or rf is None:
        return state
    if rf == "global":
        return "global"
    m = len(rf)
    if m > len(state):
        return state
    head, tail = state[: len(state) - m], state[len(state) - m :]
    return (*head, *((r + (k - 1) * j, j * s) for (r, j), (k, s) in zip(tail, rf)))


def _rf_merge(states: Sequence[RFState]) -> RFState:
    if any(s == "global" for s in states):
        return "global"
    lens = {len(s) for s in states}
    if len(lens) != 1:
        return "global"
    return tuple((max(s[i][0] for s in states), max(s[i][1] for s in states)) for i in range(lens.pop()))  # type: ignore[index]


def _rf_view(state: RFState) -> tuple[int, ...] | Literal["global"]:
    return state if state == "global" else tuple(r for r, _ in state)


class _Walker:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.doc = spec.document
        self.constraints: list[Constraint] = []
        self.count = 0

    def location(self, node: LayerNode) -> Location | None:
        return self.doc.locate(node.path)

    def arg_locator(self, node: LayerNode) -> Any:
        """Where an argument of ``node`` is written: its key's token and key path (``None`` if not written)."""

        def locate(arg: str) -> tuple[Location | None, tuple[str | int, ...]] | None:
            item: Any = self.doc.data
            for part in node.path:
                item = item[part]
            if not isinstance(item, dict) or len(item) != 1:
                return None
            ((type_key, args),) = item.items()
            if not isinstance(args, dict) or arg not in args:
                return None
            key = (*node.path, type_key, arg)
            return self.doc.locate(key, key=True), key

        return locate

    def walk_list(self, nodes: Sequence[LayerNode], shape: Shape, rf: RFState, prefix: str,
                  depth: int, note: str = "") -> tuple[list[LayerInfo], Shape, RFState]:
        infos = []
        for node in nodes:
            info, shape, rf = self.walk_node(node, shape, rf, prefix, depth, note)
            infos.append(info)
        return infos, shape, rf

    def walk_node(self, node: LayerNode, shape: Shape, rf: RFState, prefix: str, depth: int,
                  note: str) -> tuple[LayerInfo, Shape, RFState]:
        qual = f"{prefix}.{node.name}" if prefix else node.name
        path = format_path(node.path) + note
        if node.kind == "layer":
            return self.leaf(node, shape, rf, qual, path, depth)
        return getattr(self, node.kind)(node, shape, rf, qual, path, depth, note)

    def leaf(self, node: LayerNode, shape: Shape, rf: RFState, qual: str, path: str,
             depth: int) -> tuple[LayerInfo, Shape, RFState]:
        layer_type = node.layer_type
        assert layer_type is not None
        self.count += 1
        if self.count > MAX_LAYERS:
            raise ShapeError(f"{path}: the spec unrolls to more than {MAX_LAYERS:,} layers",
                             location=self.location(node), path=path, key=node.path,
                             hint="check the times of nested repeat blocks")
        ctx = ShapeContext(type_name=layer_type.name, name=node.name, path=path,
                           location=self.location(node), input_shape=shape,
                           collect=self.constraints.append, key=tuple(node.path),
                           locate_arg=self.arg_locator(node))
        try:
            result = layer_type.infer(node.params, shape, ctx)
        except SpecError:
            raise
        except Exception as exc:  # a broken rule must still end in a located error
            provider = self.spec.plugins.layers().entry(layer_type.name).provider
            raise ctx.error(
                f"the shape rule of {layer_type.name} ({provider}) failed: {type(exc).__name__}: {exc}",
                hint="this is a bug in that layer's shape rule; please report it to its author",
            ) from None
        self.check_result(result, ctx, layer_type)
        new_rf = _rf_apply(rf, result.rf)
        info = LayerInfo(
            name=node.name, qualname=qual, path=path, kind="layer", type=layer_type.name,
            input_shape=shape, output_shape=tuple(result.shape), params=result.params, macs=result.macs,
            rf=_rf_view(new_rf), kwargs=dict(result.kwargs), layer_type=layer_type, depth=depth,
            location=ctx.location, spec_path=tuple(node.path), trainable=result.trainable,
        )
        return info, info.output_shape, new_rf

    def check_result(self, result: Any, ctx: ShapeContext, layer_type: LayerType) -> None:
        if not isinstance(result, LayerShape):
            ctx.fail(f"the shape rule of {layer_type.name} returned {type(result).__name__}, not LayerShape",
                     hint="a shape rule must return cnnspec.layer.LayerShape")
        if not result.shape or not all(isinstance(d, (int, Expr)) and not isinstance(d, bool) for d in result.shape):
            ctx.fail(f"the shape rule of {layer_type.name} returned an invalid shape {result.shape!r}",
                     hint="shapes are non-empty tuples of ints (or symbolic dims)")
        for d in result.shape:
            if isinstance(d, int) and d < 1:
                ctx.fail(f"output shape would be {fmt_shape(result.shape)}, {ctx.input_text()}",
                         hint="every output dim must be at least 1")

    # -- containers ------------------------------------------------------------------

    def container_info(self, node: LayerNode, qual: str, path: str, depth: int, shape: Shape,
                       out: Shape, rf: RFState, children: list[LayerInfo], role: str = "",
                       **extra: Any) -> LayerInfo:
        return LayerInfo(
            name=node.name, qualname=qual, path=path, kind=node.kind, type=node.kind,
            input_shape=shape, output_shape=out, params=sum(c.params for c in children),
            macs=sum((c.macs for c in children), 0), rf=_rf_view(rf), children=children, depth=depth,
            location=self.location(node), role=role, extra=extra, spec_path=tuple(node.path),
        )

    def block(self, name: str, qual: str, path: str, depth: int, nodes: Sequence[LayerNode], shape: Shape,
              rf: RFState, role: str, note: str) -> tuple[LayerInfo, Shape, RFState]:
        children, out, new_rf = self.walk_list(nodes, shape, rf, qual, depth + 1, note)
        info = LayerInfo(
            name=name, qualname=qual, path=path, kind="sequential", type="sequential",
            input_shape=shape, output_shape=out, params=sum(c.params for c in children),
            macs=sum((c.macs for c in children), 0), rf=_rf_view(new_rf), children=children, depth=depth,
            role=role,
        )
        return info, out, new_rf

    def sequential(self, node, shape, rf, qual, path, depth, note):
        children, out, new_rf = self.walk_list(node.children, shape, rf, qual, depth + 1, note)
        return self.container_info(node, qual, path, depth, shape, out, new_rf, children), out, new_rf

    def repeat(self, node, shape, rf, qual, path, depth, note):
        times = node.args.times
        reps: list[LayerInfo] = []
        current, cur_rf = shape, rf
        for i in range(times):
            rep_note = f"{note} (repetition {i + 1} of {times})"
            rep_qual = f"{qual}.{i}"
            if len(node.children) == 1:
                info, current, cur_rf = self.walk_node(node.children[0], current, cur_rf, qual, depth + 1, rep_note)
                _rename(info, str(i), rep_qual)
            else:
                info, current, cur_rf = self.block(str(i), rep_qual, path + rep_note, depth + 1, node.children,
                                                   current, cur_rf, "repeat", rep_note)
            reps.append(info)
        return self.container_info(node, qual, path, depth, shape, current, cur_rf, reps, times=times), current, cur_rf

    def residual(self, node, shape, rf, qual, path, depth, note):
        body, body_out, body_rf = self.block("body", f"{qual}.body", path, depth + 1, node.children,
                                             shape, rf, "body", note)
        children = [body]
        if node.shortcut:
            short, short_out, short_rf = self.block("shortcut", f"{qual}.shortcut", path, depth + 1,
                                                    node.shortcut, shape, rf, "shortcut", note)
            children.append(short)
        else:
            short_out, short_rf = shape, rf
        ctx = self.context(node, path, shape)
        out = self.broadcast(ctx, body_out, short_out)
        new_rf = _rf_merge([body_rf, short_rf])
        return self.container_info(node, qual, path, depth, shape, out, new_rf, children), out, new_rf

    def broadcast(self, ctx: ShapeContext, a: Shape, b: Shape) -> Shape:
        """torch's ``a + b`` broadcasting, per sample (the batch dims line up)."""
        what = (f"the layers give {fmt_shape(a)} but the shortcut gives {fmt_shape(b)}; "
                "torch cannot add them")
        hint = ("make both paths end in the same shape, e.g. a 1x1 conv2d with the same stride "
                "in shortcut")
        if len(a) != len(b):
            ctx.fail(what, hint=hint)
        out = []
        for x, y in zip(a, b):
            if x == y or y == 1:
                out.append(x)
            elif x == 1:
                out.append(y)
            else:
                ctx.require_equal(x, y, what=what, hint=hint)
                out.append(x)
        return tuple(out)

    def concat(self, node, shape, rf, qual, path, depth, note):
        ctx = self.context(node, path, shape)
        rank = len(shape)
        branches, outs, rfs = [], [], []
        for i, nodes in enumerate(node.branches):
            info, out, b_rf = self.block(f"branch{i + 1}", f"{qual}.branch{i + 1}", path, depth + 1, nodes,
                                         shape, rf, "branch", note)
            branches.append(info)
            outs.append(out)
            rfs.append(b_rf)
        ranks = {len(o) for o in outs}
        if len(ranks) != 1:
            ctx.fail("branches end in different ranks: " + ", ".join(fmt_shape(o) for o in outs),
                     hint="every branch must give the same number of dims")
        rank = ranks.pop() + 1  # torch.cat sees the batch dim
        dim = node.args.dim
        if not -rank <= dim < rank or dim % rank == 0:
            ctx.fail(f"dim {dim} must name a per-sample dim (1..{rank - 1}) of the {rank}-dim batched output",
                     hint="dim: 1 concatenates channels")
        d = dim % rank - 1
        for i, o in enumerate(outs[1:], start=2):
            for j, (x, y) in enumerate(zip(outs[0], o)):
                if j != d:
                    ctx.require_equal(
                        x, y,
                        what=(f"branch 1 gives {fmt_shape(outs[0])} but branch {i} gives {fmt_shape(o)}; "
                              f"torch.cat needs equal sizes except in dim {dim}"),
                        hint="give the branches the same stride and padding so their spatial sizes agree",
                    )
        total: Dim = 0
        for o in outs:
            total = total + o[d]
        out = tuple(total if j == d else x for j, x in enumerate(outs[0]))
        new_rf = _rf_merge(rfs)
        return self.container_info(node, qual, path, depth, shape, out, new_rf, branches, dim=dim), out, new_rf

    def context(self, node: LayerNode, path: str, shape: Shape) -> ShapeContext:
        return ShapeContext(type_name=node.kind, name=node.name, path=path, location=self.location(node),
                            input_shape=shape, collect=self.constraints.append, key=tuple(node.path),
                            locate_arg=self.arg_locator(node))


def _rename(info: LayerInfo, name: str, qual: str) -> None:
    old = info.qualname
    info.name = name
    for sub in _walk_one(info):
        sub.qualname = qual + sub.qualname[len(old):]


def _walk_one(info: LayerInfo) -> Iterator[LayerInfo]:
    yield info
    for c in info.children:
        yield from _walk_one(c)


def _run(spec: Spec, input_shape: Shape) -> ShapeTrace:
    walker = _Walker(spec)
    layers, out, _ = walker.walk_list(spec.layers, input_shape, _rf_start(input_shape), "", 0)
    return ShapeTrace(spec, input_shape, out, layers, walker.constraints)


def _concrete_input(spec: Spec, env: Mapping[str, int]) -> Shape:
    return tuple(env[d] if isinstance(d, str) else d for d in spec.input)


def check_size(spec: Spec, env: Mapping[str, int]) -> SpecError | None:
    """``None`` if the spec is valid with the symbols bound by ``env``, else why not."""
    try:
        _run(spec, _concrete_input(spec, env))
    except SpecError as exc:
        return exc
    return None


def infer_shapes(spec: Spec, *, input_shape: Sequence[Dim | str] | None = None) -> ShapeTrace:
    """Infer every layer's shape, parameters and MACs; raise ShapeError if
    torch would fail on the stack.

    ``input_shape`` overrides the spec's ``input`` (names are symbols).
    """
    dims = spec.input if input_shape is None else tuple(input_shape)
    shape: Shape = tuple(symbol(d) if isinstance(d, str) else d for d in dims)
    try:
        trace = _run(spec, shape)
        if any(isinstance(d, Expr) for d in shape) and input_shape is None:
            trace.min_size = solve_min_size(trace.symbols, lambda env: check_size(spec, env),
                                            spec.document.locate(("input",)))
    except SpecError as exc:
        if exc.spec is None and input_shape is None:
            exc.spec = spec  # whoever reports it can search fix-its from the spec
        raise
    return trace


def shape_at(shape: Shape, env: Mapping[str, int]) -> tuple[int, ...]:
    """A symbolic shape evaluated at concrete sizes."""
    return tuple(evaluate(d, env) for d in shape)


def depends_on(shape: Shape) -> set[str]:
    out: set[str] = set()
    for d in shape:
        out |= free_symbols(d)
    return out
