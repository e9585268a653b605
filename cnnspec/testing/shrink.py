"""Shrinking a counterexample of ``check_layer`` to a small one that fails the same way.

Fewer arguments, a lower input rank, smaller inputs, simpler values: the
first simpler candidate that still fails with the same kind of disagreement
is kept, until none does.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cnnspec.layer import LayerType
from cnnspec.testing.trial import Checker, Outcome, Shape

__all__ = ["MAX_SHRINK_STEPS", "shrink"]

MAX_SHRINK_STEPS = 300


def shrink(checker: Checker, args: dict[str, Any], shape: Shape, outcome: Outcome,
           ranks: set[int]) -> tuple[dict[str, Any], Shape, Outcome]:
    """Greedy: keep the first simpler candidate that fails the same way, until none does.

    The input rank only drops to ``ranks`` (those the rule accepts at all), so
    the counterexample keeps failing for its original reason, not for a rank
    that both sides would refuse for another.
    """
    steps = 0
    improved = True
    while improved and steps < MAX_SHRINK_STEPS:
        improved = False
        for cand_args, cand_shape in _candidates(checker.lt, args, shape, ranks):
            steps += 1
            if steps >= MAX_SHRINK_STEPS:
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
