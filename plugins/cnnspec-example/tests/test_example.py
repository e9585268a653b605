"""The example plugin's own tests: run them after installing the package.

    pip install -e plugins/cnnspec-example && pytest plugins/cnnspec-example/tests

They use cnnspec's author kit (cnnspec.testing) and compare against torch.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from cnnspec.testing import check_components, check_layer

EXAMPLE_SPEC = Path(__file__).resolve().parents[1] / "example.yaml"


def test_installed_and_discovered(cnnspec_plugins):
    info = cnnspec_plugins.info["example"]
    cnnspec_plugins.all_registries()
    assert info.status == "loaded", info.error
    assert info.distribution == "cnnspec-example"
    assert info.registers == {"layer": ["ConvBNReLU", "SqueezeExcite"], "dataset": ["stripes"],
                              "loss": ["focal"], "callback": ["csv_log"]}


@pytest.mark.parametrize("layer", ["ConvBNReLU", "SqueezeExcite"])
def test_shape_rule_matches_torch(layer):
    report = check_layer(layer, trials=200, seed=0)
    assert report.accepted >= 20, report


def test_every_component_builds():
    report = check_components("example", layer_trials=20)
    assert {"layer:ConvBNReLU", "layer:SqueezeExcite", "dataset:stripes", "loss:focal",
            "callback:csv_log"} <= set(report.checked), report


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    from cnnspec_example.modules import FocalLoss

    logits, targets = torch.randn(16, 5), torch.randint(0, 5, (16,))
    expected = torch.nn.functional.cross_entropy(logits, targets)
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, targets), expected)
    # easy examples are down-weighted: the focal loss is never above cross-entropy
    per_item = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    assert torch.all(FocalLoss(gamma=2.0, reduction="none")(logits, targets) <= per_item + 1e-6)


def test_stripes_are_deterministic_and_labelled_by_orientation():
    from cnnspec_example.data import make_stripes

    a, la = make_stripes(32, image_size=16, channels=1, noise=0.0, seed=3)
    b, lb = make_stripes(32, image_size=16, channels=1, noise=0.0, seed=3)
    assert torch.equal(a, b) and torch.equal(la, lb)
    img = a.float()
    for i in range(32):
        rows_vary = img[i, 0].std(dim=1).mean()  # within a row
        cols_vary = img[i, 0].std(dim=0).mean()  # within a column
        if la[i] == 0:  # horizontal stripes: constant along each row
            assert rows_vary < 1e-3 < cols_vary
        elif la[i] == 1:  # vertical stripes: constant along each column
            assert cols_vary < 1e-3 < rows_vary


def test_csv_log_survives_a_resume(tmp_path):
    from cnnspec_example.callbacks import CsvLog

    class Trainer:
        run_dir = tmp_path

    log = CsvLog()
    log.setup(Trainer())
    log.on_epoch_end(Trainer(), 0, {"epoch": 1, "train_loss": torch.tensor(1.5)})
    log.on_epoch_end(Trainer(), 1, {"epoch": 2, "train_loss": 1.0, "val_acc": 0.5})
    state = log.state_dict()
    log.on_epoch_end(Trainer(), 2, {"epoch": 3, "train_loss": 0.9, "val_acc": 0.6})  # then the run dies
    resumed = CsvLog()
    resumed.setup(Trainer())
    resumed.load_state_dict(state)
    resumed.on_epoch_end(Trainer(), 2, {"epoch": 3, "train_loss": 0.8, "val_acc": 0.7})
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0] == {"epoch": "1", "train_loss": "1.5", "val_acc": ""}
    assert rows[2]["train_loss"] == "0.8"


def test_example_spec_validates_and_builds(cnnspec_cli):
    result = cnnspec_cli("validate", "--format", "json", str(EXAMPLE_SPEC))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    from cnnspec import build_model, load_spec

    model = build_model(load_spec(EXAMPLE_SPEC))
    out = model(torch.randn(2, *report["input_shape"]))
    assert list(out.shape[1:]) == report["output_shape"]
    assert sum(p.numel() for p in model.parameters()) == report["params"]
