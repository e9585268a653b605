"""Every seed spec trains as written, data section and recipe included.

The seed specs (``specs/seed00*.yaml``) carry their tutorials' pipelines
(CIFAR-10 with a 75/25 split, MNIST with the first 10,000 images validating,
NLLLoss after LogSoftmax, augmentation...). Here they run through ``cnnspec
train`` on small files in the real formats (MNIST IDX, CIFAR pickled batches
with registered md5s) read by torchvision; with a network ``download: true``
would fetch the real datasets. Only the epoch count, the callbacks and, for
MNIST, the validation range (10,000 images) are shortened.
"""

from __future__ import annotations

import json

import pytest
import torchvision

from cnnspec.cli import main
from cnnspec.spec import load_spec
from tests.conftest import SPECS
from tests.data.formats import make_cifar, make_mnist, trust_cifar

SEED_SPECS = sorted(p.stem for p in SPECS.glob("seed00*.yaml"))


@pytest.mark.parametrize("seed", SEED_SPECS)
def test_seed_spec_trains_on_real_format_files(seed, tmp_path, monkeypatch, capsys):
    path = SPECS / f"{seed}.yaml"
    data = load_spec(path).data
    monkeypatch.chdir(tmp_path)
    overrides = ["train.epochs=1", "train.threads=1", "callbacks=[]"]
    if data.dataset == "mnist":
        make_mnist(tmp_path / "data", n_train=84, n_test=20)
        tests, train_size = 20, 84
        if data.val_indices:
            overrides.append("data.val_indices=[0, 20]")
            train_size = 64
    else:
        trust_cifar(monkeypatch, torchvision.datasets.CIFAR10, make_cifar(tmp_path / "data", per_batch=8, n_test=12))
        tests, train_size = 12, 40
        if data.val_split:
            train_size -= round(40 * data.val_split)
    args = ["train", str(path), "--format", "json"] + [a for o in overrides for a in ("--set", o)]
    assert main(args) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = result["metrics"]
    assert metrics["status"] == "completed" and metrics["epochs"] == 1
    assert sum(map(sum, metrics["test_confusion"])) == tests
    assert metrics["global_step"] == -(-train_size // data.batch_size)
    history = [json.loads(x) for x in (tmp_path / result["run_dir"] / "metrics.jsonl").read_text().splitlines()]
    has_val = bool(data.val_split or data.val_indices)
    assert ("val_loss" in history[0]) == has_val and history[0]["train_loss"] is not None
