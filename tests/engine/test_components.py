"""Optimizers, schedulers and losses: torch's own classes, checked and located."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler

from cnnspec.builtin.losses import LOSSES
from cnnspec.builtin.optim import OPTIMIZERS, SCHEDULERS
from cnnspec.engine import train
from cnnspec.exceptions import SpecError
from cnnspec.plugins.manager import get_plugins
from tests.engine.standin import random_bundle

NOT_IN_SPECS = {"LambdaLR", "MultiplicativeLR", "LRScheduler", "_LRScheduler"}  # need Python callables / bases


def _classes(module, base):
    return {n for n, c in vars(module).items() if inspect.isclass(c) and issubclass(c, base) and c is not base}


def test_every_torch_optimizer_is_registered():
    assert set(OPTIMIZERS) == _classes(torch.optim, torch.optim.Optimizer)
    registry = get_plugins().registry("optimizer")
    assert {n.lower() for n in registry.names()} == {n.lower() for n in OPTIMIZERS}


def test_schedulers_are_torch_classes():
    torch_names = _classes(lr_scheduler, lr_scheduler.LRScheduler) | {"ReduceLROnPlateau"}
    assert set(SCHEDULERS) == torch_names - NOT_IN_SPECS


def test_losses_are_torch_nn_classes():
    for name in LOSSES:
        assert issubclass(getattr(torch.nn, name), torch.nn.Module)


def test_listing_components_does_not_import_torch():
    code = ("import sys; from cnnspec.plugins.manager import get_plugins; p = get_plugins();"
            "[p.registry(k).names() for k in ('optimizer', 'scheduler', 'loss', 'callback')];"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _train(spec, *overrides, data=None, runs=None, **kw):
    return train(spec, overrides=list(overrides), data=data or random_bundle(), runs_root=runs, **kw)


def test_a_misspelled_optimizer_argument_is_located_with_a_suggestion(write_spec, tiny_spec, runs):
    path = write_spec(tiny_spec.replace("{sgd: {lr: 0.05, momentum: 0.9}}", "{adam: {lr: 0.01, weight_decy: 0.1}}"))
    with pytest.raises(SpecError) as info:
        _train(str(path), runs=runs)
    err = info.value
    assert err.message == "train.optimizer Adam: unknown argument 'weight_decy'; did you mean 'weight_decay'?"
    assert (err.file, err.line) == (str(path), 14) and err.path == "train.optimizer.adam.weight_decy"
    assert not runs.exists() or not any(runs.rglob("metrics.jsonl"))


def test_torch_constructor_errors_become_located_spec_errors(tiny_spec, runs):
    with pytest.raises(SpecError, match=r"train\.optimizer SGD: Invalid learning rate: -1"):
        _train(tiny_spec, "train.optimizer={sgd: {lr: -1}}", runs=runs)
    with pytest.raises(SpecError, match="SparseAdam needs sparse gradients"):
        _train(tiny_spec, "train.optimizer=sparseadam", runs=runs)


def test_optimizer_arguments_reach_torch(tiny_spec, runs):
    result = _train(tiny_spec, "train.optimizer={adamw: {lr: 0.002, weight_decay: 0.3, betas: [0.8, 0.9]}}",
                    "train.epochs=1", runs=runs)
    opt = result.trainer.optimizer
    assert isinstance(opt, torch.optim.AdamW)
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"], tuple(group["betas"])) == (0.002, 0.3, (0.8, 0.9))


def test_lbfgs_trains_through_a_closure(tiny_spec, runs):
    result = _train(tiny_spec, "train.optimizer={lbfgs: {lr: 0.1, max_iter: 3}}", "train.epochs=1", runs=runs)
    assert result.status == "completed" and result.history[0]["train_loss"] is not None


def test_steplr_gives_torch_s_own_schedule(tiny_spec, runs):
    result = _train(tiny_spec, "train.scheduler={steplr: {step_size: 2, gamma: 0.1}}", "train.epochs=5", runs=runs)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    expected = []
    for _ in range(5):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert [m["lr"] for m in result.history] == pytest.approx(expected)


def test_reduce_on_plateau_is_fed_val_loss(tiny_spec, runs):
    result = _train(tiny_spec, "train.scheduler={reducelronplateau: {patience: 0, factor: 0.5}}",
                    "train.epochs=4", runs=runs)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    expected = []
    for m in result.history:
        expected.append(opt.param_groups[0]["lr"])
        sched.step(m["val_loss"])
    assert [m["lr"] for m in result.history] == pytest.approx(expected)


def test_onecycle_is_stepped_per_batch_with_total_steps_filled_in(tiny_spec, runs):
    result = _train(tiny_spec, "train.scheduler={onecyclelr: {max_lr: 0.1}}", "train.epochs=3", runs=runs)
    sched = result.trainer.scheduler
    assert isinstance(sched, lr_scheduler.OneCycleLR) and sched.total_steps == 15
    assert sched.last_epoch == 15  # one step per batch; one more would raise in torch


def test_sequential_lr_takes_nested_scheduler_references(tiny_spec, runs):
    spec = tiny_spec.replace("progress: false}", "progress: false, scheduler: {sequentiallr: {milestones: [2], "
                             "schedulers: [{linearlr: {start_factor: 0.5, total_iters: 2}}, "
                             "{exponentiallr: {gamma: 0.5}}]}}}")
    result = _train(spec, "train.epochs=4", runs=runs)
    assert [m["lr"] for m in result.history] == pytest.approx([0.025, 0.0375, 0.05, 0.025])
    with pytest.raises(SpecError, match=r"schedulers\[0\]: unknown scheduler 'cosine'"):
        _train(spec.replace("linearlr: {start_factor: 0.5, total_iters: 2}", "cosine: {}"), runs=runs)


NLL_SPEC = """
input: [1, 8, 8]
model:
  - flatten
  - linear: {out_features: 3}
  - logsoftmax: {dim: 1}
train: {epochs: 1, loss: nllloss, progress: false}
"""


def test_nllloss_needs_a_final_logsoftmax(write_spec, runs):
    assert _train(NLL_SPEC, runs=runs).status == "completed"
    path = write_spec(NLL_SPEC.replace("  - logsoftmax: {dim: 1}\n", ""))
    with pytest.raises(SpecError) as info:
        _train(str(path), runs=runs)
    err = info.value
    assert err.message == ("train.loss: NLLLoss expects log-probabilities (a final LogSoftmax), but the model ends "
                           "in linear 'fc1' (output [3])")
    assert err.hint.startswith("add '- logsoftmax: {dim: 1}' as the last layer, or use crossentropyloss")
    assert (err.line, err.column) == (6, 26)
    with pytest.raises(SpecError, match=r"normalises over dim=0"):
        _train(NLL_SPEC.replace("{dim: 1}", "{dim: 0}"), runs=runs)


def test_the_seed003_classifier_with_logsoftmax_passes_the_check():
    from cnnspec import infer_shapes, load_spec
    from cnnspec.analysis.consistency import check_spec_loss
    from tests.conftest import SPECS

    spec = load_spec(SPECS / "seed003_cifar10cnn.yaml", overrides=["train.loss=nllloss"])
    check_spec_loss(spec, infer_shapes(spec))
    logits = load_spec(SPECS / "seed001_mnist_cnn.yaml", overrides=["train.loss=nllloss"])
    with pytest.raises(SpecError, match="NLLLoss expects log-probabilities"):
        check_spec_loss(logits, infer_shapes(logits))


@pytest.mark.parametrize("loss", ["bcewithlogitsloss", "mseloss"])
def test_one_hot_losses_get_one_hot_targets(tiny_spec, runs, loss):
    data = random_bundle()
    result = _train(tiny_spec, f"train.loss={loss}", "train.epochs=1", data=data, runs=runs)
    x, y = data.splits["test"]
    with torch.no_grad():
        out = result.model.eval()(x)
    target = F.one_hot(y, 3).float()
    ref = F.binary_cross_entropy_with_logits(out, target) if loss == "bcewithlogitsloss" else F.mse_loss(out, target)
    assert result.metrics["test_loss"] == pytest.approx(ref.item(), rel=1e-5)


def test_label_smoothing_reaches_crossentropy(tiny_spec, runs):
    data = random_bundle()
    result = _train(tiny_spec, "train.loss={crossentropyloss: {label_smoothing: 0.2}}", "train.epochs=1",
                    data=data, runs=runs)
    x, y = data.splits["test"]
    with torch.no_grad():
        out = result.model.eval()(x)
    assert result.metrics["test_loss"] == pytest.approx(F.cross_entropy(out, y, label_smoothing=0.2).item(), rel=1e-5)


def test_output_width_must_match_the_classes(write_spec, tiny_spec, runs):
    path = write_spec(tiny_spec.replace("linear: {out_features: 3}", "linear: {out_features: 5}"))
    with pytest.raises(SpecError) as info:
        _train(str(path), runs=runs)
    assert info.value.message == ("model[7] linear 'fc2': the model outputs [5] per sample, "
                                  "but the dataset has 3 classes")
    assert info.value.hint == "set out_features: 3 on the last layer" and info.value.line == 13
