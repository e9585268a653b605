"""The main job: specs/digits.yaml reaches at least 95% test accuracy, offline."""

from __future__ import annotations

import json

import pytest

from cnnspec.cli import main
from tests.conftest import SPECS


@pytest.mark.slow
def test_digits_main_job_reaches_95_percent(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(SPECS / "digits.yaml"), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = result["metrics"]
    assert metrics["status"] == "completed" and metrics["epochs"] == 12
    assert metrics["test_acc"] >= 0.95, metrics
    run_dir = tmp_path / result["run_dir"]
    assert {"spec.yaml", "env.json", "metrics.jsonl", "final.json"} <= {p.name for p in run_dir.iterdir()}
    # what the README promises the main job leaves behind
    for pattern in ("checkpoints/best.pt", "checkpoints/last.pt", "tensorboard/events.out.tfevents.*",
                    "plots/curves.png", "plots/confusion.png", "gradcam/*.png"):
        found = list(run_dir.glob(pattern))
        assert found and all(f.stat().st_size > 0 for f in found), pattern
