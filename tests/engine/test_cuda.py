"""On a CUDA GPU: training, evaluation, explain, export and resume, mixed precision, channels_last,
device-resident data and the batched augmentations. Skipped where CUDA is absent (``pytest -m cuda``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.transforms import v2

from cnnspec.cli import main
from cnnspec.data import batched as B
from cnnspec.engine import evaluate, train

pytestmark = pytest.mark.cuda

ROOT = Path(__file__).resolve().parents[2]

DIGITS = """
name: digits-gpu
input: [1, 8, 8]
seed: 0
model:
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
  - batchnorm2d
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - dropout: {p: 0.1}
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 32, val_split: 0.2}
train: {epochs: 4, optimizer: {adamw: {lr: 0.01}}, device: cuda, progress: false}
callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]
"""


def _spec(tmp_path: Path, text: str = DIGITS) -> Path:
    path = tmp_path / "digits-gpu.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("settings", [[], ["train.amp=fp16"], ["train.amp=bf16", "train.channels_last=true"]],
                         ids=["fp32", "fp16", "bf16-channels-last"])
def test_training_on_the_gpu_learns_with_every_callback(tmp_path, settings):
    result = train(_spec(tmp_path), overrides=settings, runs_root=tmp_path / "runs")
    trainer = result.trainer
    assert result.status == "completed" and trainer.device.type == "cuda"
    assert next(trainer.model.parameters()).is_cuda
    assert trainer.data_on_device == ["test", "train", "val"]
    assert result.metrics["test_acc"] > 0.85, result.metrics
    env = json.loads((result.run_dir / "env.json").read_text())
    assert env["device"].startswith("cuda") and env["kernels"] == "autotuned"
    for picture in ("plots/curves.png", "plots/confusion.png", "gradcam/epoch_004.png"):
        assert (result.run_dir / picture).stat().st_size > 1000, picture
    if "train.amp=fp16" in settings:
        assert trainer.precision.scaler is not None


def test_gpu_and_cpu_training_agree_to_rounding(tmp_path):
    spec = DIGITS.replace("callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]", "callbacks: []")
    spec = spec.replace("  - dropout: {p: 0.1}\n", "")
    gpu = train(_spec(tmp_path, spec), runs_root=tmp_path / "runs", overrides=["train.deterministic=true"])
    cpu = train(_spec(tmp_path, spec), runs_root=tmp_path / "runs", device="cpu")
    assert gpu.metrics["train_loss"] == pytest.approx(cpu.metrics["train_loss"], rel=2e-3)
    assert gpu.metrics["test_acc"] == pytest.approx(cpu.metrics["test_acc"], abs=0.02)


def test_evaluate_explain_and_export_from_a_gpu_run(tmp_path, capsys):
    spec = _spec(tmp_path)
    result = train(spec, runs_root=tmp_path / "runs")
    best = result.run_dir / "checkpoints" / "last.pt"
    on_gpu = evaluate(spec, best, device="cuda")
    on_cpu = evaluate(spec, best, device="cpu")
    assert on_gpu["test_loss"] == pytest.approx(on_cpu["test_loss"], rel=1e-4)
    assert on_gpu["test_acc"] == on_cpu["test_acc"]
    assert main(["explain", str(spec), "--checkpoint", str(result.run_dir), "--device", "cuda",
                 "--samples", "3", "--output", str(tmp_path / "explain")]) == 0
    assert (tmp_path / "explain" / "gradcam.png").exists()
    assert main(["export", str(spec), "--checkpoint", str(best), "--format", "pt2",
                 "-o", str(tmp_path / "digits.pt2")]) == 0
    assert "— ok" in capsys.readouterr().out


def test_resume_on_the_gpu_is_bit_identical_with_deterministic_kernels(tmp_path):
    spec = _spec(tmp_path, DIGITS.replace("callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]",
                                          "callbacks: [checkpoint]"))
    settings = ["train.deterministic=true"]
    straight = train(spec, overrides=settings, runs_root=tmp_path / "a")
    half = train(spec, overrides=[*settings, "train.epochs=2"], runs_root=tmp_path / "b")
    from cnnspec.engine.resume import resume

    resumed = resume(half.run_dir, overrides=[*settings, "train.epochs=4"], force=True)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_a_compiled_model_trains_on_the_gpu(tmp_path):
    spec = DIGITS.replace("callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]", "callbacks: []")
    result = train(_spec(tmp_path, spec), overrides=["train.compile=true", "train.epochs=2"],
                   runs_root=tmp_path / "runs")
    assert result.trainer.compiled and result.metrics["test_acc"] > 0.7


def _same_on_the_gpu(transform, x, seed, atol=1e-5):
    cpu = B.batched_impl(transform)(transform, x.clone(), torch.Generator().manual_seed(seed))
    gpu = B.batched_impl(transform)(transform, x.cuda(), torch.Generator().manual_seed(seed))
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=atol, rtol=0)


@pytest.mark.parametrize("transform", [
    v2.RandomHorizontalFlip(p=0.5), v2.RandomVerticalFlip(p=0.5), v2.RandomGrayscale(p=0.5),
    v2.RandomCrop(10, padding=3), v2.RandomCrop(12, padding=[1, 2], fill=0.5),
    v2.RandomRotation(30, interpolation=v2.InterpolationMode.BILINEAR),
    v2.RandomAffine(20, translate=[0.2, 0.1], scale=[0.8, 1.2], shear=10, interpolation=v2.InterpolationMode.BILINEAR),
    v2.ColorJitter(0.4, 0.4, 0.4, 0.2),
], ids=lambda t: type(t).__name__)
def test_batched_augmentations_run_on_the_gpu_with_the_cpus_numbers(transform):
    x = torch.rand(16, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    _same_on_the_gpu(transform, x, seed=7, atol=1e-4)


def _torchrun(tmp_path: Path, nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("CNNSPEC_DEVICE", None)
    spec = _spec(tmp_path, DIGITS.replace("epochs: 4", "epochs: 1").replace(
        "callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]", "callbacks: []"))
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           "-m", "cnnspec", "train", str(spec), "--runs-root", str(tmp_path / "runs")],
                          env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_on_nccl_trains(tmp_path):
    done = _torchrun(tmp_path, 1)
    assert done.returncode == 0, done.stderr[-2000:]


def test_more_torchrun_processes_than_gpus_is_a_clear_error(tmp_path):
    done = _torchrun(tmp_path, torch.cuda.device_count() + 1)
    assert done.returncode != 0
    assert "GPU(s); each process trains on a GPU of its own" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr.split("torch.distributed.elastic")[0]
