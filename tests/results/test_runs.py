"""``cnnspec runs``: the table and the curves, checked against the run directories' own files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cnnspec.build import build_model
from cnnspec.cli import main
from cnnspec.engine import train
from cnnspec.spec import load_spec
from tests.engine.standin import random_bundle

SPEC = """
name: cmp
input: [1, 8, 8]
seed: 3
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - linear: {out_features: 3}
train: {epochs: 3, optimizer: {sgd: {lr: 0.3, momentum: 0.9}}, progress: false}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    for name, overrides in (("base", []), ("slow", ["train.optimizer.sgd.lr=0.05"]),
                            ("wide", ["model[0].conv2d.out_channels=8"])):
        train(SPEC, overrides=overrides, run_dir=root / "cmp" / name, data=random_bundle(sizes=(40, 20, 20)),
              device="cpu")
    shutil.copytree(root / "cmp" / "slow", root / "cmp" / "zkilled")  # as if killed after two epochs
    (root / "cmp" / "zkilled" / "final.json").unlink()
    lines = (root / "cmp" / "zkilled" / "metrics.jsonl").read_text().splitlines()
    (root / "cmp" / "zkilled" / "metrics.jsonl").write_text("\n".join(lines[:2]) + "\n")
    return root


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_json_listing_is_the_runs_own_numbers(runs: Path, capsys):
    assert main(["runs", str(runs), "--format", "json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(listed) == ["cmp/base", "cmp/slow", "cmp/wide", "cmp/zkilled"]
    for name, row in listed.items():
        run = runs / name
        history = _metrics(run)
        assert row["best_val_loss"] == min(m["val_loss"] for m in history)
        assert row["best_val_acc"] == max(m["val_acc"] for m in history)
        assert row["epochs"] == len(history) and row["planned_epochs"] == 3
        spec = load_spec(run / "spec.yaml")
        assert row["params"] == sum(p.numel() for p in build_model(spec).parameters())
        if name == "cmp/zkilled":
            assert row["status"] == "unfinished" and row["test_acc"] is None
        else:
            final = json.loads((run / "final.json").read_text())
            assert row["status"] == "completed" and row["test_acc"] == final["test_acc"]
    assert listed["cmp/base"]["differences"] == []
    assert listed["cmp/slow"]["differences"] == ["train.optimizer.sgd.lr: 0.3 → 0.05"]
    assert listed["cmp/wide"]["differences"] == ["model[0].conv2d.out_channels: 4 → 8"]


def test_the_table_sorts(runs: Path, capsys):
    assert main(["runs", str(runs), "--sort", "best_val_loss"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["run", "started", "status"]
    order = [line.split()[0] for line in lines[1:]]
    best = {n: min(m["val_loss"] for m in _metrics(runs / n)) for n in order}
    assert [best[n] for n in order] == sorted(best.values())
    assert main(["runs", str(runs), "--sort", "test_acc"]) == 0
    order = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert order[-1] == "cmp/zkilled"  # no test accuracy: last
    accs = [json.loads((runs / n / "final.json").read_text())["test_acc"] for n in order[:-1]]
    assert accs == sorted(accs, reverse=True)
    assert "train.optimizer.sgd.lr: 0.3 → 0.05" in "\n".join(lines)


def test_the_curves_overlay_in_one_png(runs: Path, tmp_path: Path, capsys):
    import matplotlib.image

    out = tmp_path / "val.png"
    assert main(["runs", str(runs), "--plot", "val_acc", "-o", str(out)]) == 0
    assert f"wrote {out}: val_acc of 4 run(s)" in capsys.readouterr().out
    assert matplotlib.image.imread(out).shape[2] in (3, 4)
    assert main(["runs", str(runs), "--plot", "val_accuracy"]) == 2
    err = capsys.readouterr().err
    assert "no run recorded 'val_accuracy' per epoch" in err and "val_acc" in err
    assert main(["runs", str(tmp_path / "none")]) == 2
