"""One trial: sample a point, validate its specs without torch, train each seed, score it.

The point's dimensions are sampled in order through Optuna's suggest API, so
a dimension made inactive by an earlier one (a path into an optimizer the
point does not use) is never sampled. Each seed's variant is validated
statically first; an invalid point is recorded (outcome ``invalid``, the
located error kept) and nothing is trained. A valid point trains once per
seed, each an ordinary run directory (spec.yaml, metrics.jsonl, final.json,
checkpoints, ``train.log``), under ``DIR/trials/NNNN`` (``.../seed-S`` with a
seed axis). Its value is the objective's mean over the seeds; the spread
(sample standard deviation) and every seed's value are kept on the trial.

Pruning reads the first seed's epochs (the other seeds of a pruned point are
not trained): an Optuna pruner compares one curve per trial.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import CnnspecError, SpecError, SweepError
from cnnspec.render import render_error
from cnnspec.spec import Spec
from cnnspec.sweep.plan import Plan
from cnnspec.sweep.pruning import PRUNED_PREFIX, PruningCallback
from cnnspec.sweep.space import Dimension
from cnnspec.sweep.variants import Assignment, Variants

__all__ = ["Launcher", "RunOutcome", "TrialResult", "run_trial", "sample_point", "seeded", "trial_dir"]

ATTR = "cnnspec."


@dataclass
class RunOutcome:
    """How one training run ended, read from the engine's result or the run's final.json."""

    status: str
    stop_reason: str | None
    metrics: dict[str, Any]

    @property
    def pruned(self) -> bool:
        return self.status == "stopped" and (self.stop_reason or "").startswith(PRUNED_PREFIX)


@dataclass
class TrialResult:
    """What a trial came to: ``outcome`` is completed, pruned, invalid, diverged, failed or interrupted."""

    outcome: str
    value: float | None = None
    std: float | None = None
    message: str | None = None
    stop_reason: str | None = None
    seeds: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Launcher:
    """Runs one training of a trial: in this process, or as a ``torchrun`` job of ``nproc`` processes."""

    metric: str
    where: Any = None
    device: str | None = None
    nproc: int = 1
    argv: list[str] = field(default_factory=list)
    storage: str | None = None  # the storage as the child opens it (torchrun trials report through it)
    study: str = ""

    def run(self, spec: Spec, run_dir: Path, trial: Any) -> RunOutcome:
        run_dir.mkdir(parents=True, exist_ok=True)
        if self.nproc > 1:
            return self._torchrun(spec, run_dir, trial)
        from cnnspec.engine import train

        callback = PruningCallback(trial, self.metric, where=self.where, report=trial is not None)
        with open(run_dir / "train.log", "a", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
            result = train(spec, run_dir=run_dir, device=self.device, callbacks=[callback],
                           progress={"bar": False}, argv=self.argv)
        return RunOutcome(result.status, result.stop_reason, result.metrics)

    def _torchrun(self, spec: Spec, run_dir: Path, trial: Any) -> RunOutcome:
        from cnnspec.engine.rundir import RunDir

        RunDir(run_dir).write_spec(spec)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc}",
               "-m", "cnnspec.sweep.child", str(run_dir / "spec.yaml"), "--run-dir", str(run_dir),
               "--metric", self.metric]
        if self.device:
            cmd += ["--device", self.device]
        if trial is not None and self.storage is not None:
            cmd += ["--storage", self.storage, "--study", self.study, "--trial-id", str(trial._trial_id)]
        with open(run_dir / "train.log", "a", encoding="utf-8") as log:
            code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
        final = run_dir / "final.json"
        if not final.is_file():
            tail = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise CnnspecError(f"the torchrun job of {run_dir} exited with {code} and left no final.json",
                               hint=f"its log ends with:\n{tail}")
        metrics = json.loads(final.read_text(encoding="utf-8"))
        return RunOutcome(str(metrics.get("status")), metrics.get("stop_reason"), metrics)


def sample_point(variants: Variants, dims: Sequence[Dimension], trial: Any) -> tuple[list[tuple[Dimension, Any]],
                                                                                     Assignment]:
    """Each active dimension's value for ``trial``, in order, and the overrides they make."""
    values: list[tuple[Dimension, Any]] = []
    inactive: list[str] = []
    for dim in dims:
        if dim.key in variants.assign([*values, (dim, None)]).inactive:
            inactive.append(dim.key)
            continue
        values.append((dim, dim.suggest(trial)))
    return values, Assignment(variants.assign(values).overrides, tuple(inactive))


def seeded(assignment: Assignment, seeds: Dimension | None, seed: int | None) -> Assignment:
    """``assignment`` with the seed axis set to ``seed``."""
    if seeds is None or seed is None:
        return assignment
    return Assignment((*assignment.overrides, (f"{seeds.key}={seed}", seeds.location)), assignment.inactive)


def trial_dir(directory: Path, number: int) -> Path:
    return directory / "trials" / f"{number:04d}"


def run_trial(trial: Any, *, variants: Variants, plan: Plan, directory: Path, launcher: Launcher) -> TrialResult:
    """Sample, validate and train one trial (not told to the study: the caller does that)."""
    _, assignment = sample_point(variants, plan.dims, trial)
    if assignment.inactive:
        trial.set_user_attr(ATTR + "inactive", list(assignment.inactive))
    seeds = plan.seed_values
    try:
        specs = [variants.build(seeded(assignment, plan.seeds, s)) for s in seeds]
    except SpecError as exc:
        return TrialResult("invalid", message=render_error(exc))
    trial.set_user_attr(ATTR + "spec", specs[0].to_dict())
    folder = trial_dir(directory, trial.number)
    trial.set_user_attr(ATTR + "dir", str(folder.resolve()))
    runs: list[dict[str, Any]] = []
    scores: list[float] = []
    for i, (seed, spec) in enumerate(zip(seeds, specs)):
        run_dir = folder if seed is None else folder / f"seed-{seed}"
        outcome = launcher.run(spec, run_dir, trial if i == 0 else None)
        value = outcome.metrics.get(plan.objective.metric)
        runs.append({"seed": seed if seed is not None else spec.config.seed, "run_dir": str(run_dir.resolve()),
                     "status": outcome.status, "value": value, "epochs": outcome.metrics.get("epochs")})
        trial.set_user_attr(ATTR + "seeds", runs)
        if outcome.status == "interrupted":
            return TrialResult("interrupted", stop_reason=outcome.stop_reason, seeds=runs)
        if outcome.pruned:
            return TrialResult("pruned", stop_reason=outcome.stop_reason, seeds=runs)
        if outcome.status == "diverged":
            return TrialResult("diverged", message=outcome.stop_reason, seeds=runs)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SweepError(f"objective {plan.objective.metric}: the run in {run_dir} did not report it",
                             hint="metrics it reported: " + ", ".join(sorted(k for k, v in outcome.metrics.items()
                                                                           if isinstance(v, (int, float)))))
        if not math.isfinite(value):
            return TrialResult("diverged", message=f"{plan.objective.metric} is {value}", seeds=runs)
        scores.append(float(value))
    mean = statistics.fmean(scores)
    std = statistics.stdev(scores) if len(scores) > 1 else None
    return TrialResult("completed", value=mean, std=std, seeds=runs)
