"""Everything checked before the first trial: key paths, values, and the space as a whole.

Nothing trains until

* every dimension's key path leads somewhere in the spec, with the same
  located errors (and did-you-mean) ``--set`` would give, argument names of
  torch's own optimizers and schedulers included (checked against the real
  signature, as the engine does before the first batch);
* some value of every dimension makes a valid spec (its values tried: every
  listed one, or a continuous range's ends and middle), and the dimension
  changes the spec at all (``vars.widht`` that nothing uses does not);
* some point of the whole space is valid: a grid is enumerated and every
  point validated (the invalid ones are reported and never run); a random or
  TPE space is sampled :data:`SPACE_SAMPLES` times. A space that produces
  only invalid specs is a :class:`~cnnspec.exceptions.SweepError`.

All of it is static (the spec, shape and component checks of ``cnnspec
validate``): a few milliseconds per variant.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cnnspec.exceptions import SpecError, SweepError
from cnnspec.render import render_error
from cnnspec.sweep.plan import Plan
from cnnspec.sweep.space import Dimension
from cnnspec.sweep.variants import Variants

__all__ = ["SPACE_SAMPLES", "SpaceReport", "check_space"]

#: random points validated before a random or TPE sweep starts
SPACE_SAMPLES = 64


@dataclass
class SpaceReport:
    """What the checks found: the grid's valid points, and the invalid values and points seen."""

    grid: list[list[tuple[Dimension, Any]]] | None = None  # valid grid points (None: not a checked grid)
    tried: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (point, rendered error)
    notes: list[str] = field(default_factory=list)


def _point_text(values: Sequence[tuple[Dimension, Any]]) -> str:
    import json

    return ", ".join(f"{d.key}={json.dumps(v)}" for d, v in values) or "(the base spec)"


def _with_value(error: SpecError, dim: Dimension, value: Any) -> SpecError:
    import json

    return SpecError(f"{dim.key}={json.dumps(value)}: {error.message}", location=error.location, hint=error.hint)


def _check_dimension(variants: Variants, plan: Plan, dim: Dimension, report: SpaceReport) -> None:
    earlier = [d for d in plan.dims[:plan.dims.index(dim)] if dim.path[:len(d.path)] == d.path]
    contexts = list(itertools.product(*[[(d, v) for v in d.probes()] for d in earlier])) or [()]
    errors: list[tuple[Any, SpecError]] = []
    fingerprints: set[str] = set()
    valid = 0
    active = False
    for context in contexts:
        for value in dim.probes():
            assignment = variants.assign([*context, (dim, value)])
            if dim.key in assignment.inactive:
                continue
            active = True
            try:
                fingerprints.add(variants.build(assignment).fingerprint())
                valid += 1
            except SpecError as exc:
                errors.append((value, exc))
        if fingerprints:
            break
    if not active:
        raise SpecError(f"{dim.key}: no value of {', '.join(d.key for d in earlier)} leads to it",
                        location=dim.location, hint="its path goes into a component none of the choices names")
    if not fingerprints:
        texts = {e.message for _, e in errors}
        if len(texts) == 1:  # the same whatever the value: the key path itself
            raise errors[0][1]
        raise SpecError.combine([_with_value(e, dim, v) for v, e in errors])
    for value, exc in errors:
        report.notes.append(f"{dim.key}={value} never gives a valid spec: {render_error(exc).splitlines()[0]}")
    if len(fingerprints) == 1 and valid > 1:
        raise SpecError(f"{dim.key}: every value tried gives the same spec; sweeping it changes nothing",
                        location=dim.location, hint=_unchanged_hint(variants, dim))
    _check_argument(variants, dim)


def _unchanged_hint(variants: Variants, dim: Dimension) -> str:
    from cnnspec.names import suggest

    if dim.path[0] == "vars":
        names = list((variants.raw.data.get("vars") or {}) if isinstance(variants.raw.data, dict) else {})
        close = suggest(str(dim.path[1]), names) if len(dim.path) > 1 else []
        said = f"; did you mean vars.{close[0]}?" if close else ""
        return f"no ${{{dim.key}}} in the spec uses it{said}"
    return "the spec resolves to the same values for each of them"


def _check_argument(variants: Variants, dim: Dimension) -> None:
    """An argument of a component without a params model, checked against the factory's signature."""
    from cnnspec.component import check_signature
    from cnnspec.spec.components import component_refs, resolve_ref

    data = variants.base.document.data
    for kind, path, ref in component_refs(data):
        n = len(path)
        if len(dim.path) != n + 2 or tuple(dim.path[:n]) != tuple(path) or not isinstance(dim.path[-1], str):
            continue
        try:
            entry, _, _ = resolve_ref(kind, ref, path, variants.base.document, variants.plugins)
        except SpecError:
            return
        if entry.obj.params is not None or str(dim.path[n]).lower() != entry.name.lower():
            return
        try:
            factory = entry.obj.load()
        except Exception:  # not importable here: the engine reports it, located, when it builds the run
            return
        problem = check_signature(factory, {dim.path[-1]: None})
        if problem and problem.startswith("unknown argument"):
            raise SpecError(f"{dim.key}: {entry.name} has no argument '{dim.path[-1]}': {problem}",
                            location=dim.location, hint=f"the arguments are those of {entry.provider}'s "
                                                        f"{entry.name}")


def _validate(variants: Variants, plan: Plan, values: Sequence[tuple[Dimension, Any]]) -> SpecError | None:
    from cnnspec.sweep.trial import seeded

    assignment = variants.assign(values)
    seed = plan.seed_values[0]
    try:
        variants.build(seeded(assignment, plan.seeds, seed))
    except SpecError as exc:
        return exc
    return None


def check_space(variants: Variants, plan: Plan, *, seed: int = 0) -> SpaceReport:
    """Run every check; returns the report, or raises the first located mistake."""
    import numpy as np

    report = SpaceReport()
    for dim in plan.dims:
        _check_dimension(variants, plan, dim, report)
    if plan.sampler == "grid":
        points = [list(zip(plan.dims, combo)) for combo in itertools.product(*[d.grid() for d in plan.dims])]
        report.grid = []
    else:
        rng = np.random.default_rng(seed)
        points = [[(d, d.sample(rng)) for d in plan.dims] for _ in range(SPACE_SAMPLES)]
    errors: list[SpecError] = []
    seen: set[str] = set()
    for point in points:
        active = _active(variants, point)
        if report.grid is not None:  # a conditional dimension makes grid points that are one point
            text = _point_text(active)
            if text in seen:
                continue
            seen.add(text)
        error = _validate(variants, plan, active)
        if error is None:
            if report.grid is not None:
                report.grid.append(active)
            continue
        errors.append(error)
        report.invalid.append((_point_text(active), render_error(error)))
    report.tried = len(seen) if report.grid is not None else len(points)
    if len(errors) == report.tried:
        def where(e: SpecError) -> tuple[str, str]:  # one problem in one place, whatever its numbers
            return str(e.location), e.path

        common, count = Counter(map(where, errors)).most_common(1)[0]
        first = next(e for e in errors if where(e) == common)
        raise SweepError(f"the space produces only invalid specs: all {report.tried} points tried are invalid; "
                         f"the most common problem ({count} of {report.tried}):\n{render_error(first)}",
                         hint="widen or move the ranges so that some points make valid specs (cnnspec validate "
                              "SPEC --set KEY=VALUE checks one)")
    return report


def _active(variants: Variants, point: Sequence[tuple[Dimension, Any]]) -> list[tuple[Dimension, Any]]:
    """The point without its dimensions that are inactive at it."""
    inactive = set(variants.assign(point).inactive)
    return [(d, v) for d, v in point if d.key not in inactive]
