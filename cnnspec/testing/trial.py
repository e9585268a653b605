"""One trial of ``check_layer``: a layer's shape rule and its torch module on the same input.

:class:`Checker` runs the rule (on the drawn sizes, and again on symbolic
``[C, S1, S2...]`` dims) and the module, and returns an :class:`Outcome`
whose ``kind`` names the disagreement, or is empty when the two agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import SpecError
from cnnspec.layer import Constraint, LayerShape, LayerType, ShapeContext, fmt_shape
from cnnspec.symbolic import Expr, evaluate, symbol

__all__ = ["Checker", "Outcome", "Shape"]

Shape = tuple[int, ...]


@dataclass
class Outcome:
    """One trial's verdict; ``kind`` is empty when rule and torch agree."""

    kind: str
    verdict: str = ""
    rule: str = ""
    torch: str = ""
    rank: int = 0


class Checker:
    """Runs one trial: a layer's rule and its module on one argument set and input shape."""

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

    def run(self, params: Any, shape: Shape) -> Outcome:
        status, result, _ = self.rule(params, shape)
        if status == "crash":
            return Outcome("crash", rule=f"crashes: the rule {result}")
        if status == "ok":
            t_status, out, n_params = self.module(result.kwargs, shape)
            rule_text = f"accepts: output {fmt_shape(result.shape)}, {_n_params(result.params)}"
            if t_status != "ok":
                return Outcome("torch-raises", rule=rule_text, torch=f"raises {out}")
            if tuple(out) != tuple(result.shape):
                return Outcome("shape", rule=rule_text, torch=f"output {fmt_shape(out)}")
            if n_params != result.params:
                return Outcome("params", rule=rule_text, torch=_n_params(n_params))
            sym, ran = self.check_symbolic(params, shape, accepted=result)
            return sym or Outcome("", verdict="accepted", rule="symbolic" if ran else "")
        rule_text = f"rejects: {result}"
        if self.stricter is not None and self.stricter(params, shape):
            return Outcome("", verdict="stricter")
        kwargs = params.kwargs() if hasattr(params, "kwargs") else dict(params)
        for name in getattr(params, "inferred", ()):
            if kwargs.get(name) is None:
                kwargs[name] = self.fill(name, shape)
        t_status, out, n_params = self.module(kwargs, shape, batches=(self.batch, self.batch + 1))
        if t_status == "ok":
            return Outcome("rule-rejects", rule=rule_text,
                           torch=f"runs: output {fmt_shape(out)}, {_n_params(n_params)}")
        sym, _ = self.check_symbolic(params, shape, accepted=None)
        return sym or Outcome("", verdict="rejected")

    def check_symbolic(self, params: Any, shape: Shape,
                       accepted: LayerShape | None) -> tuple[Outcome | None, bool]:
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
            return Outcome("symbolic", rule=f"crashes {where}: the rule {result}",
                           torch="(not run: symbolic dims are a static-only check)"), False
        if status == "reject":
            # a rule may decline symbolic sizes (ctx.concrete names the symbols), not reject for another reason
            if accepted is not None and not any(name in result for name in env):
                return Outcome("symbolic", rule=f"rejects {where}: {result}",
                               torch=f"accepts the sizes themselves (output {fmt_shape(accepted.shape)})"), False
            return None, False
        holds = all(_holds(c, env) for c in constraints)
        dims = [evaluate(d, env) for d in result.shape]
        n_params = evaluate(result.params, env) if isinstance(result.params, Expr) else result.params
        if accepted is None:
            if holds and all(d >= 1 for d in dims):
                return Outcome("symbolic", rule=f"accepts {where} (output {fmt_shape(result.shape)} = "
                               f"{fmt_shape(dims)}) but rejects the sizes themselves"), False
            return None, False
        if not holds:
            failing = next(c for c in constraints if not _holds(c, env))
            return Outcome("symbolic", rule=f"{where} records the constraint {failing}, which fails, "
                           f"but the rule accepts the sizes themselves"), True
        if tuple(dims) != tuple(accepted.shape) or n_params != accepted.params:
            return Outcome("symbolic", rule=f"{where} gives output {fmt_shape(result.shape)} = {fmt_shape(dims)}, "
                           f"{_n_params(n_params)}; on the sizes themselves {fmt_shape(accepted.shape)}, "
                           f"{_n_params(accepted.params)}"), True
        return None, True


def _n_params(n: Any) -> str:
    return f"{n} parameter{'' if n == 1 else 's'}"


def _holds(c: Constraint, env: Mapping[str, int]) -> bool:
    lhs, rhs = evaluate(c.lhs, env), evaluate(c.rhs, env)
    return lhs >= rhs if c.op == ">=" else lhs == rhs
