"""The PNG drawing helpers: real images of the right size that show the data given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnspec.explain import pictures as viz

HISTORY = [
    {"epoch": 1, "train_loss": 1.2, "val_loss": 1.1, "train_acc": 0.40, "val_acc": 0.45},
    {"epoch": 2, "train_loss": 0.8, "val_loss": 0.9, "train_acc": 0.65, "val_acc": 0.60},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.7, "train_acc": 0.80, "val_acc": 0.72},
]


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def test_learning_curves_png_is_a_real_picture_of_the_history(tmp_path: Path) -> None:
    fig = viz.learning_curves(HISTORY, title="run")
    path = viz.save_png(fig, tmp_path / "curves.png")
    pixels = read_png(path)
    assert pixels.shape == (450, 1200, 3)
    assert pixels.std() > 10  # not blank
    loss_ax, acc_ax = fig.axes
    assert [list(line.get_ydata()) for line in loss_ax.lines] == [[1.2, 0.8, 0.5], [1.1, 0.9, 0.7]]
    assert [list(line.get_ydata()) for line in acc_ax.lines] == [[0.40, 0.65, 0.80], [0.45, 0.60, 0.72]]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]


def test_learning_curves_differ_with_the_history_and_render_deterministically(tmp_path: Path) -> None:
    other = [dict(h, val_loss=h["val_loss"] * 2) for h in HISTORY]
    a = read_png(viz.save_png(viz.learning_curves(HISTORY), tmp_path / "a.png"))
    b = read_png(viz.save_png(viz.learning_curves(other), tmp_path / "b.png"))
    again = read_png(viz.save_png(viz.learning_curves(HISTORY), tmp_path / "c.png"))
    assert np.array_equal(a, again)
    assert np.any(a != b, axis=2).sum() > 200


def test_learning_curves_without_validation_draw_train_only() -> None:
    fig = viz.learning_curves([{"train_loss": 1.0}, {"train_loss": 0.5, "train_acc": 0.5}])
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["Train loss"]
    assert list(acc_ax.lines[0].get_xdata()) == [2]


def test_confusion_matrix_shows_counts_and_class_names(tmp_path: Path) -> None:
    matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    fig = viz.confusion_matrix(matrix, ["cat", "dog", "bird"])
    path = viz.save_png(fig, tmp_path / "confusion.png")
    pixels = read_png(path)
    assert pixels.shape == (int(viz.DPI * 5.0), int(viz.DPI * 6.0), 3)
    assert pixels.std() > 10
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "bird"]
    assert [t.get_text() for t in ax.texts] == [str(v) for row in matrix for v in row]
    assert "21 of 25" not in ax.get_title() and "84.00%" in ax.get_title()


@pytest.mark.parametrize(("matrix", "names"), [([[1, 2]], None), ([[1, 0], [0, 1]], ["a"])])
def test_confusion_matrix_rejects_inconsistent_input(matrix: list[list[int]], names: list[str] | None) -> None:
    with pytest.raises(ValueError):
        viz.confusion_matrix(matrix, names)


def test_feature_maps_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(32, 8, 8))
    fig = viz.feature_maps(maps, title="conv1", channels=16)
    assert len(fig.axes) == 16
    assert np.array_equal(fig.axes[5].images[0].get_array(), maps[5])
    pixels = read_png(viz.save_png(fig, tmp_path / "features.png"))
    assert pixels.shape == (round(viz.DPI * (2.4 * 4 + 0.6)), round(viz.DPI * (2.4 * 4 + 0.2)), 3)
    assert pixels.std() > 10
    assert len(viz.feature_maps(maps[:3]).axes) == 3


def test_cam_overlays_titles_name_predicted_and_true_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = rng.normal(size=(3, 3, 16, 16))
    cams = rng.uniform(size=(3, 16, 16))
    fig = viz.cam_overlays(images, cams, ["cat", "dog", "cat"], [0.9, 0.6, 0.51], ["cat", "cat", None])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["pred: cat (90%)\ntrue: cat", "pred: dog (60%)\ntrue: cat", "pred: cat (51%)"]
    colours = [ax.title.get_color() for ax in fig.axes]
    assert colours[0] != colours[1] and len(set(colours)) == 3
    pixels = read_png(viz.save_png(fig, tmp_path / "cam.png"))
    assert pixels.shape == (330, 900, 3)
    assert pixels.std() > 10
    with pytest.raises(ValueError):
        viz.cam_overlays(images, cams[:, :8], ["a"] * 3)


def test_display_image_stretches_each_image_to_unit_range() -> None:
    grey = viz.display_image(np.array([[[-2.0, 0.0], [2.0, 1.0]]]))
    assert grey.shape == (2, 2) and grey.min() == 0.0 and grey.max() == 1.0
    rgb = viz.display_image(np.arange(12, dtype=float).reshape(3, 2, 2))
    assert rgb.shape == (2, 2, 3) and rgb[0, 0, 0] == 0.0 and rgb[1, 1, 2] == 1.0
    assert not viz.display_image(np.ones((1, 3, 3))).any()


def test_save_png_replaces_atomically_and_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = viz.save_png(viz.learning_curves(HISTORY), tmp_path / "plots" / "curves.png")
    before = path.read_bytes()
    fig = viz.learning_curves(HISTORY[:1])

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError):
        viz.save_png(fig, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["curves.png"]
    monkeypatch.undo()
    viz.save_png(fig, path)
    assert path.read_bytes() != before
    assert sorted(p.name for p in path.parent.iterdir()) == ["curves.png"]


def test_render_matches_the_saved_png(tmp_path: Path) -> None:
    fig = viz.learning_curves(HISTORY)
    array = viz.render(fig)
    assert array.dtype == np.uint8 and array.shape == (450, 1200, 3)
    assert np.array_equal(array, read_png(viz.save_png(fig, tmp_path / "x.png")))
