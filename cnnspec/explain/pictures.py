"""PNG pictures of a run: learning curves, confusion matrix, feature maps, CAM overlays.

The drawing functions take plain numbers and numpy arrays (never tensors), so
they are easy to test and reuse outside training, and return a matplotlib
``Figure``. They use matplotlib's object API on the Agg canvas rather than
``pyplot``: no global figure registry to leak memory across epochs, no GUI
backend to pick, safe in a headless training job.

Sizes are fixed (inches x ``DPI``) so a picture's pixel size is predictable,
and files are written atomically: a viewer or TensorBoard never sees half a
PNG, even though the curves are rewritten after every epoch. A figure is
drawn once (:func:`render`) and the same pixels go to the PNG file and to
TensorBoard; layouts use fixed margins except where labels vary (the
confusion matrix), since matplotlib's automatic layout costs more than the
drawing itself.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cnnspec.atomic import atomic_write

__all__ = [
    "DPI",
    "cam_overlays",
    "confusion_matrix",
    "display_image",
    "feature_maps",
    "learning_curves",
    "render",
    "save_png",
]

#: dots per inch of every picture: a figure of W x H inches is W*DPI x H*DPI pixels
DPI = 100

_CORRECT, _WRONG, _UNKNOWN = "#1a7f37", "#cf222e", "#24292f"


def _figure(width: float, height: float, *, constrained: bool = False) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def _wrap(title: str, width_inches: float) -> str:
    """Wrap a title to the figure's width (about 11 characters per inch at font size 10)."""
    return "\n".join(textwrap.wrap(title, width=max(20, int(width_inches * 11)))) if title else ""


def render(fig: Figure) -> np.ndarray:
    """The figure as an ``H x W x 3`` uint8 RGB array (what TensorBoard's add_image takes)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def save_png(picture: Figure | np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a figure (or its :func:`render`-ed pixels) as a PNG at ``path``, atomically.

    A temp file in the same folder is renamed over the target: readers see
    the old picture or the new one, never a torn file, and a failed write
    leaves no temp file behind.
    """
    from PIL import Image

    pixels = render(picture) if isinstance(picture, Figure) else np.asarray(picture, dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    atomic_write(path, buffer.getvalue())
    return path


def display_image(image: np.ndarray, stretch: bool = True) -> np.ndarray:
    """A ``[C, H, W]`` image as something ``imshow`` can draw, in [0, 1].

    ``stretch``: the image is a normalised network input whose mean/std we
    may not know; a per-image min-max stretch shows the content faithfully
    whatever the normalisation. Without it the image is already in [0, 1]
    (un-normalised) and is only clipped. One channel gives ``[H, W]`` (drawn
    in grey), three give ``[H, W, 3]``; any other count shows the channel mean.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[None]
    if image.shape[0] == 3:
        out = np.transpose(image, (1, 2, 0))
    elif image.shape[0] == 1:
        out = image[0]
    else:
        out = image.mean(axis=0)
    if not stretch:
        return np.clip(np.nan_to_num(out), 0.0, 1.0)
    lo, hi = float(np.min(out)), float(np.max(out))
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return np.zeros_like(out)
    return (out - lo) / (hi - lo)


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            xs.append(i + 1)
            ys.append(float(value))
    return xs, ys


def learning_curves(history: Sequence[Mapping[str, Any]], title: str | None = None) -> Figure:
    """Train/validation loss and accuracy per epoch, side by side (seed 001's plot).

    ``history`` is the trainer's list of per-epoch metric dicts; epochs are
    numbered from 1 in the order given. Missing metrics (no validation split)
    are simply not drawn.
    """
    fig = _figure(12, 4.5)
    fig.subplots_adjust(left=0.065, right=0.985, bottom=0.12, top=0.88 if title else 0.95, wspace=0.22)
    if title:
        fig.suptitle(title)
    panels = (("Loss", ("train_loss", "val_loss")), ("Accuracy", ("train_acc", "val_acc")))
    for col, (ylabel, keys) in enumerate(panels):
        ax = fig.add_subplot(1, 2, col + 1)
        drawn = False
        for key, style in zip(keys, ("-o", "--s")):
            xs, ys = _series(history, key)
            if xs:
                label = ("Train " if key.startswith("train") else "Validation ") + ylabel.lower()
                ax.plot(xs, ys, style, label=label, markersize=4)
                drawn = True
        ax.set_xlabel("Epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if drawn:
            ax.legend()
            ax.xaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, f"no {ylabel.lower()} recorded", ha="center", va="center", transform=ax.transAxes)
    return fig


def confusion_matrix(matrix: Sequence[Sequence[int]] | np.ndarray, class_names: Sequence[str] | None = None,
                     title: str | None = None) -> Figure:
    """Counts of (true class, predicted class), rows coloured by recall.

    Colouring by the row-normalised fraction keeps rare classes readable;
    the cells show the raw counts (up to 30 classes, beyond which the numbers
    would not fit).
    """
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {counts.shape}")
    n = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{n} classes in the matrix but {len(names)} class names")
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)
    side = min(max(5.0, 0.55 * n + 2.5), 30.0)
    fig = _figure(side + 1.0, side, constrained=True)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xticks(range(n), labels=names, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center")
    ax.set_yticks(range(n), labels=names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8 if n > 12 else 10,
                        color="white" if fractions[i, j] > 0.5 else "black")
    total = int(counts.sum())
    accuracy = float(np.trace(counts)) / total if total else float("nan")
    ax.set_title(title or f"Confusion matrix — accuracy {accuracy:.2%} of {total}")
    return fig


def feature_maps(maps: np.ndarray, title: str = "", channels: int = 16) -> Figure:
    """The first ``channels`` feature maps of one image, ``[C, H, W]``, in a square grid.

    Seed 004's ``visualize_activations``: each channel gets its own colour
    scale (viridis), since activations differ in magnitude between channels.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"feature maps are [C, H, W], got shape {list(maps.shape)}")
    shown = maps[:channels]
    cols = max(1, math.ceil(math.sqrt(len(shown))))
    rows = math.ceil(len(shown) / cols)
    width = 2.4 * cols + 0.2
    title = _wrap(title, width)
    head = 0.2 + 0.2 * (title.count("\n") + 1 if title else 0)
    height = 2.4 * rows + 0.2 + head
    fig = _figure(width, height)
    fig.subplots_adjust(left=0.1 / width, right=1 - 0.1 / width, bottom=0.1 / height, top=1 - head / height,
                        wspace=0.08, hspace=0.2)
    if title:
        fig.suptitle(title, fontsize=10)
    for i, fmap in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(fmap, cmap="viridis", interpolation="nearest")
        ax.set_title(f"channel {i}", fontsize=9)
        ax.axis("off")
    return fig


def cam_overlays(images: np.ndarray, cams: np.ndarray, predicted: Sequence[str],
                 probabilities: Sequence[float] | None = None, truth: Sequence[str | None] | None = None,
                 title: str = "", alpha: float = 0.45, columns: int = 4, stretch: bool = True) -> Figure:
    """Grad-CAM heat maps over their images, titled with predicted and true labels.

    ``images`` are ``[N, C, H, W]`` (see :func:`display_image` for
    ``stretch``), ``cams`` ``[N, H, W]`` in [0, 1] at the same resolution.
    A title is green when the prediction is right, red when wrong, black
    when the true label is unknown. A map that is zero everywhere (no
    positive evidence for the class at that layer) is not drawn, and the
    title says "CAM is zero".
    """
    images = np.asarray(images)
    cams = np.asarray(cams, dtype=np.float64)
    count = len(images)
    if cams.shape[0] != count or cams.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"{count} images of {list(images.shape[-2:])} but CAMs of shape {list(cams.shape)}")
    cols = max(1, min(columns, count))
    rows = max(1, math.ceil(count / cols))
    width = 3.0 * cols
    title = _wrap(title, width)
    head = 0.2 * (title.count("\n") + 1) if title else 0.0
    height = 3.3 * rows + head
    fig = _figure(width, height)
    fig.subplots_adjust(left=0.1 / width, right=1 - 0.1 / width, bottom=0.1 / height,
                        top=1 - (0.5 + head) / height, wspace=0.1, hspace=0.6 / 2.8)
    if title:
        fig.suptitle(title, fontsize=10)
    for i in range(count):
        ax = fig.add_subplot(rows, cols, i + 1)
        shown = display_image(images[i], stretch=stretch)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
        empty = not np.any(cams[i] > 0)
        if not empty:  # an all-zero map has no heat to show; the title says so instead
            ax.imshow(cams[i], cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0, interpolation="bilinear")
        ax.axis("off")
        label = f"pred: {predicted[i]}"
        if probabilities is not None:
            label += f" ({probabilities[i]:.0%})"
        if empty:
            label += ", CAM is zero"
        colour = _UNKNOWN
        if truth is not None and truth[i] is not None:
            label += f"\ntrue: {truth[i]}"
            colour = _CORRECT if truth[i] == predicted[i] else _WRONG
        ax.set_title(label, fontsize=9, color=colour)
    return fig
