"""Device choice, mixed precision and channels_last."""

from __future__ import annotations

import pytest
import torch

from cnnspec.callbacks import Callback
from cnnspec.engine import Precision, select_device, train
from cnnspec.exceptions import CnnspecError
from tests.engine.standin import random_bundle


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("CNNSPEC_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert select_device("auto").type == expected
    assert select_device(None).type == expected
    assert select_device("CPU") == torch.device("cpu")


def test_the_environment_chooses_what_auto_means(monkeypatch):
    monkeypatch.setenv("CNNSPEC_DEVICE", "cpu")
    assert select_device("auto") == torch.device("cpu")
    assert select_device(None) == torch.device("cpu")
    monkeypatch.setenv("CNNSPEC_DEVICE", "tpu")
    with pytest.raises(CnnspecError, match=r"'tpu \(from CNNSPEC_DEVICE\)'"):
        select_device("auto")
    monkeypatch.setenv("CNNSPEC_DEVICE", "cuda:99")
    with pytest.raises(CnnspecError, match="CNNSPEC_DEVICE"):
        select_device("auto")  # an explicit device is never overridden, an impossible one never picked
    assert select_device("cpu") == torch.device("cpu")


def test_kernels_are_restored_after_a_deterministic_run(tiny_spec, runs):
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    result = train(tiny_spec, overrides=["train.deterministic=true"], data=random_bundle(), runs_root=runs)
    assert result.trainer.kernels == "deterministic"
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    env = (result.run_dir / "env.json").read_text()
    assert '"kernels": "deterministic"' in env and '"compile": false' in env


@pytest.mark.parametrize("name", ["tpu", "cuda:99", "gpu0"])
def test_unusable_devices_are_refused_with_the_choices(name):
    with pytest.raises(CnnspecError, match=r"device|CUDA"):
        select_device(name)


def test_precision_picks_bf16_off_cuda_and_fp16_with_a_scaler_on_cuda():
    cpu = Precision.create(True, torch.device("cpu"))
    assert cpu.dtype == torch.bfloat16 and cpu.scaler is None and cpu.describe() == "bfloat16"
    assert Precision.create(False, torch.device("cpu")).describe() == "fp32"
    if torch.cuda.is_available():
        gpu = Precision.create(True, torch.device("cuda"))
        assert gpu.dtype == torch.float16 and gpu.scaler is not None


def test_channels_last_trains_to_the_same_weights_within_rounding(tiny_spec, runs):
    plain = train(tiny_spec, data=random_bundle(), runs_root=runs)
    nhwc = train(tiny_spec, overrides=["train.channels_last=true"], data=random_bundle(), runs_root=runs)
    conv = nhwc.model.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    for key, value in plain.model.state_dict().items():
        torch.testing.assert_close(nhwc.model.state_dict()[key], value, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_trains_on_cpu(tiny_spec, runs):
    result = train(tiny_spec, overrides=["train.amp=bf16"], data=random_bundle(), runs_root=runs)
    plain = train(tiny_spec, data=random_bundle(), runs_root=runs)
    assert result.status == "completed" and result.trainer.precision.dtype == torch.bfloat16
    assert result.metrics["train_loss"] == pytest.approx(plain.metrics["train_loss"], rel=0.05)


class StepSizes(Callback):
    def __init__(self):
        self.flat = []

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        self.flat.append(torch.cat([p.detach().flatten().clone() for p in trainer.model.parameters()]))

    def sizes(self):
        return [float((b - a).norm()) for a, b in zip(self.flat, self.flat[1:])]


def test_grad_clip_bounds_every_update(tiny_spec, runs):
    recipe = ["train.optimizer={sgd: {lr: 1.0}}", "train.epochs=1"]
    clipped, free = StepSizes(), StepSizes()
    train(tiny_spec, overrides=[*recipe, "train.grad_clip=0.01"], data=random_bundle(), runs_root=runs,
          callbacks=[clipped])
    train(tiny_spec, overrides=recipe, data=random_bundle(), runs_root=runs, callbacks=[free])
    assert max(clipped.sizes()) <= 0.01 * (1 + 1e-4)
    assert max(free.sizes()) > 0.01
