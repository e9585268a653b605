"""The Optuna study of a sweep: created once, joined by every later command and machine.

The first process to create the study (``create_study`` is atomic in the
storage: a second creator gets ``DuplicatedStudyError``) records what the
sweep *is* — the resolved base spec, its fingerprint, the space, the seeds,
the objective, the sampler and the pruner — and, for a grid, enqueues every
valid point. Every other process (a resume, another ``--jobs`` worker,
another machine) loads the study and compares: a study of another spec or
another space is a :class:`~cnnspec.exceptions.SweepError` with the spec diff,
never a silent mix of two experiments. Only the trial budget may change (run
more trials of the same sweep).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

from cnnspec.exceptions import SweepError
from cnnspec.sweep.plan import Plan
from cnnspec.sweep.variants import Variants

__all__ = ["ATTR", "join_study", "make_sampler"]

#: prefix of every study and trial attribute cnnspec writes
ATTR = "cnnspec."
_READY_WAIT_S = 120.0


def make_sampler(plan: Plan, seed: int) -> Any:
    """The Optuna sampler of the plan (a grid is enqueued points; the sampler never sees it)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if plan.sampler == "tpe":
            # constant_liar: running trials count as bad guesses, so parallel workers spread out
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        return optuna.samplers.RandomSampler(seed=seed)


def join_study(storage: Any, name: str, plan: Plan, variants: Variants, *, seed: int,
               grid_points: Sequence[dict[str, Any]] = (), spec_file: str = "") -> tuple[Any, bool]:
    """Create or load the study; returns ``(study, created)``.

    ``grid_points`` (Optuna-encoded params of every valid grid point) are
    enqueued by the creator only.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    identity = plan.identity(variants.base.fingerprint())
    sampler = make_sampler(plan, seed)
    pruner = plan.pruner.build() if plan.pruner is not None else optuna.pruners.NopPruner()
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=plan.objective.direction,
                                    sampler=sampler, pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        _check_identity(study, name, identity, variants)
        return study, False
    study.set_user_attr(ATTR + "identity", identity)
    study.set_user_attr(ATTR + "base", variants.base.to_dict())
    study.set_user_attr(ATTR + "spec_file", spec_file or variants.file)
    for params in grid_points:
        study.enqueue_trial(params, user_attrs={ATTR + "params": params})
    study.set_user_attr(ATTR + "ready", True)
    return study, True


def _check_identity(study: Any, name: str, identity: dict[str, Any], variants: Variants) -> None:
    deadline = time.monotonic() + _READY_WAIT_S
    attrs = study.user_attrs
    while not attrs.get(ATTR + "ready"):  # another process is still creating it
        if ATTR + "identity" not in attrs and study.trials:
            raise SweepError(f"the storage holds a study '{name}' that is not a cnnspec sweep",
                             hint="choose another --study name")
        if time.monotonic() > deadline:
            raise SweepError(f"the study '{name}' is still being created by another process after "
                             f"{_READY_WAIT_S:.0f} s", hint="that process may have died while creating it; "
                                                             "choose another --study name")
        time.sleep(0.5)
        attrs = study.user_attrs
    stored = attrs.get(ATTR + "identity") or {}
    differences = [key for key in identity if stored.get(key) != identity[key]]
    if not differences:
        return
    lines = []
    for key in differences:
        if key == "base":
            lines += _spec_changes(attrs.get(ATTR + "base"), variants)
        else:
            lines.append(f"{key}: {_short(stored.get(key))} -> {_short(identity[key])}")
    shown = "\n".join(f"  {line}" for line in lines[:12])
    more = f"\n  ... and {len(lines) - 12} more" if len(lines) > 12 else ""
    of = attrs.get(ATTR + "spec_file", "another spec")
    raise SweepError(f"the study '{name}' holds a sweep of {of} that differs from this one:\n{shown}{more}",
                     hint="resume it with the spec and options it was started with, or start a new sweep "
                          "with another --dir (or --study)")


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."


def _spec_changes(stored: Any, variants: Variants) -> list[str]:
    """The base specs' difference, as ``cnnspec diff`` says it (settings and layers)."""
    from cnnspec.analysis.diff import diff_specs
    from cnnspec.exceptions import CnnspecError
    from cnnspec.spec import load_spec

    if not isinstance(stored, dict):
        return ["base spec: (not recorded) -> " + variants.file]
    try:
        d = diff_specs(load_spec(stored, plugins=variants.plugins), variants.base)
    except CnnspecError:
        return ["base spec: differs (the recorded one no longer loads here)"]
    lines = [f"base spec: {f}" for f in d.fields]
    for change in d.layers:
        if change.status == "affected":
            continue
        label = change.info.qualname
        if change.fields:
            lines += [f"base spec: {label} {f}" for f in change.fields]
        else:
            lines.append(f"base spec: {label} ({change.info.type}) {change.status}")
    return lines or ["base spec: differs"]
