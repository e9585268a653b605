"""The seeds' experiments, data and recipe included, train through ``cnnspec train``.

Each spec extends the seed's model spec (``specs/seed00*.yaml``) with the
tutorial's data pipeline and recipe. The datasets are small files in the
real formats (MNIST IDX, CIFAR pickled batches with registered md5s) read
by torchvision; with a network, ``download: true`` would fetch the real ones.
"""

from __future__ import annotations

import json

import pytest
import torchvision

from cnnspec.cli import main
from tests.conftest import SPECS
from tests.data.formats import make_cifar, make_mnist, trust_cifar

#: seed -> (dataset, spec additions, steps in the epoch, has a validation split)
SEEDS = {
    # seed 000: LeNet, CIFAR-10 with a 75/25 split, SGD(lr=0.001, momentum=0.9), batch 4
    "seed000_lenet_cifar10": ("cifar10", """
data:
  dataset: cifar10
  batch_size: 4
  val_split: 0.25
  transforms:
    - normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
train: {epochs: 1, optimizer: {sgd: {lr: 0.001, momentum: 0.9}}, loss: crossentropyloss}
""", 8, True),  # 30 of 40 images train, batch 4
    # seed 001: MNIST, the first images for validation, Adam(lr=0.001), batch 64
    "seed001_mnist_cnn": ("mnist", """
data: {dataset: mnist, batch_size: 64, val_indices: [0, 20]}
train: {epochs: 1, optimizer: {adam: {lr: 0.001}}}
""", 1, True),  # 64 of 84 images train
    # seed 003: the CIFAR10CNN ending in LogSoftmax, trained with NLLLoss and Adam
    "seed003_cifar10cnn": ("cifar10", """
data:
  dataset: cifar10
  batch_size: 16
  transforms:
    - normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010]}
train: {epochs: 1, optimizer: {adam: {lr: 0.001}}, loss: nllloss}
""", 3, False),  # 40 images, batch 16
    # seed 004: SimpleCNN with augmentation on the training split
    "seed004_simplecnn": ("cifar10", """
data:
  dataset: cifar10
  batch_size: 16
  val_split: 0.2
  train_transforms:
    - randomcrop: {size: 32, padding: 4}
    - randomhorizontalflip
    - randomrotation: {degrees: 15}
    - colorjitter: {brightness: 0.2, contrast: 0.2}
  transforms:
    - normalize: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
train: {epochs: 1, optimizer: {adam: {lr: 0.001}}}
""", 2, True),  # 32 of 40 images train, batch 16
}


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_experiment_trains_on_real_format_files(seed, tmp_path, monkeypatch, capsys):
    dataset, recipe, steps, has_val = SEEDS[seed]
    monkeypatch.chdir(tmp_path)
    if dataset == "mnist":
        make_mnist(tmp_path / "data", n_train=84, n_test=20)
        tests = 20
    else:
        trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, make_cifar(tmp_path / "data", per_batch=8, n_test=12))
        tests = 12
    spec = tmp_path / f"{seed}.yaml"
    spec.write_text(f"extends: {SPECS / (seed + '.yaml')}\n{recipe}")
    assert main(["train", str(spec), "--format", "json", "--set", "train.threads=1"]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = result["metrics"]
    assert metrics["status"] == "completed" and metrics["epochs"] == 1
    assert sum(map(sum, metrics["test_confusion"])) == tests and metrics["global_step"] == steps
    history = [json.loads(x) for x in (tmp_path / result["run_dir"] / "metrics.jsonl").read_text().splitlines()]
    assert ("val_loss" in history[0]) == has_val and history[0]["train_loss"] is not None
