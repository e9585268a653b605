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
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cnnspec.exceptions import SpecError
from cnnspec.layer import Constraint, LayerShape, LayerType, ShapeContext, fmt_shape
from cnnspec.symbolic import Expr, evaluate, symbol
from cnnspec.testing.draw import CannotDraw, ParamDrawer

__all__ = ["LayerCheckError", "LayerCheckReport", "check_layer", "fill_inferred"]

Shape = tuple[int, ...]
#: per-sample input ranks tried when ``ranks`` is not given
DEFAULT_RANKS = (1, 2, 3, 4, 5)
_PROBE_PER_RANK = 8
_MAX_INVALID = 20
_MAX_SHRINK_STEPS = 300


class LayerCheckError(AssertionError):
    """The rule and the module disagree; the message holds a minimal counterexample."""

    def __init__(self, message: str, *, layer: str, arguments: Mapping[str, Any] | None = None,
                 input_shape: Shape | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.layer = layer
        self.arguments = dict(arguments or {})
        self.input_shape = input_shape
        self.kind = kind


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


@dataclass
class _Outcome:
    """One trial's verdict; ``kind`` is empty when rule and torch agree."""

    kind: str
    verdict: str = ""
    rule: str = ""
    torch: str = ""
    rank: int = 0


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
    checker = _Checker(lt, batch=batch, stricter=stricter, fill=fill, symbolic=symbolic, train=train)
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
                checker.fail(args, shape, outcome, trial, trials, seed, shrink, ranks_ok)
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


# -- one trial ------------------------------------------------------------------------------
class _Checker:
    def __init__(self, lt: LayerType, *, batch: int, stricter: Callable[[Any, Shape], bool] | None,
                 fill: Callable[[str, Sequence[int]], int], symbolic: bool, train: bool) -> None:
        self.lt = lt
        self.batch = batch
        self.stricter = stricter
        self.fill = fill
        self.symbolic = symbolic
        self.train = train

    def rule(self, params: Any, shape: tuple[Any, ...]) -> tuple[str, Any, list[Constraint]]:
        """``("ok", LayerShape)``, ``("reject", message)`` or ``("crash", message)``."""
        constraints: list[Constraint] = []
        ctx = ShapeContext(type_name=self.lt.name, name=f"{self.lt.default_prefix}1", path="model[0]",
                           location=None, input_shape=shape, collect=constraints.append)
        try:
            result = self.lt.infer(params, shape, ctx)
        except SpecError as exc:
            return "reject", exc.message, constraints
        except Exception as exc:
            return "crash", f"raises {type(exc).__name__}: {exc}", constraints
        if not isinstance(result, LayerShape):
            return "crash", f"returns {type(result).__name__}, not LayerShape", constraints
        dims = tuple(result.shape)
        if not dims or not all(isinstance(d, (int, Expr)) and not isinstance(d, bool) for d in dims):
            return "crash", f"returns the invalid shape {dims!r}", constraints
        if any(isinstance(d, int) and d < 1 for d in dims):  # cnnspec's inference rejects these
            return "reject", f"output shape would be {fmt_shape(dims)}", constraints
        return "ok", result, constraints

    def module(self, kwargs: Mapping[str, Any], shape: Shape, *,
               batches: Sequence[int] | None = None) -> tuple[str, Any, int]:
        """``("ok", output shape, params)`` or ``("raise", message, 0)``.

        With several ``batches`` the module must run on each and keep the batch
        dim: many torch layers also accept *unbatched* input, and would read
        a per-sample ``[C, L]`` batched as ``[N, C, L]`` as one ``[C, H, W]``
        sample. Trying two batch sizes tells "runs on a batch of these" apart
        from "runs on something else".
        """
        import torch

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = self.lt.build(dict(kwargs))
                module.train(self.train)
                outs = []
                with torch.no_grad():
                    for batch in batches or (self.batch,):
                        out = module(torch.randn(batch, *shape))
                        if not isinstance(out, torch.Tensor):
                            return "raise", f"forward returned {type(out).__name__}, not a tensor", 0
                        if out.dim() == 0 or out.shape[0] != batch:
                            return "raise", (f"the output {fmt_shape(tuple(out.shape))} of a batch of {batch} "
                                             "has no batch dim (torch read the batch as a sample dim)"), 0
                        outs.append(out)
        except Exception as exc:
            return "raise", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}", 0
        return "ok", tuple(outs[0].shape[1:]), sum(p.numel() for p in module.parameters())

    def run(self, params: Any, shape: Shape) -> _Outcome:
        status, result, _ = self.rule(params, shape)
        if status == "crash":
            return _Outcome("crash", rule=f"crashes: the rule {result}")
        if status == "ok":
            t_status, out, n_params = self.module(result.kwargs, shape)
            rule_text = f"accepts: output {fmt_shape(result.shape)}, {_n_params(result.params)}"
            if t_status != "ok":
                return _Outcome("torch-raises", rule=rule_text, torch=f"raises {out}")
            if tuple(out) != tuple(result.shape):
                return _Outcome("shape", rule=rule_text, torch=f"output {fmt_shape(out)}")
            if n_params != result.params:
                return _Outcome("params", rule=rule_text, torch=_n_params(n_params))
            sym, ran = self.check_symbolic(params, shape, accepted=result)
            return sym or _Outcome("", verdict="accepted", rule="symbolic" if ran else "")
        rule_text = f"rejects: {result}"
        if self.stricter is not None and self.stricter(params, shape):
            return _Outcome("", verdict="stricter")
        kwargs = params.kwargs() if hasattr(params, "kwargs") else dict(params)
        for name in getattr(params, "inferred", ()):
            if kwargs.get(name) is None:
                kwargs[name] = self.fill(name, shape)
        t_status, out, n_params = self.module(kwargs, shape, batches=(self.batch, self.batch + 1))
        if t_status == "ok":
            return _Outcome("rule-rejects", rule=rule_text,
                            torch=f"runs: output {fmt_shape(out)}, {_n_params(n_params)}")
        sym, _ = self.check_symbolic(params, shape, accepted=None)
        return sym or _Outcome("", verdict="rejected")

    def check_symbolic(self, params: Any, shape: Shape,
                       accepted: LayerShape | None) -> tuple[_Outcome | None, bool]:
        """The rule on ``[C, S1, S2...]`` must agree with the rule on the drawn sizes.

        Returns the disagreement (or ``None``) and whether a comparison was made.
        """
        if not self.symbolic or len(shape) < 2:
            return None, False
        env = {f"S{i}": size for i, size in enumerate(shape[1:], start=1)}
        sym_shape = (shape[0], *(symbol(name) for name in env))
        status, result, constraints = self.rule(params, sym_shape)
        where = f"on input {fmt_shape(sym_shape)} with {', '.join(f'{k}={v}' for k, v in env.items())}"
        if status == "crash":
            return _Outcome("symbolic", rule=f"crashes {where}: the rule {result}",
                            torch="(not run: symbolic dims are a static-only check)"), False
        if status == "reject":
            # a rule may decline symbolic sizes (ctx.concrete names the symbols), not reject for another reason
            if accepted is not None and not any(name in result for name in env):
                return _Outcome("symbolic", rule=f"rejects {where}: {result}",
                                torch=f"accepts the sizes themselves (output {fmt_shape(accepted.shape)})"), False
            return None, False
        holds = all(_holds(c, env) for c in constraints)
        dims = [evaluate(d, env) for d in result.shape]
        n_params = evaluate(result.params, env) if isinstance(result.params, Expr) else result.params
        if accepted is None:
            if holds and all(d >= 1 for d in dims):
                return _Outcome("symbolic", rule=f"accepts {where} (output {fmt_shape(result.shape)} = "
                                f"{fmt_shape(dims)}) but rejects the sizes themselves"), False
            return None, False
        if not holds:
            failing = next(c for c in constraints if not _holds(c, env))
            return _Outcome("symbolic", rule=f"{where} records the constraint {failing}, which fails, "
                            f"but the rule accepts the sizes themselves"), True
        if tuple(dims) != tuple(accepted.shape) or n_params != accepted.params:
            return _Outcome("symbolic", rule=f"{where} gives output {fmt_shape(result.shape)} = {fmt_shape(dims)}, "
                            f"{_n_params(n_params)}; on the sizes themselves {fmt_shape(accepted.shape)}, "
                            f"{_n_params(accepted.params)}"), True
        return None, True

    # -- reporting ------------------------------------------------------------------------
    def fail(self, args: dict[str, Any], shape: Shape, outcome: _Outcome, trial: int, trials: int,
             seed: int, shrink: bool, ranks: set[int]) -> None:
        original = (dict(args), shape)
        if shrink:
            args, shape, outcome = _shrink(self, args, shape, outcome, ranks)
        lines = [
            f"{self.lt.name}: the shape rule disagrees with torch ({_KINDS[outcome.kind]}); "
            f"found at trial {trial + 1} of {trials} with seed={seed}",
            f"  arguments: {_yaml_args(args)}",
            f"  input:     {fmt_shape(shape)} per sample (torch got {fmt_shape((self.batch, *shape))})",
            f"  rule:      {outcome.rule}",
        ]
        if outcome.torch:
            lines.append(f"  torch:     {outcome.torch}")
        if (dict(args), shape) != original:
            lines.append(f"  (shrunk from arguments {_yaml_args(original[0])} on input {fmt_shape(original[1])})")
        raise LayerCheckError("\n".join(lines), layer=self.lt.name, arguments=args, input_shape=shape,
                              kind=outcome.kind)


_KINDS = {
    "crash": "the rule crashed instead of reporting a ShapeError",
    "torch-raises": "the rule accepts an input on which torch raises",
    "rule-rejects": "the rule rejects an input torch runs",
    "shape": "output shapes differ",
    "params": "parameter counts differ",
    "symbolic": "the rule on symbolic dims disagrees with the rule on numbers",
}


def _n_params(n: Any) -> str:
    return f"{n} parameter{'' if n == 1 else 's'}"


def _holds(c: Constraint, env: Mapping[str, int]) -> bool:
    lhs, rhs = evaluate(c.lhs, env), evaluate(c.rhs, env)
    return lhs >= rhs if c.op == ">=" else lhs == rhs


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


# -- shrinking ---------------------------------------------------------------------------------
def _shrink(checker: _Checker, args: dict[str, Any], shape: Shape, outcome: _Outcome,
            ranks: set[int]) -> tuple[dict[str, Any], Shape, _Outcome]:
    """Greedy: keep the first simpler candidate that fails the same way, until none does.

    The input rank only drops to ``ranks`` (those the rule accepts at all), so
    the counterexample keeps failing for its original reason, not for a rank
    that both sides would refuse for another.
    """
    steps = 0
    improved = True
    while improved and steps < _MAX_SHRINK_STEPS:
        improved = False
        for cand_args, cand_shape in _candidates(checker.lt, args, shape, ranks):
            steps += 1
            if steps >= _MAX_SHRINK_STEPS:
                break
            try:
                params = checker.lt.params.model_validate(cand_args)
            except ValidationError:
                continue
            cand = checker.run(params, cand_shape)
            if cand.kind == outcome.kind:
                args, shape, outcome = cand_args, cand_shape, cand
                improved = True
                break
    return args, shape, outcome


def _candidates(lt: LayerType, args: dict[str, Any], shape: Shape, ranks: set[int]):
    required = set(lt.params.model_json_schema().get("required", []))
    for key in args:  # fewer arguments
        if key not in required:
            yield {k: v for k, v in args.items() if k != key}, shape
    if len(shape) - 1 in ranks:  # lower rank
        yield args, shape[:-1]
    for i, size in enumerate(shape):  # smaller inputs
        for smaller in _smaller_ints(size, 1):
            yield args, (*shape[:i], smaller, *shape[i + 1:])
    for key, value in args.items():  # simpler values
        for simpler in _simpler(value):
            yield {**args, key: simpler}, shape


def _smaller_ints(value: int, floor: int) -> list[int]:
    out = []
    for cand in (floor, value // 2, value - 1):
        if floor <= cand < value and cand not in out:
            out.append(cand)
    return out


def _simpler(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [False] if value else []
    if isinstance(value, int):
        out = [c for c in (0, 1, value // 2, value - 1) if abs(c) < abs(value) or (c >= 0 > value)]
        return list(dict.fromkeys(out))
    if isinstance(value, float):
        return [c for c in (0.0, 1.0, float(round(value))) if c != value]
    if isinstance(value, list):
        out: list[Any] = []
        if value and all(v == value[0] for v in value) and isinstance(value[0], int):
            out.append(value[0])  # [3, 3] -> 3
        if len(value) > 1:
            out.append(value[:-1])
        for i, item in enumerate(value):
            for simpler in _simpler(item):
                out.append([*value[:i], simpler, *value[i + 1:]])
        return out
    return []
