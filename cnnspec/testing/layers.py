"""``check_layer``: a layer's static shape rule against its real module's forward.

A shape rule is a second implementation of what the module does, and the two
drift apart at the edges. So this draws many random valid argument sets (from
the params model) and input shapes, and for each one compares

* the rule's verdict with torch's: the rule must reject exactly the inputs on
  which building the module or running its forward raises;
* when both accept, the output shape and the parameter count;
* the same rule on symbolic spatial dims (``[C, S1, S2]``) evaluated at the
  drawn sizes, so specs with ``input: [3, H, W]`` get the same answers.

A disagreement is shrunk to a small counterexample (fewer arguments, smaller
numbers, smaller inputs) and raised as :class:`LayerCheckError`, an
``AssertionError`` that reads well in a pytest report.

This module draws and reports; one trial is :mod:`cnnspec.testing.trial`,
the shrinking :mod:`cnnspec.testing.shrink`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cnnspec.exceptions import LayerCheckError
from cnnspec.layer import LayerType, fmt_shape
from cnnspec.testing.draw import CannotDraw, ParamDrawer
from cnnspec.testing.shrink import shrink as shrink_counterexample
from cnnspec.testing.trial import Checker, Outcome, Shape

__all__ = ["LayerCheckError", "LayerCheckReport", "check_layer", "fill_inferred"]

#: per-sample input ranks tried when ``ranks`` is not given
DEFAULT_RANKS = (1, 2, 3, 4, 5)
_PROBE_PER_RANK = 8
_MAX_INVALID = 20


@dataclass
class LayerCheckReport:
    """What ``check_layer`` compared: counts of each verdict."""

    layer: str
    trials: int = 0
    accepted: int = 0
    rejected: int = 0
    stricter: int = 0
    symbolic: int = 0
    invalid_draws: int = 0
    accepted_ranks: dict[int, int] = field(default_factory=dict)

    def __str__(self) -> str:
        ranks = ", ".join(f"rank {r}: {n}" for r, n in sorted(self.accepted_ranks.items())) or "none"
        return (f"{self.layer}: {self.trials} trials, {self.accepted} accepted by both ({ranks}), "
                f"{self.rejected} rejected by both, {self.stricter} rejected on purpose, "
                f"{self.symbolic} also checked symbolically")


def fill_inferred(name: str, shape: Sequence[int]) -> int:
    """The value torch needs for an inferred argument, read off the input.

    ``in_features`` is the last dim; every other inferred argument
    (``in_channels``, ``num_features``, ``num_channels``) is the first.
    """
    return int(shape[-1] if name == "in_features" else shape[0])


def check_layer(
    layer_type: LayerType | str,
    *,
    trials: int = 200,
    seed: int = 0,
    ranks: Sequence[int] | None = None,
    max_size: int = 10,
    shapes: Callable[[random.Random], Sequence[int]] | None = None,
    batch: int = 2,
    choices: Mapping[str, Sequence[Any]] | None = None,
    fixed: Mapping[str, Any] | None = None,
    stricter: Callable[[Any, Shape], bool] | None = None,
    fill: Callable[[str, Sequence[int]], int] = fill_inferred,
    symbolic: bool = True,
    train: bool = True,
    shrink: bool = True,
) -> LayerCheckReport:
    """Check ``layer_type``'s shape rule against torch on ``trials`` random draws.

    ``layer_type`` is a :class:`~cnnspec.layer.LayerType` or a registered
    layer name. ``ranks`` are the per-sample input ranks to draw (default:
    probe 1..5 and favour the ones the rule accepts); dims are drawn from
    ``1..max_size``, and also from the integers in the drawn arguments so that
    arguments which must match the input (a ``normalized_shape``) do so
    sometimes; ``shapes(rng)`` replaces that drawing altogether (a layer that
    needs 3 channels and 32 pixels). ``choices``/``fixed`` steer the arguments (see
    :class:`~cnnspec.testing.draw.ParamDrawer`). ``stricter(params, shape)``
    marks inputs the rule rejects on purpose although torch would run them
    (for example a flatten that would mix samples); those must be rejected and
    are not compared. ``fill(name, shape)`` gives inferred arguments their
    torch value when the rule rejected and the module is built from the raw
    arguments. The module runs on a ``batch``-sized random tensor, in
    training mode unless ``train`` is false.

    Returns a :class:`LayerCheckReport`; raises :class:`LayerCheckError` with
    a shrunk counterexample on the first disagreement, or when the rule
    accepted no draw at all (nothing would have been compared).
    """
    lt = _layer_type(layer_type)
    checker = Checker(lt, batch=batch, stricter=stricter, fill=fill, symbolic=symbolic, train=train)
    drawer = ParamDrawer(lt.params, choices=choices, fixed=fixed)
    rng = random.Random(seed)
    report = LayerCheckReport(lt.name)
    all_ranks = tuple(ranks) if ranks else DEFAULT_RANKS
    probing = ranks is None and shapes is None
    good_ranks: set[int] = set()
    with _torch_rng(seed):
        for trial in range(trials):
            if probing and trial < _PROBE_PER_RANK * len(all_ranks):
                rank = all_ranks[trial % len(all_ranks)]
            elif probing and good_ranks and rng.random() < 0.8:
                rank = rng.choice(sorted(good_ranks))
            else:
                rank = rng.choice(all_ranks)
            args, params = _draw_valid(drawer, lt, rng, report)
            shape = tuple(shapes(rng)) if shapes else _draw_shape(rng, rank, args, max_size)
            rank = len(shape)
            outcome = checker.run(params, shape)
            report.trials += 1
            if outcome.kind:
                ranks_ok = good_ranks | {rank} if probing else ({rank} if shapes else set(all_ranks))
                _fail(checker, args, shape, outcome, trial, trials, seed, shrink, ranks_ok)
            if outcome.verdict == "accepted":
                good_ranks.add(rank)
                report.accepted += 1
                report.accepted_ranks[rank] = report.accepted_ranks.get(rank, 0) + 1
            elif outcome.verdict == "rejected":
                report.rejected += 1
            elif outcome.verdict == "stricter":
                report.stricter += 1
            if outcome.rule == "symbolic":
                report.symbolic += 1
    if report.trials and not report.accepted:
        raise LayerCheckError(
            f"{lt.name}: the shape rule accepted none of {report.trials} random draws (ranks "
            f"{', '.join(map(str, all_ranks))}), so nothing was compared with torch; pass ranks=, "
            "choices= or fixed= so that some inputs are valid",
            layer=lt.name, kind="vacuous",
        )
    return report


# -- drawing ------------------------------------------------------------------------------
def _layer_type(layer_type: LayerType | str) -> LayerType:
    if isinstance(layer_type, LayerType):
        return layer_type
    from cnnspec.plugins.manager import get_plugins

    return get_plugins().layers().get(layer_type)


def _draw_valid(drawer: ParamDrawer, lt: LayerType, rng: random.Random,
                report: LayerCheckReport) -> tuple[dict[str, Any], Any]:
    """Arguments the params model accepts (cross-field validators may refuse some draws)."""
    last: Exception | None = None
    for _ in range(_MAX_INVALID):
        try:
            args = drawer.draw(rng)
            return args, lt.params.model_validate(args)
        except ValidationError as exc:
            report.invalid_draws += 1
            last = exc
        except CannotDraw as exc:
            raise LayerCheckError(f"{lt.name}: cannot draw arguments: {exc}", layer=lt.name, kind="draw") from None
    raise LayerCheckError(
        f"{lt.name}: {_MAX_INVALID} drawn argument sets in a row were refused by {lt.params.__name__} "
        f"(last: {' '.join(str(last).split())}); pass choices= or fixed= to draw valid ones",
        layer=lt.name, kind="draw",
    )


def _draw_shape(rng: random.Random, rank: int, args: Mapping[str, Any], max_size: int) -> Shape:
    pool = sorted({v for v in _ints(args.values()) if 1 <= v <= 4 * max_size})
    top = max_size if rank < 4 else max(2, max_size * 2 // 3)
    dims = []
    for i in range(rank):
        if pool and rng.random() < 0.4:
            dims.append(rng.choice(pool))
        else:
            dims.append(rng.randint(1, min(top, 8) if i == 0 else top))
    return tuple(dims)


def _ints(values: Any) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(_ints(v))
    return out


class _torch_rng:
    """Seed torch for the check without disturbing the caller's global RNG."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        import torch

        self._state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.random.set_rng_state(self._state)


# -- reporting ------------------------------------------------------------------------------
def _fail(checker: Checker, args: dict[str, Any], shape: Shape, outcome: Outcome, trial: int, trials: int,
          seed: int, shrink: bool, ranks: set[int]) -> None:
    """Raise :class:`LayerCheckError` with the (shrunk) counterexample."""
    original = (dict(args), shape)
    if shrink:
        args, shape, outcome = shrink_counterexample(checker, args, shape, outcome, ranks)
    lines = [
        f"{checker.lt.name}: the shape rule disagrees with torch ({_KINDS[outcome.kind]}); "
        f"found at trial {trial + 1} of {trials} with seed={seed}",
        f"  arguments: {_yaml_args(args)}",
        f"  input:     {fmt_shape(shape)} per sample (torch got {fmt_shape((checker.batch, *shape))})",
        f"  rule:      {outcome.rule}",
    ]
    if outcome.torch:
        lines.append(f"  torch:     {outcome.torch}")
    if (dict(args), shape) != original:
        lines.append(f"  (shrunk from arguments {_yaml_args(original[0])} on input {fmt_shape(original[1])})")
    raise LayerCheckError("\n".join(lines), layer=checker.lt.name, arguments=args, input_shape=shape,
                          kind=outcome.kind)


_KINDS = {
    "crash": "the rule crashed instead of reporting a ShapeError",
    "torch-raises": "the rule accepts an input on which torch raises",
    "rule-rejects": "the rule rejects an input torch runs",
    "shape": "output shapes differ",
    "params": "parameter counts differ",
    "symbolic": "the rule on symbolic dims disagrees with the rule on numbers",
}


def _yaml_args(args: Mapping[str, Any]) -> str:
    if not args:
        return "{} (all defaults)"
    return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in args.items()) + "}"


def _yaml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    return str(v)
