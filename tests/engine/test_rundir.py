"""The run directory: what a run leaves behind, in real on-disk formats."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest
import torch
import yaml

from cnnspec import load_spec
from cnnspec.engine import train
from cnnspec.engine.rundir import atomic_write_text, jsonable, new_run_dir, resolve_run_dir
from cnnspec.exceptions import CnnspecError, SpecError
from tests.engine.standin import random_bundle


def test_a_run_leaves_spec_env_metrics_and_final(tiny_spec, runs):
    result = train(tiny_spec, overrides=["train.epochs=3"], data=random_bundle(), runs_root=runs)
    run_dir = result.run_dir
    assert run_dir.parent == runs / "tiny"
    datetime.strptime(run_dir.name, "%Y%m%dT%H%M%SZ")  # the UTC timestamp
    resolved = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert resolved == result.trainer.spec.to_dict() and resolved["train"]["epochs"] == 3
    assert load_spec(run_dir / "spec.yaml").fingerprint() == result.trainer.spec.fingerprint()

    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows == json.loads(json.dumps(result.history))
    assert set(rows[0]) == {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"}

    env = json.loads((run_dir / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["device"] == "cpu" and env["seed"] == 3
    assert env["spec_fingerprint"] == result.trainer.spec.fingerprint()
    assert {"optim", "losses", "progress"} <= {p["name"] for p in env["plugins"]}
    assert env["world_size"] == 1 and isinstance(env["command"], list)

    final = json.loads((run_dir / "final.json").read_text())
    assert final["status"] == "completed" and final["epochs"] == 3
    assert final["test_acc"] == result.metrics["test_acc"]
    assert final["val_loss"] == rows[-1]["val_loss"]
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", ".hidden"])
def test_spec_names_that_escape_the_runs_root_are_refused(tiny_spec, runs, name):
    spec = load_spec(tiny_spec.replace("name: tiny", f"name: {json.dumps(name)}"))
    with pytest.raises(SpecError, match="cannot be used as a directory name") as info:
        new_run_dir(spec, runs)
    assert info.value.path == "name" and info.value.line == 2
    assert not runs.exists() or list(runs.iterdir()) == []


def test_an_explicit_run_dir_is_trusted_but_not_reused(tiny_spec, tmp_path):
    target = tmp_path / "elsewhere" / "run"
    result = train(tiny_spec, overrides=["name=../x"], data=random_bundle(), run_dir=target)
    assert result.run_dir == target and (target / "final.json").exists()
    with pytest.raises(CnnspecError, match="already holds a run"):
        train(tiny_spec, data=random_bundle(), run_dir=target)


def test_same_second_runs_get_distinct_directories(tiny_spec, runs):
    spec = load_spec(tiny_spec)
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    dirs = [new_run_dir(spec, runs, now=now) for _ in range(3)]
    assert [d.name for d in dirs] == ["20300102T030405Z", "20300102T030405Z-2", "20300102T030405Z-3"]
    assert resolve_run_dir(spec, None, runs).parent == runs / "tiny"


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "final.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["final.json"]


def test_jsonable_turns_tensors_and_non_finite_numbers_into_json():
    value = {"a": torch.tensor([1.5, 2.0]), "b": float("nan"), "c": (1, float("inf")), "d": torch.tensor(3)}
    assert json.dumps(jsonable(value), allow_nan=False) == '{"a": [1.5, 2.0], "b": null, "c": [1, null], "d": 3}'
