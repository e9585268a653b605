"""``cnnspec train`` and ``cnnspec evaluate``: exit codes, JSON output, files."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from cnnspec.cli import main
from tests.conftest import SPECS

DIGITS = str(SPECS / "digits.yaml")
QUICK = ["--set", "train.epochs=1", "--set", "train.scheduler=null", "--set", "callbacks=[]"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_train_json_prints_one_object_with_the_run_dir_and_metrics(in_tmp, capsys):
    assert main(["train", DIGITS, *QUICK, "--format", "json"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1, captured.out  # the progress went to stderr
    result = json.loads(lines[0])
    run_dir = in_tmp / result["run_dir"]
    assert run_dir.parent == in_tmp / "runs" / "digits"
    assert result["status"] == "completed" and result["metrics"]["epochs"] == 1
    assert result["metrics"] == json.loads((run_dir / "final.json").read_text())
    assert 0 <= result["metrics"]["test_acc"] <= 1 and "epoch 1/1" in captured.err


def test_dry_run_keeps_nothing(in_tmp, capsys):
    assert main(["train", DIGITS, "--dry-run", "--format", "json", "--set", "callbacks=[]"]) == 0
    result = _last_json(capsys.readouterr().out)
    assert result["run_dir"] is None and result["metrics"]["global_step"] == 2
    assert list(in_tmp.iterdir()) == []
    assert main(["train", DIGITS, "--dry-run", "--set", "callbacks=[]"]) == 0
    assert "dry run ok: 2 batches" in capsys.readouterr().out
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_dry_run_with_every_callback_of_the_main_job_keeps_nothing(in_tmp, capsys):
    assert main(["train", DIGITS, "--dry-run", "--format", "json"]) == 0
    result = _last_json(capsys.readouterr().out)
    assert result["status"] == "completed" and result["metrics"]["global_step"] == 2
    assert list(in_tmp.iterdir()) == []


def test_spec_mistakes_exit_2_without_a_traceback(in_tmp, capsys):
    assert main(["train", DIGITS, "--set", "train.optimizer={adam: {lrr: 0.1}}"]) == 2
    err = capsys.readouterr().err
    assert "unknown argument 'lrr'; did you mean 'lr'?" in err and "Traceback" not in err
    assert main(["train", DIGITS, "--set", "name=../../etc"]) == 2
    assert "cannot be used as a directory name" in capsys.readouterr().err
    assert not (in_tmp / "runs").exists() or not any((in_tmp / "runs").rglob("*.json"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_exits_2(in_tmp, capsys):
    assert main(["train", DIGITS, "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_a_diverging_run_exits_3(in_tmp, capsys):
    code = main(["train", DIGITS, *QUICK, "--set", "train.optimizer={sgd: {lr: 1.0e+30}}", "--format", "json"])
    result = _last_json(capsys.readouterr().out)
    assert code == 3 and result["status"] == "diverged" and "non-finite loss" in result["stop_reason"]


def test_evaluate_reproduces_the_test_metrics_of_the_run(in_tmp, capsys):
    from cnnspec.engine import train

    result = train(DIGITS, overrides=["train.epochs=1", "train.progress=false", "callbacks=[checkpoint]"],
                   runs_root=in_tmp / "runs")
    plain = in_tmp / "weights.pt"
    torch.save(result.model.state_dict(), plain)
    for weights in (result.run_dir / "checkpoints" / "last.pt", plain):
        assert main(["evaluate", str(result.run_dir / "spec.yaml"), "--checkpoint", str(weights),
                     "--format", "json"]) == 0
        metrics = _last_json(capsys.readouterr().out)["metrics"]
        assert metrics["test_confusion"] == result.metrics["test_confusion"]
        for key in ("test_loss", "test_acc", "test_per_class_acc"):
            assert metrics[key] == pytest.approx(result.metrics[key]), key
    assert main(["evaluate", DIGITS, "--checkpoint", str(plain)]) == 0
    text = capsys.readouterr().out
    assert "test_acc" in text and text.rstrip().splitlines()[-1].strip().startswith("9 ")


class Exploit:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_evaluate_refuses_a_pickle_that_runs_code(in_tmp, capsys, monkeypatch):
    bad = in_tmp / "bad.pt"
    bad.write_bytes(pickle.dumps({"model": Exploit()}))
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    assert main(["evaluate", DIGITS, "--checkpoint", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "code ran" not in captured.out and "Traceback" not in captured.err
