"""The seeds' models train end to end on files written in the real CIFAR-10 and MNIST formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torchvision
import yaml

from cnnspec.engine.api import train
from tests.data.formats import make_cifar, make_mnist, trust_cifar

pytestmark = pytest.mark.slow  # a real training run each (several seconds on 2 cores)

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _seed_spec(name: str, data: dict, tmp_path: Path) -> dict:
    document = yaml.safe_load((SPECS / name).read_text())
    document["data"] = data
    document["train"] = {"epochs": 1, "optimizer": {"sgd": {"lr": 0.001, "momentum": 0.9}}, "progress": False}
    document["callbacks"] = []
    return document


def test_seed_000_lenet_on_cifar10_files(tmp_path, monkeypatch):
    files = make_cifar(tmp_path, per_batch=16, n_test=12)
    trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, files)
    spec = _seed_spec("seed000_lenet_cifar10.yaml", {
        "dataset": "cifar10", "root": str(tmp_path), "download": True, "batch_size": 4, "val_split": 0.25,
        "transforms": [{"normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}]}, tmp_path)
    train(spec, run_dir=tmp_path / "run", handle_signals=False)
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert final["status"] == "completed" and final["classes"] == files["classes"]
    assert final["global_step"] == 15  # 80 images, 60 after the 25% validation split, batches of 4
    assert sum(map(sum, final["test_confusion"])) == 12


def test_seed_001_mnist_first_samples_for_validation(tmp_path):
    make_mnist(tmp_path, n_train=50, n_test=10, gz=True)
    spec = _seed_spec("seed001_mnist_cnn.yaml", {
        "dataset": "mnist", "root": str(tmp_path), "batch_size": 16, "val_indices": [0, 10]}, tmp_path)
    result = train(spec, run_dir=tmp_path / "run", handle_signals=False)
    assert result.metrics["status"] == "completed"
    assert result.metrics["global_step"] == 3  # 50 images, 40 after the first 10 for validation, batches of 16
    assert sum(map(sum, result.metrics["test_confusion"])) == 10
    assert result.metrics["classes"] == list(torchvision.datasets.MNIST.classes)
