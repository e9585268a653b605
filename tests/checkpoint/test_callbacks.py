"""The checkpoint and early-stopping callbacks in real training runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from cnnspec.callbacks.base import Callback
from cnnspec.callbacks.checkpoint import CheckpointCallback
from cnnspec.callbacks.early_stopping import EarlyStopping
from cnnspec.checkpoint import load_checkpoint, read_manifest
from cnnspec.engine import Trainer, train
from cnnspec.exceptions import SpecError
from cnnspec.plugins.manager import get_plugins
from cnnspec.spec import load_spec

from .helpers import SPEC


def _files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").glob("*.pt"))


def test_registered_as_builtin_plugins() -> None:
    registry = get_plugins().registry("callback")
    assert registry.entry("checkpoint").provider.plugin == "checkpointing"
    assert registry.get("checkpoint").load() is CheckpointCallback
    assert registry.get("earlystopping").load() is EarlyStopping


def test_arguments_are_checked_statically(write_spec) -> None:
    bad = SPEC.replace("checkpoint: {every_n_steps: 4, keep_last: 2}", "checkpoint: {keep_lats: 2, mode: best}")
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(bad))
    messages = [e.message for e in info.value.all_errors()]
    assert any(m.startswith("callbacks[0] checkpoint: unknown argument 'keep_lats'; did you mean 'keep_last'?")
               for m in messages)
    assert any(m.startswith("callbacks[0] checkpoint mode:") for m in messages)


def test_last_best_keep_last_and_manifest(tmp_path: Path) -> None:
    spec = SPEC.replace("checkpoint: {every_n_steps: 4, keep_last: 2}",
                        "checkpoint: {monitor: val_acc, every_n_steps: 4, keep_last: 2}")
    run = tmp_path / "run"
    result = train(spec, run_dir=run, device="cpu")
    manifest = read_manifest(run / "checkpoints")
    accs = [m["val_acc"] for m in result.history]
    best_epoch = max(range(len(accs)), key=lambda i: (accs[i], -i)) + 1
    assert manifest["aliases"] == {"last": "epoch0003.pt", "best": f"epoch{best_epoch:04d}.pt"}
    kept = {"epoch0003.pt", f"epoch{best_epoch:04d}.pt", "epoch0003-step00000024.pt", "best.pt", "last.pt"}
    assert set(_files(run)) == kept  # 2 most recent (+ best), older ones pruned
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["meta"]["reason"] == "epoch" and last["meta"]["epoch"] == 3 and last["meta"]["step"] == 27
    assert last["meta"]["metrics"]["val_acc"] == accs[-1]
    assert last["fingerprint"] == load_spec(spec).fingerprint() and last["spec"] == load_spec(spec).to_dict()
    assert last["callbacks"]["checkpoint:val_acc"]["best_value"] == max(accs)
    entry = next(e for e in manifest["checkpoints"] if e["file"] == "epoch0003.pt")
    assert entry["metrics"]["val_acc"] == accs[-1] and entry["monitor"] == "val_acc" and entry["mode"] == "max"
    for key, tensor in last["model"].items():
        assert torch.equal(tensor, result.model.state_dict()[key])


def test_monitor_that_no_metric_provides_is_a_located_error_before_training(tmp_path: Path, write_spec) -> None:
    text = SPEC.replace("data: {dataset: digits, batch_size: 128, val_split: 0.2}",
                        "data: {dataset: digits, batch_size: 128}")
    text = text.replace("earlystopping: {patience: 5}", "earlystopping: {monitor: val_accuracy}")
    path = write_spec(text)
    trainer = Trainer(load_spec(path), run_dir=tmp_path / "run", device="cpu")
    checkpoint, early = trainer.callbacks[:2]
    checkpoint.setup(trainer)  # default monitor: train_loss without a validation split
    assert checkpoint.monitor == "train_loss" and checkpoint.mode == "min"
    with pytest.raises(SpecError) as info:
        early.setup(trainer)
    assert info.value.format() == (
        f"{path}:20:30: callbacks[1].earlystopping.monitor: earlystopping: no metric 'val_accuracy' is computed "
        "in this run\n  Hint: metrics available: train_loss, train_acc, lr")
    trainer2 = Trainer(load_spec(write_spec(text.replace("{every_n_steps: 4, keep_last: 2}", "{monitor: val_acc}"),
                                            "b.yaml")), run_dir=tmp_path / "run2", device="cpu")
    with pytest.raises(SpecError) as info:
        trainer2.callbacks[0].setup(trainer2)
    assert info.value.line == 19 and info.value.path == "callbacks[0].checkpoint.monitor"
    assert "need a validation split" in info.value.hint
    assert not (tmp_path / "run" / "checkpoints").exists() and trainer.global_step == 0


class _Provides(Callback):
    provides_metrics = ("grad_norm",)

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict) -> None:
        metrics["grad_norm"] = 1.0


def test_metrics_provided_by_other_callbacks_can_be_monitored(tmp_path: Path) -> None:
    spec = SPEC.replace("checkpoint: {every_n_steps: 4, keep_last: 2}", "checkpoint: {monitor: grad_norm}")
    trainer = Trainer(load_spec(spec), run_dir=tmp_path / "run", device="cpu", extra_callbacks=[_Provides()])
    trainer.callbacks[0].setup(trainer)
    assert trainer.callbacks[0].mode == "min"


def test_two_checkpoint_callbacks_are_refused(tmp_path: Path) -> None:
    spec = SPEC.replace("- earlystopping: {patience: 5}", "- checkpoint: {monitor: val_acc}")
    trainer = Trainer(load_spec(spec), run_dir=tmp_path / "run", device="cpu")
    trainer.callbacks[0].setup(trainer)
    with pytest.raises(SpecError, match=r"callbacks\[1\]: checkpoint: a run has one checkpoint callback"):
        trainer.callbacks[1].setup(trainer)


class _Poison(Callback):
    """Make one weight non-finite after optimizer step ``step``."""

    def __init__(self, step: int, value: float) -> None:
        self.step, self.value = step, value

    def on_train_batch_end(self, trainer: Any, batch: int, *args: Any) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(trainer.model.parameters()).view(-1)[0] = self.value


def _all_finite(run: Path) -> bool:
    for p in (run / "checkpoints").glob("*.pt"):
        for t in load_checkpoint(p)["model"].values():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return False
    return True


def test_non_finite_weights_are_never_checkpointed(tmp_path: Path) -> None:
    """inf in a weight (a finite loss can still follow): the save is refused with a warning."""
    run = tmp_path / "run"
    # the poison runs before the checkpoint callback in the same step, so that save sees it
    trainer = Trainer(load_spec(SPEC), run_dir=run, device="cpu",
                      callbacks=[_Poison(5, math.inf), CheckpointCallback(every_n_steps=1)])
    with pytest.warns(RuntimeWarning, match=r"^checkpoint: model\.conv1\.weight holds non-finite values"):
        trainer.fit()
    assert trainer.status == "diverged" and trainer.global_step == 5  # the next loss was NaN
    assert _all_finite(run)
    assert [e["step"] for e in read_manifest(run / "checkpoints")["checkpoints"]] == [3, 4]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    spec = SPEC.replace("every_n_steps: 4", "every_n_steps: 1")
    run = tmp_path / "run"
    result = train(spec, run_dir=run, device="cpu", callbacks=[_Poison(5, math.nan)])
    assert result.status == "diverged" and result.trainer.global_step == 5
    manifest = read_manifest(run / "checkpoints")
    assert [e["step"] for e in manifest["checkpoints"]][-1] == 5 and manifest["aliases"]["last"].endswith("5.pt")
    assert _all_finite(run)


# -- early stopping --------------------------------------------------------------------


class _FakeTrainer:
    def __init__(self) -> None:
        self.should_stop = False
        self.stop_reason = None


@pytest.mark.parametrize(("mode", "values", "stop_after"), [
    ("min", [1.0, 0.9, 0.95, 0.91, 0.99], 4),
    ("max", [0.1, 0.2, 0.15, 0.2, 0.3], 4),
    ("min", [1.0, math.nan, math.nan], 3),
    ("min", [1.0, 0.5, 0.4, 0.3, 0.2], None),
])
def test_early_stopping_patience(mode: str, values: list[float], stop_after: int | None) -> None:
    es = EarlyStopping(monitor="m", mode=mode, patience=2, min_delta=0.0)
    es.monitor = "m"
    trainer = _FakeTrainer()
    stopped = None
    for epoch, value in enumerate(values):
        es.on_epoch_end(trainer, epoch, {"m": value})
        if trainer.should_stop:
            stopped = epoch + 1
            break
    assert stopped == stop_after


def test_early_stopping_min_delta_and_message() -> None:
    es = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)
    es.mode = "min"
    trainer = _FakeTrainer()
    for epoch, value in enumerate([1.0, 0.95, 0.92]):
        es.on_epoch_end(trainer, epoch, {"val_loss": value})
    assert trainer.should_stop and trainer.stop_reason == (
        "early stopping: val_loss did not improve by more than 0.1 for 2 epochs (now 0.92, best 1 at epoch 1)")
    restored = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)
    restored.load_state_dict(es.state_dict())
    assert restored.state_dict() == es.state_dict() and restored.state_key == "earlystopping:val_loss"


def test_early_stopping_in_a_run(tmp_path: Path) -> None:
    spec = SPEC.replace("earlystopping: {patience: 5}", "earlystopping: {patience: 1, min_delta: 100}")
    result = train(spec, run_dir=tmp_path / "run", device="cpu")
    assert result.status == "stopped" and len(result.history) == 2
    assert result.stop_reason.startswith("early stopping: val_loss did not improve by more than 100 for 1 epoch ")
    assert "test_acc" in result.metrics  # the test pass still ran
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["meta"]["epoch"] == 2 and last["callbacks"]["earlystopping"]["stopped_epoch"] == 2


def test_resuming_a_run_that_early_stopping_ended_trains_no_further(tmp_path: Path) -> None:
    from cnnspec.engine.resume import resume

    spec = SPEC.replace("earlystopping: {patience: 5}", "earlystopping: {patience: 1, min_delta: 100}")
    first = train(spec, run_dir=tmp_path / "run", device="cpu")
    files = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    again = resume(tmp_path / "run", device="cpu")
    assert again.status == "stopped" and len(again.history) == len(first.history) == 2
    assert again.trainer is None  # finished: nothing built, nothing trained
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == files


def test_cli_reports_a_bad_monitor_as_a_spec_error(tmp_path: Path, write_spec, capsys) -> None:
    from cnnspec.cli import main

    path = write_spec(SPEC.replace("earlystopping: {patience: 5}", "earlystopping: {monitor: val_accuracy}"))
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:20:30: callbacks[1].earlystopping.monitor: earlystopping: no metric 'val_accuracy'" in err
    assert "did you mean 'val_acc'?" in err
