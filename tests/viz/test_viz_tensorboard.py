"""The TensorBoard callback, read back with TensorBoard's own event reader."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.summary.writer import record_writer

from cnnspec.callbacks.base import Callback
from cnnspec.callbacks.tensorboard import TensorBoardCallback, find_tensorboard, spec_hparams
from tests.viz.fakes import fit, make_trainer


def read_events(log_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in acc.Scalars(tag)}


def tb_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "TensorBoard logging" in str(w.message)]


def test_logged_scalars_equal_the_trainer_history(tmp_path: Path) -> None:
    board = TensorBoardCallback(log_every_n_steps=4, histograms=True)
    trainer = make_trainer(tmp_path, [board])
    final = fit(trainer, epochs=3)
    acc = read_events(trainer.run_dir / "tensorboard")
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        expected = {h["step"]: h[key] for h in trainer.history}
        assert scalars(acc, f"epoch/{key}") == pytest.approx(expected, rel=1e-6), key
    assert scalars(acc, "epoch") == {h["step"]: h["epoch"] for h in trainer.history}
    steps = scalars(acc, "step/train_loss")
    assert sorted(steps) == [s for s in sorted(trainer.step_losses) if s % 4 == 0]
    assert steps == pytest.approx({s: trainer.step_losses[s] for s in steps}, rel=1e-6)
    assert scalars(acc, "step/lr") == pytest.approx({s: 0.1 for s in steps})
    last = trainer.global_step
    assert scalars(acc, "epoch/test_acc") == pytest.approx({last: final["test_acc"]})
    assert scalars(acc, "hparam/test_loss") == pytest.approx({last: final["test_loss"]}, rel=1e-6)
    assert scalars(acc, "hparam/val_acc") == pytest.approx({last: trainer.history[-1]["val_acc"]})
    tags = acc.Tags()
    assert tags["graph"] is True
    assert {"weights/conv1.weight", "gradients/fc1.bias"} <= set(tags["histograms"])
    assert len(acc.Histograms("weights/conv1.weight")) == 3
    (image,) = acc.Images("inputs")
    assert (image.width, image.height) == (8 * 14 + 2, 2 * 14 + 2)  # 16 samples of 12x12, 8 a row, 2 px padding


def test_hparams_hold_the_recipe_and_the_final_metrics(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, [TensorBoardCallback()])
    fit(trainer, epochs=2)
    acc = read_events(trainer.run_dir / "tensorboard")
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = {k: v.ListFields()[0][1] for k, v in start.session_start_info.hparams.items()}
    assert values["optimizer"] == "sgd"
    assert values["optimizer.lr"] == pytest.approx(0.1)
    assert values["optimizer.momentum"] == pytest.approx(0.9)
    assert values["epochs"] == 3 and values["spec"] == "bars"
    assert values["params"] == trainer.trace.params == sum(p.numel() for p in trainer.model.parameters())
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"hparam/test_acc", "hparam/val_loss", "hparam/train_loss"} <= metric_tags
    assert spec_hparams(trainer)["fingerprint"] == trainer.spec.fingerprint()[:12]


def test_a_write_error_warns_once_and_training_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = TensorBoardCallback(log_every_n_steps=1)
    trainer = make_trainer(tmp_path, [board])
    real_write = record_writer.RecordWriter.write
    calls = {"n": 0}

    def failing_write(self: Any, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] > 12:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(record_writer.RecordWriter, "write", failing_write)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(trainer, epochs=3)
    assert len(trainer.history) == 3
    messages = tb_warnings(caught)
    assert len(messages) == 1, messages
    assert "No space left on device" in messages[0] and "training continues" in messages[0]
    assert board.failed and not board.active


class RemoveDirAfterFirstEpoch(Callback):
    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, Any]) -> None:
        if epoch == 0:
            shutil.rmtree(trainer.run_dir / "tensorboard")


def test_a_removed_log_dir_warns_once_and_logging_resumes(tmp_path: Path) -> None:
    board = TensorBoardCallback()
    trainer = make_trainer(tmp_path, [board, RemoveDirAfterFirstEpoch()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(trainer, epochs=3)
    assert len(trainer.history) == 3
    messages = tb_warnings(caught)
    assert len(messages) == 1 and "removed" in messages[0]
    acc = read_events(trainer.run_dir / "tensorboard")
    expected = {h["step"]: h["train_loss"] for h in trainer.history[1:]}
    assert scalars(acc, "epoch/train_loss") == pytest.approx(expected, rel=1e-6)


def test_an_untraceable_model_skips_the_graph_with_a_warning(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.utils.tensorboard.writer as tb_writer

    def untraceable(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Tracer cannot infer type of output")

    monkeypatch.setattr(tb_writer, "graph", untraceable)
    trainer = make_trainer(tmp_path, [TensorBoardCallback()])
    with pytest.warns(RuntimeWarning, match="skipping the model graph, tracing failed"):
        fit(trainer, epochs=1)
    acc = read_events(trainer.run_dir / "tensorboard")
    assert acc.Tags()["graph"] is False
    assert len(acc.Scalars("epoch/train_loss")) == 1


def test_logging_does_not_change_training(tmp_path: Path) -> None:
    plain = make_trainer(tmp_path / "a")
    fit(plain, epochs=2)
    logged = make_trainer(tmp_path / "b", [TensorBoardCallback(log_every_n_steps=1, histograms=True)])
    fit(logged, epochs=2)
    assert plain.history == logged.history
    for (name, a), (_, b) in zip(plain.model.state_dict().items(), logged.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_only_the_main_process_writes(tmp_path: Path) -> None:
    board = TensorBoardCallback()
    trainer = make_trainer(tmp_path, [board])
    trainer.is_main_process = False
    fit(trainer, epochs=1)
    assert not (trainer.run_dir / "tensorboard").exists()
    assert find_tensorboard(trainer) is None


def test_resume_purges_events_after_the_resumed_step(tmp_path: Path) -> None:
    first = make_trainer(tmp_path, [TensorBoardCallback(log_every_n_steps=1)])
    fit(first, epochs=2)
    # a second run in the same directory that starts from step 6 (end of epoch 1)
    second = make_trainer(tmp_path, [TensorBoardCallback(log_every_n_steps=1)])
    second.global_step = 6
    fit(second, epochs=1)
    values = scalars(read_events(first.run_dir / "tensorboard"), "step/train_loss")
    assert sorted(values) == list(range(1, 13))
    assert values[6] == pytest.approx(first.step_losses[6])
    assert [values[s] for s in range(7, 13)] == pytest.approx([second.step_losses[s] for s in range(7, 13)])
