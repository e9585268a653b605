"""Extending a finished run by k epochs, for every built-in scheduler.

A scheduler that does not plan from the total must continue exactly as if
the run had been planned longer from the start (same metrics, same
weights); one whose total cnnspec filled in from ``train.epochs`` is
re-planned: its plan and learning rate are those of a run planned with the
new total, at the same step. A total the spec wrote equal to the old
epochs is refused, located, with a command that works.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnnspec.builtin.optim import SCHEDULERS
from cnnspec.checkpoint import load_checkpoint
from cnnspec.engine import train
from cnnspec.engine.replan import PLAN_KEYS
from cnnspec.engine.resume import find_resume_point, resume
from cnnspec.exceptions import SpecError

from .standin import random_bundle

TINY = """
name: tiny
input: [1, 8, 8]
seed: 3
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - linear: {out_features: 3}
train: {epochs: EPOCHS, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, progress: false, scheduler: SCHED}
"""

#: every built-in scheduler, with arguments that keep its plan independent of train.epochs
CONTINUES = {
    "StepLR": "{steplr: {step_size: 1, gamma: 0.5}}",
    "MultiStepLR": "{multisteplr: {milestones: [1, 3], gamma: 0.5}}",
    "ConstantLR": "{constantlr: {factor: 0.5, total_iters: 1}}",
    "LinearLR": "{linearlr: {start_factor: 0.5, total_iters: 1}}",
    "ExponentialLR": "{exponentiallr: {gamma: 0.8}}",
    "PolynomialLR": "{polynomiallr: {total_iters: 5, power: 1.0}}",
    "CosineAnnealingLR": "{cosineannealinglr: {T_max: 7}}",
    "CosineAnnealingWarmRestarts": "{cosineannealingwarmrestarts: {T_0: 2}}",
    "ReduceLROnPlateau": "{reducelronplateau: {patience: 0, factor: 0.5}}",
    "CyclicLR": "{cycliclr: {base_lr: 0.01, max_lr: 0.1, step_size_up: 3}}",
    "OneCycleLR": "{onecyclelr: {max_lr: 0.1, total_steps: 40}}",
    "SequentialLR": "{sequentiallr: {schedulers: [{linearlr: {start_factor: 0.5, total_iters: 1}}, "
                    "{exponentiallr: {gamma: 0.8}}], milestones: [1]}}",
    "ChainedScheduler": "{chainedscheduler: {schedulers: [{steplr: {step_size: 1, gamma: 0.5}}, "
                        "{exponentiallr: {gamma: 0.9}}]}}",
}
#: schedulers whose total cnnspec fills in from train.epochs: re-planned on an extension
REPLANNED = {
    "OneCycleLR": "{onecyclelr: {max_lr: 0.1}}",
    "CosineAnnealingLR": "cosineannealinglr",
}
#: a total written equal to the old train.epochs: refused
TIED = {
    "ConstantLR": ("{constantlr: {factor: 0.5, total_iters: 2}}", "constantlr", "total_iters"),
    "LinearLR": ("{linearlr: {start_factor: 0.5, total_iters: 2}}", "linearlr", "total_iters"),
    "PolynomialLR": ("{polynomiallr: {total_iters: 2}}", "polynomiallr", "total_iters"),
    "CosineAnnealingLR": ("{cosineannealinglr: {T_max: 2}}", "cosineannealinglr", "T_max"),
    "OneCycleLR": ("{onecyclelr: {max_lr: 0.1, epochs: 2, steps_per_epoch: 5}}", "onecyclelr", "epochs"),
}


def _spec(scheduler: str, epochs: int) -> str:
    return TINY.replace("EPOCHS", str(epochs)).replace("SCHED", scheduler)


def _data():
    return random_bundle(sizes=(40, 20, 20))


def _comparable(history):
    return [{k: v for k, v in m.items() if k != "time"} for m in history]


def _model(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


def test_every_builtin_scheduler_is_covered():
    assert set(CONTINUES) == set(SCHEDULERS)
    assert set(REPLANNED) | set(TIED) <= set(SCHEDULERS)
    assert {name.lower() for name in PLAN_KEYS} <= {name.lower() for name in SCHEDULERS}


@pytest.mark.parametrize("name", sorted(CONTINUES))
def test_extending_continues_as_if_planned_longer(name: str, tmp_path: Path):
    sched = CONTINUES[name]
    train(_spec(sched, 2), run_dir=tmp_path / "short", data=_data(), device="cpu")
    extended = resume(tmp_path / "short", overrides=["train.epochs=4"], data=_data(), device="cpu")
    straight = train(_spec(sched, 4), run_dir=tmp_path / "long", data=_data(), device="cpu")
    assert extended.status == "completed" and len(extended.history) == 4
    assert _comparable(extended.history) == _comparable(straight.history)
    a, b = _model(tmp_path / "short"), _model(tmp_path / "long")
    assert all(torch.equal(a[k], b[k]) for k in b)


@pytest.mark.parametrize("name", sorted(REPLANNED))
def test_a_filled_in_total_is_replanned(name: str, tmp_path: Path):
    sched = REPLANNED[name]
    train(_spec(sched, 2), run_dir=tmp_path / "short", data=_data(), device="cpu")
    extended = resume(tmp_path / "short", overrides=["train.epochs=4"], data=_data(), device="cpu")
    straight = train(_spec(sched, 4), run_dir=tmp_path / "long", data=_data(), device="cpu")
    assert extended.trainer.replanned
    # the plan is the longer run's, and so is the learning rate at each step after the extension
    new, ref = extended.trainer.scheduler.state_dict(), straight.trainer.scheduler.state_dict()
    keys = PLAN_KEYS[name.lower()]
    assert {k: new[k] for k in keys} == {k: ref[k] for k in keys}
    assert new["last_epoch"] == ref["last_epoch"]
    assert [m["lr"] for m in extended.history[2:]] == pytest.approx([m["lr"] for m in straight.history[2:]],
                                                                     rel=1e-12)
    # and the first two epochs kept the plan they were trained with
    assert extended.history[1]["lr"] != pytest.approx(straight.history[1]["lr"], rel=1e-6)


@pytest.mark.parametrize("name", sorted(TIED))
def test_a_total_written_as_the_old_epochs_is_refused_with_a_command_that_works(name: str, tmp_path: Path,
                                                                                capsys):
    from cnnspec.cli import main

    sched, key_name, arg = TIED[name]
    run = tmp_path / "run"
    train(_spec(sched, 2), run_dir=run, data=_data(), device="cpu")
    with pytest.raises(SpecError) as info:
        find_resume_point(run, overrides=["train.epochs=4"])
    text = info.value.format()
    assert f"train.scheduler {key_name}: {arg}=2 plans the schedule for the run's 2 epochs" in text
    where = info.value.location  # in the run's spec.yaml, on the value itself
    assert where is not None and Path(where.file) == run / "spec.yaml"
    assert f"{arg}: 2" in (run / "spec.yaml").read_text().splitlines()[where.line - 1]
    command = f"cnnspec train --resume {run} --epochs 4 --set train.scheduler.{key_name}.{arg}=4 --force"
    assert command in text
    # the command's own arguments resume, re-planned to the new total
    point = find_resume_point(run, overrides=["train.epochs=4", f"train.scheduler.{key_name}.{arg}=4"],
                              force=True)
    result = train(point.spec, run_dir=run, resume_state=point.state, data=_data(), device="cpu")
    assert result.status == "completed" and len(result.history) == 4 and result.trainer.replanned
    # on the command line the refusal is exit 2 without a traceback
    assert main(["train", "--resume", str(run), "--epochs", "9"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_fewer_epochs_than_trained_is_refused(tmp_path: Path):
    from cnnspec.exceptions import CnnspecError

    run = tmp_path / "run"
    train(_spec("{steplr: {step_size: 1}}", 3), run_dir=run, data=_data(), device="cpu")
    with pytest.raises(CnnspecError, match="the run has trained 3 epochs already; 2 epochs cannot continue it"):
        find_resume_point(run, overrides=["train.epochs=2"])
