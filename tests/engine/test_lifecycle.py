"""A run's life: weights kept by default, the best ones tested, finished runs left alone, requeue-safe resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnspec.checkpoint import load_checkpoint, read_manifest
from cnnspec.cli import main
from cnnspec.engine import evaluate, train
from cnnspec.engine.resume import resume

from .standin import random_bundle

SPEC = """
name: life
input: [1, 8, 8]
seed: 3
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - linear: {out_features: 3}
train: {epochs: 4, optimizer: {sgd: {lr: 0.3, momentum: 0.9}}, progress: false}
"""


def _data():
    return random_bundle(sizes=(40, 20, 20))


def _files(run: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_spec_without_callbacks_keeps_last_and_best(tmp_path: Path):
    run = tmp_path / "run"
    train(SPEC, run_dir=run, data=_data(), device="cpu")
    manifest = read_manifest(run / "checkpoints")
    assert manifest is not None and {"last", "best"} <= set(manifest["aliases"])
    assert (run / "checkpoints" / "last.pt").is_file()


def test_opting_out_keeps_nothing_and_says_so(tmp_path: Path, capsys):
    run = tmp_path / "run"
    train(SPEC, run_dir=run, data=_data(), device="cpu", overrides=["train.checkpoint=false"])
    assert not (run / "checkpoints").exists()
    err = capsys.readouterr().err
    assert "warning: train.checkpoint is false: this run keeps no weights" in err


def test_the_test_pass_uses_the_best_weights(tmp_path: Path):
    run = tmp_path / "run"
    result = train(SPEC, run_dir=run, data=_data(), device="cpu")
    manifest = read_manifest(run / "checkpoints")
    assert manifest["aliases"]["best"] != manifest["aliases"]["last"]  # this seed's val_loss peaks early
    final = json.loads((run / "final.json").read_text())
    best = evaluate(SPEC, run / "checkpoints" / "best.pt", data=_data(), device="cpu")
    last = evaluate(SPEC, run / "checkpoints" / "last.pt", data=_data(), device="cpu")
    assert final["test_loss"] == pytest.approx(best["test_loss"], rel=1e-6)
    assert final["test_loss"] != pytest.approx(last["test_loss"], rel=1e-6)
    assert final["test_weights"]["weights"] == "best" and final["test_weights"]["file"] == manifest["aliases"]["best"]
    assert result.metrics["test_weights"]["val_loss"] == min(m["val_loss"] for m in result.history)


def test_restore_best_false_tests_the_last_weights(tmp_path: Path):
    run = tmp_path / "run"
    spec = SPEC + "callbacks: [{checkpoint: {restore_best: false}}]\n"
    train(spec, run_dir=run, data=_data(), device="cpu")
    final = json.loads((run / "final.json").read_text())
    last = evaluate(SPEC, run / "checkpoints" / "last.pt", data=_data(), device="cpu")
    assert final["test_loss"] == pytest.approx(last["test_loss"], rel=1e-6)
    assert final["test_weights"] == {"weights": "last", "epoch": 4}


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path, write_spec, capsys):
    run = tmp_path / "run"
    path = write_spec(SPEC)
    train(path, run_dir=run, data=_data(), device="cpu")
    before = _files(run)
    again = resume(run, data=_data(), device="cpu")
    assert again.trainer is None and again.status == "completed" and len(again.history) == 4
    assert main(["train", "--resume", str(run)]) == 0
    assert f"{run} is finished (completed, 4 of 4 epochs); nothing to do" in capsys.readouterr().err
    assert _files(run) == before


def test_extending_keeps_what_is_final(tmp_path: Path, write_spec):
    run = tmp_path / "run"
    path = write_spec(SPEC)
    train(path, run_dir=run, data=_data(), device="cpu")
    first = json.loads((run / "final.json").read_text())
    header = (run / "spec.yaml").read_text().splitlines()[0]
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    extended = resume(run, overrides=["train.epochs=6"], data=_data(), device="cpu")
    assert len(extended.history) == 6
    final = json.loads((run / "final.json").read_text())
    assert final["train_time_s"] > first["train_time_s"]  # summed over the sessions, not replaced
    assert (run / "spec.yaml").read_text().splitlines()[0] == header == f"# resolved spec of {path}; rerun with: " \
                                                                          "cnnspec train <this file>"
    assert (run / "metrics.jsonl").read_text().splitlines()[:4] == metrics
    env = json.loads((run / "env.json").read_text())
    assert env["resumes"][0]["resumed_at"] == {"epoch": 4, "batch": 0}


def test_a_spec_given_as_data_gets_an_honest_header(tmp_path: Path):
    run = tmp_path / "run"
    train(SPEC, run_dir=run, data=_data(), device="cpu")
    assert (run / "spec.yaml").read_text().startswith("# resolved spec; rerun with")


def test_resume_is_requeue_safe(tmp_path: Path, write_spec, monkeypatch, capsys):
    monkeypatch.setattr("cnnspec.data.build_data", lambda *a, **k: _data())
    path = str(write_spec(SPEC))
    run = tmp_path / "run"
    # nothing there yet: the same command starts the run
    assert main(["train", path, "--resume", str(run)]) == 0
    assert "nothing to resume in" in capsys.readouterr().err
    assert (run / "final.json").is_file()
    before = _files(run)
    # requeued after it finished: nothing changes
    assert main(["train", path, "--resume", str(run)]) == 0
    assert _files(run) == before
    # --resume auto with --run-dir: same thing
    assert main(["train", path, "--resume", "auto", "--run-dir", str(run)]) == 0
    assert _files(run) == before


def test_a_run_killed_before_its_first_checkpoint(tmp_path: Path, write_spec, monkeypatch, capsys):
    monkeypatch.setattr("cnnspec.data.build_data", lambda *a, **k: _data())
    path = str(write_spec(SPEC))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    orphan = run / "checkpoints" / ".tmp-epoch0001-step00000003.pt-x1"
    orphan.write_bytes(b"half")
    (run / "env.json").write_text("{}")
    # without the spec there is nothing to continue: located advice, exit 2, and the orphan is gone
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "no valid checkpoint to resume from" in err and "cnnspec train SPEC --resume DIR" in err
    assert "Traceback" not in err and not orphan.exists()
    # with it, the requeued command starts the run there
    assert main(["train", path, "--resume", str(run)]) == 0
    assert json.loads((run / "final.json").read_text())["status"] == "completed"


def test_a_run_dir_holding_another_runs_checkpoint_is_refused(tmp_path: Path, write_spec, monkeypatch, capsys):
    monkeypatch.setattr("cnnspec.data.build_data", lambda *a, **k: _data())
    path = str(write_spec(SPEC))
    run = tmp_path / "run"
    train(SPEC, run_dir=run, data=_data(), device="cpu", overrides=["train.epochs=1"])
    (run / "metrics.jsonl").unlink()  # as if killed in epoch 1: only a step checkpoint marks the run
    (run / "final.json").unlink()
    kept = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    assert main(["train", path, "--run-dir", str(run), "--set", "seed=9"]) == 2
    err = capsys.readouterr().err
    assert f"--run-dir {run} already holds a run (checkpoints)" in err and "--force" in err
    assert all((load_checkpoint(run / "checkpoints" / "last.pt")["model"][k] == v).all() for k, v in kept.items())
    stale = run / "tensorboard" / "events.out.tfevents.0.old.0"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"")
    (run / "plots").mkdir(exist_ok=True)
    (run / "plots" / "old.png").write_bytes(b"")
    notes = run / "notes.txt"  # not a product of the run: kept
    notes.write_text("mine")
    assert main(["train", path, "--run-dir", str(run), "--set", "seed=9", "--force"]) == 0
    assert read_manifest(run / "checkpoints")["checkpoints"][0]["epoch"] == 1  # the new run's, from the start
    assert not stale.exists() and not (run / "plots" / "old.png").exists() and notes.read_text() == "mine"


def test_a_run_directory_means_its_best_checkpoint(tmp_path: Path, capsys):
    run = tmp_path / "run"
    train(SPEC, run_dir=run, data=_data(), device="cpu")
    manifest = read_manifest(run / "checkpoints")
    best = evaluate(SPEC, run, data=_data(), device="cpu")
    last = evaluate(SPEC, run, data=_data(), device="cpu", which="last")
    assert best["test_loss"] == evaluate(SPEC, run / "checkpoints" / "best.pt", data=_data(), device="cpu")["test_loss"]
    assert last["test_loss"] == evaluate(SPEC, run / "checkpoints" / "last.pt", data=_data(), device="cpu")["test_loss"]
    assert best["weights"].startswith(f"{run / 'checkpoints' / manifest['aliases']['best']} (best, val_loss ")
    assert last["weights"].startswith(f"{run / 'checkpoints' / manifest['aliases']['last']} (last, val_loss ")


def test_resume_auto_follows_the_specs_newest_run(tmp_path: Path, write_spec, monkeypatch, capsys):
    monkeypatch.setattr("cnnspec.data.build_data", lambda *a, **k: _data())
    path = str(write_spec(SPEC))
    root = tmp_path / "runs"
    command = ["train", path, "--resume", "auto", "--runs-root", str(root)]
    assert main(command) == 0  # nothing yet: a new run
    assert "nothing to resume: starting a new run" in capsys.readouterr().err
    (first,) = (root / "life").iterdir()
    before = _files(first)
    assert main(command) == 0  # requeued after it finished: nothing changes, no second run
    assert "is finished" in capsys.readouterr().err
    assert list((root / "life").iterdir()) == [first] and _files(first) == before
    # killed after the last checkpoint, before final.json: the same command finishes it
    (first / "final.json").unlink()
    assert main(command) == 0
    assert f"resuming {first} from epoch0004.pt (after epoch 4" in capsys.readouterr().err
    assert json.loads((first / "final.json").read_text())["epochs"] == 4
