"""The plots and gradcam callbacks in a (fake-engine) training run."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnspec.callbacks.gradcam import GradCamCallback
from cnnspec.callbacks.plots import PlotsCallback
from cnnspec.callbacks.tensorboard import TensorBoardCallback
from cnnspec.exceptions import SpecError
from cnnspec.explain import pictures as viz
from tests.viz.fakes import BARS_SPEC, bars_data, fit, make_trainer


def picture(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.std() > 10, f"{path} is blank"
    return pixels


def test_plots_write_curves_confusion_and_feature_maps(tmp_path: Path) -> None:
    plots = PlotsCallback()
    trainer = make_trainer(tmp_path, [plots])
    final = fit(trainer, epochs=2)
    out = trainer.run_dir / "plots"
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "curves.png", "features_conv1.png"]
    assert picture(out / "curves.png").shape == (450, 1200, 3)
    same = viz.render(viz.learning_curves(trainer.history, title="bars"))
    assert np.array_equal(picture(out / "curves.png"), same)  # the picture of this run's history
    expected = viz.render(viz.confusion_matrix(final["test_confusion"], ["left", "middle", "right"], title=(
        f"bars: test accuracy {final['test_acc']:.2%} of 24")))
    assert np.array_equal(picture(out / "confusion.png"), expected)
    assert picture(out / "features_conv1.png").shape == (560, 500, 3)  # 2x2 maps, a two-line title


@pytest.mark.parametrize(("refresh", "rewrites"), [(0, 3), (3600, 1), (None, 0)])
def test_curves_are_rewritten_during_training_at_most_every_refresh_seconds(
        tmp_path: Path, refresh: float | None, rewrites: int) -> None:
    seen = []

    class Watch(PlotsCallback):
        def on_epoch_end(self, trainer, epoch, metrics):  # type: ignore[no-untyped-def]
            super().on_epoch_end(trainer, epoch, metrics)
            path = trainer.run_dir / "plots" / "curves.png"
            seen.append(path.read_bytes() if path.exists() else None)

    trainer = make_trainer(tmp_path, [Watch(refresh=refresh, confusion=False, features=False)])
    fit(trainer, epochs=3)
    assert len({s for s in seen if s is not None}) == rewrites
    expected = viz.render(viz.learning_curves(trainer.history, title="bars"))
    assert np.array_equal(picture(trainer.run_dir / "plots" / "curves.png"), expected)  # the end draws it all


def test_without_a_test_split_the_confusion_matrix_is_the_validation_split(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, [PlotsCallback(features=False)], data=bars_data(sizes=(96, 24, 0)))
    fit(trainer, epochs=1)
    x, y = trainer.data.splits["val"]
    with torch.no_grad():
        trainer.model.eval()
        predicted = trainer.model(x).argmax(1)
    matrix = torch.bincount(y * 3 + predicted, minlength=9).view(3, 3).tolist()
    accuracy = float((predicted == y).float().mean())
    expected = viz.render(viz.confusion_matrix(matrix, ["left", "middle", "right"],
                                               title=f"bars: validation accuracy {accuracy:.2%} of 24"))
    assert np.array_equal(picture(trainer.run_dir / "plots" / "confusion.png"), expected)


def test_feature_layer_is_checked_before_training_with_a_location(tmp_path: Path) -> None:
    spec_text = BARS_SPEC + "callbacks: [{plots: {layer: conv_2}}]\n"
    trainer = make_trainer(tmp_path, [PlotsCallback(layer="conv_2")], spec_text=spec_text)
    with pytest.raises(SpecError) as info:
        fit(trainer, epochs=1)
    assert info.value.format().splitlines()[0] == (
        "<string>:14:29: callbacks[0].plots.layer: unknown layer 'conv_2'; did you mean 'conv2' or 'conv1'?")
    assert trainer.history == []


def test_gradcam_saves_overlays_at_the_chosen_epochs(tmp_path: Path) -> None:
    cam = GradCamCallback(samples=5, epochs=[1, 3])
    trainer = make_trainer(tmp_path, [cam])
    fit(trainer, epochs=3)
    out = trainer.run_dir / "gradcam"
    assert sorted(p.name for p in out.iterdir()) == ["epoch_001.png", "epoch_003.png"]
    assert cam.target_layer == "relu2"
    first, last = picture(out / "epoch_001.png"), picture(out / "epoch_003.png")
    assert first.shape == last.shape == (680, 1200, 3)  # 2 rows of 4, one title line
    assert not np.array_equal(first, last)  # the weights changed between epochs


@pytest.mark.parametrize(("kwargs", "files"), [
    ({}, ["epoch_003.png"]),
    ({"every": 2}, ["epoch_002.png"]),
])
def test_gradcam_schedule(tmp_path: Path, kwargs: dict, files: list[str]) -> None:
    trainer = make_trainer(tmp_path, [GradCamCallback(samples=2, **kwargs)])
    fit(trainer, epochs=3)
    assert sorted(p.name for p in (trainer.run_dir / "gradcam").iterdir()) == files


def test_gradcam_errors_are_located_in_the_spec(tmp_path: Path) -> None:
    spec_text = BARS_SPEC + "callbacks:\n  - gradcam: {layer: fc1}\n"
    with pytest.raises(SpecError) as info:
        fit(make_trainer(tmp_path, [GradCamCallback(layer="fc1")], spec_text=spec_text), epochs=1)
    first = info.value.format().splitlines()[0]
    assert first.startswith("<string>:15:22: callbacks[0].gradcam.layer: layer 'fc1' (linear) outputs [3], not a")
    spec_text = BARS_SPEC + "callbacks:\n  - gradcam: {epochs: [2, 4]}\n"
    with pytest.raises(SpecError, match=r"epoch 4 is after the last epoch of training \(3\)") as info:
        fit(make_trainer(tmp_path, [GradCamCallback(epochs=[2, 4])], spec_text=spec_text), epochs=1)
    assert info.value.line == 15


def test_pictures_reach_tensorboard_when_it_is_logging(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, [TensorBoardCallback(), PlotsCallback(), GradCamCallback(samples=4, every=1)])
    fit(trainer, epochs=2)
    acc = EventAccumulator(str(trainer.run_dir / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    images = set(acc.Tags()["images"])
    assert {"inputs", "plots/curves", "plots/confusion", "plots/features_conv1", "gradcam"} <= images
    assert [e.step for e in acc.Images("gradcam")] == [h["step"] for h in trainer.history]
    stored = acc.Images("plots/confusion")[-1]
    assert (stored.width, stored.height) == (600, 500)


def test_pictures_do_not_change_training(tmp_path: Path) -> None:
    plain = make_trainer(tmp_path / "a")
    fit(plain, epochs=2)
    drawn = make_trainer(tmp_path / "b", [TensorBoardCallback(), PlotsCallback(), GradCamCallback(every=1)])
    fit(drawn, epochs=2)
    assert plain.history == drawn.history
    for (name, a), (_, b) in zip(plain.model.state_dict().items(), drawn.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_picture_that_fails_warns_once_and_training_goes_on(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(viz, "save_png", full_disk)
    trainer = make_trainer(tmp_path, [PlotsCallback(), GradCamCallback(every=1)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(trainer, epochs=3)
    assert len(trainer.history) == 3
    messages = sorted(str(w.message).split(" (")[0] for w in caught)
    assert messages == ["gradcam: could not make the overlays for epoch 1",
                        "plots: could not make the confusion matrix picture",
                        "plots: could not make the feature maps picture",
                        "plots: could not make the learning curves picture"]
