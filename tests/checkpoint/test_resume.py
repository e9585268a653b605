"""Resume is bit-identical to an uninterrupted run on CPU; controls show the test can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from cnnspec.checkpoint import read_manifest
from cnnspec.engine import train
from cnnspec.engine.resume import find_resume_point, resume
from cnnspec.exceptions import CnnspecError, SpecError
from cnnspec.spec import load_spec

from .helpers import SPEC, StopAt, comparable, same_weights, weights


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """One uninterrupted run, shared by the tests of this module."""
    run = tmp_path_factory.mktemp("reference") / "run"
    result = train(SPEC, run_dir=run, device="cpu")
    assert result.status == "completed"
    return {"weights": weights(result.model), "history": comparable(result.history), "metrics": result.metrics,
            "run": run}


def _interrupted(tmp_path: Path, step: int) -> Path:
    run = tmp_path / "run"
    result = train(SPEC, run_dir=run, device="cpu", callbacks=[StopAt(step)])
    assert result.status == "interrupted" and result.stop_reason == "test stop"
    return run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> dict[int, Path]:
    """Runs stopped at a few steps, made once; tests resume copies of them."""
    return {step: _interrupted(tmp_path_factory.mktemp(f"stopped{step}"), step) for step in (6, 12)}


def _copy(stopped: dict[int, Path], step: int, tmp_path: Path) -> Path:
    return Path(shutil.copytree(stopped[step], tmp_path / "run"))


# 9 training batches per epoch: step 6 is mid-epoch, between the step checkpoints (every 4)
def test_resume_mid_epoch_is_bit_identical(tmp_path: Path, reference: dict, stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    point = find_resume_point(run)
    assert point.path.name == "epoch0001-step00000006.pt" and point.changes == []
    assert point.checkpoint["meta"]["reason"] == "interrupt"
    result = resume(run, device="cpu")
    assert result.status == "completed" and result.run_dir == run
    assert same_weights(weights(result.model), reference["weights"])
    assert comparable(result.history) == reference["history"]
    assert result.metrics["test_acc"] == reference["metrics"]["test_acc"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # one per epoch, none repeated by the resume


@pytest.mark.slow
@pytest.mark.parametrize("step", [4, 9, 18, 27])
def test_resume_at_other_points_is_bit_identical(tmp_path: Path, reference: dict, step: int) -> None:
    """On a step checkpoint, at an epoch's last batch (before validation), and after the last epoch."""
    run = _interrupted(tmp_path, step=step)
    result = resume(run, device="cpu")
    assert same_weights(weights(result.model), reference["weights"])
    assert comparable(result.history) == reference["history"]


def test_resume_from_the_previous_checkpoint_when_the_newest_is_damaged(tmp_path: Path, reference: dict,
                                                                        stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    newest = run / "checkpoints" / "epoch0001-step00000006.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x01
    newest.write_bytes(bytes(data))
    skipped: list[str] = []
    result = resume(run, device="cpu", on_skip=lambda p, r: skipped.append(p.name))
    assert skipped == ["epoch0001-step00000006.pt"]
    assert same_weights(weights(result.model), reference["weights"])
    # set aside, not deleted, and no longer listed: rotation keeps good checkpoints instead
    assert (run / "checkpoints" / "epoch0001-step00000006.pt.damaged").read_bytes() == bytes(data)
    listed = [e["file"] for e in read_manifest(run / "checkpoints")["checkpoints"]]
    assert "epoch0001-step00000006.pt" not in listed


@pytest.mark.parametrize("drop", ["rng", "optimizer", "scheduler"])
def test_negative_control_resume_without_part_of_the_state_differs(tmp_path: Path, reference: dict, stopped,
                                                                    drop: str) -> None:
    """Resetting one part of the saved state must change the result; otherwise the
    bit-identical checks above would prove nothing."""
    run = _copy(stopped, 12, tmp_path)  # in the second epoch: the scheduler has stepped once
    point = find_resume_point(run)
    state = point.state
    if drop == "rng":
        torch.manual_seed(12345)
        state["rng"] = {**state["rng"], "torch": torch.get_rng_state()}
    elif drop == "optimizer":
        state["optimizer"] = {**state["optimizer"], "state": {}}  # no momentum buffers
    else:
        dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        state["scheduler"] = torch.optim.lr_scheduler.MultiStepLR(dummy, milestones=[2], gamma=0.3).state_dict()
    result = train(point.spec, run_dir=run, device="cpu", resume_state=state)
    assert result.status == "completed"
    assert not same_weights(weights(result.model), reference["weights"])


def test_positive_counterpart_of_the_controls(tmp_path: Path, reference: dict, stopped) -> None:
    """The same stopped run, its state untouched, resumes to the reference exactly."""
    result = resume(_copy(stopped, 12, tmp_path), device="cpu")
    assert same_weights(weights(result.model), reference["weights"])


def test_changed_spec_is_refused_with_a_diff(tmp_path: Path, write_spec, stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    changed = write_spec(SPEC.replace("epochs: 3", "epochs: 5").replace("lr: 0.1,", "lr: 0.05,"), "changed.yaml")
    with pytest.raises(SpecError) as info:
        find_resume_point(run, spec=changed)
    text = info.value.format()
    assert text.startswith(f"cannot resume {run}: the spec differs from the one epoch0001-step00000006.pt was "
                           "trained with (1 change, old → new):\n")
    assert "  train.epochs" not in text  # more epochs extend the run: not a change
    assert f"  train.optimizer.sgd.lr ({changed}:15:25): 0.1 → 0.05\n" in text
    assert "Hint: resume with the original spec" in text and "--force" in text
    with pytest.raises(SpecError, match=r"data\.val_split: 0\.2 → \(absent\)"):
        find_resume_point(run, overrides=["~data.val_split"])


def test_same_spec_from_file_or_overrides_is_accepted(tmp_path: Path, write_spec, stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    assert find_resume_point(run, spec=write_spec(SPEC)).changes == []
    assert find_resume_point(run, overrides=["train.epochs=3"]).changes == []


def test_force_continues_with_the_new_spec(tmp_path: Path, reference: dict, stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    point = find_resume_point(run, overrides=["train.epochs=4", "train.optimizer.sgd.momentum=0.9"], force=True)
    assert point.changes == [] and point.epochs == (3, 4)
    result = train(point.spec, run_dir=run, device="cpu", resume_state=point.state)
    assert result.status == "completed" and len(result.history) == 4
    assert comparable(result.history)[:3] == reference["history"]


def test_force_refuses_a_model_whose_weights_do_not_fit(tmp_path: Path, stopped) -> None:
    run = _copy(stopped, 6, tmp_path)
    with pytest.raises(SpecError, match=r"\.pt do not fit the changed spec's model: 3 shape mismatches\n  shape "
                                        r"mismatch: conv1\.weight is \[6, 1, 3, 3\] in the file, \[8, 1, 3, 3\] in "
                                        r"the model\n"):
        find_resume_point(run, overrides=["model[0].conv2d.out_channels=8"], force=True)


def test_nothing_to_resume(tmp_path: Path) -> None:
    with pytest.raises(CnnspecError, match="no such run directory"):
        find_resume_point(tmp_path / "missing")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "epoch0001.pt").write_bytes(b"torn")
    with pytest.raises(CnnspecError, match=r"(?s)no valid checkpoint to resume from.*epoch0001\.pt: not a "
                                           r"complete checkpoint archive"):
        find_resume_point(tmp_path)


def test_stored_spec_reloads_to_the_same_fingerprint() -> None:
    spec = load_spec(SPEC)
    assert load_spec(spec.to_dict()).fingerprint() == spec.fingerprint()


def test_cli_resume(tmp_path: Path, reference: dict, stopped, capsys) -> None:
    from cnnspec.checkpoint import load_checkpoint
    from cnnspec.cli import main

    run = _copy(stopped, 6, tmp_path)
    assert main(["train", "--resume", str(run), "--set", "train.optimizer.sgd.lr=0.05"]) == 2
    err = capsys.readouterr().err
    assert "the spec differs" in err and "train.optimizer.sgd.lr (--set[0]:1:1): 0.1 → 0.05" in err
    assert "Traceback" not in err
    assert main(["train", "--resume", str(run), "--run-dir", str(tmp_path / "other")]) == 2
    assert f"--run-dir {tmp_path / 'other'} names another one" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "give a SPEC to train, or --resume RUN_DIR" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert f"resuming {run} from epoch0001-step00000006.pt (in epoch 1, after batch 6, step 6)" in captured.err
    assert '"status": "completed"' in captured.out.splitlines()[-1]
    assert same_weights(weights(load_checkpoint(run / "checkpoints" / "last.pt")["model"]), reference["weights"])
