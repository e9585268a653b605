"""``cnnspec predict``: a trained model on new image files, in batches, in bounded memory.

The weights come from a checkpoint file or a run directory (its best
checkpoint, :mod:`cnnspec.checkpoint.select`); the spec from the checkpoint
unless one is given. Images are decoded by the one image reader
(:func:`cnnspec.explain.inputs.load_image`, shared with ``explain --images``),
put through the spec's evaluation transforms and resized to the spec's input
when they differ, so a photo of any size or mode can be classified. Files
are read one batch at a time and each prediction is handed on as soon as its
batch is done: a folder of 10,000 images never sits in memory at once. A
file that cannot be read becomes a row with its error, not the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import CnnspecError

__all__ = ["IMAGE_SUFFIXES", "Prediction", "Predictor", "image_files", "iter_predictions", "open_model", "predict"]

#: what a folder given to ``--images`` is searched for (case-insensitive)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                            ".pbm"})


@dataclass
class Prediction:
    """One image's top classes, most probable first; ``error`` instead when the file could not be read."""

    image: str
    top: list[tuple[str, int, float]] = field(default_factory=list)  # (class name, index, probability)
    error: str | None = None

    @property
    def label(self) -> str | None:
        return self.top[0][0] if self.top else None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"image": self.image, "error": self.error}
        return {"image": self.image, "pred": self.top[0][0], "prob": self.top[0][2],
                "top": [{"class": c, "index": i, "prob": p} for c, i, p in self.top]}


def image_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The files named, and the image files under each folder named (sorted, recursively), lazily.

    A path that does not exist is a :class:`CnnspecError` (a typo, not an unreadable image).
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.exists():
            yield path
        else:
            raise CnnspecError(f"--images {path}: no such file or directory")


def open_model(source: str | Path, *, checkpoint: str | Path | None = None, overrides: Sequence[str] = (),
               which: str = "best") -> tuple[Any, dict[str, Any], dict[str, Any], Path]:
    """``(spec, state_dict, checkpoint, file)`` for a SPEC file with ``checkpoint``, or a run directory.

    A run directory gives the weights (its best checkpoint unless ``checkpoint``
    names another) and the spec stored with them.
    """
    from cnnspec.build.weights import read_weights
    from cnnspec.spec import load_spec

    source = Path(source)
    if source.is_dir():
        weights = read_weights(checkpoint if checkpoint is not None else source, which=which)
        saved = weights.held.get("spec")
        if not isinstance(saved, dict):
            raise CnnspecError(f"{weights.path} holds no spec (a plain state dict)",
                               hint="give the spec file: cnnspec predict SPEC --checkpoint FILE --images ...")
        return load_spec(saved, overrides=overrides), weights.state, weights.held, weights.path
    if checkpoint is None:
        raise CnnspecError(f"predict {source}: a spec file needs the weights to use",
                           hint=f"add --checkpoint RUN_DIR (its best checkpoint) or a .pt file, or give the run "
                                f"directory instead of {source}")
    spec = load_spec(source, overrides=overrides)
    weights = read_weights(checkpoint, which=which)
    return spec, weights.state, weights.held, weights.path


class Predictor:
    """The spec's model with given weights, on a device, turning image files into :class:`Prediction` s."""

    def __init__(self, spec: Any, state: dict[str, Any], *, classes: Sequence[str] | None = None,
                 device: Any = None, top_k: int = 5, batch_size: int = 64, source: Any = None) -> None:
        from cnnspec.build import build_from_trace
        from cnnspec.build.weights import fit_state
        from cnnspec.engine.device import select_device
        from cnnspec.explain.inputs import eval_pipeline, image_mode
        from cnnspec.shapes.walker import infer_shapes

        if top_k < 1 or batch_size < 1:
            raise CnnspecError(f"--top-k and --batch-size must be at least 1, got {top_k} and {batch_size}")
        self.spec = spec
        self.mode = image_mode(spec.input)
        trace = infer_shapes(spec)
        self.last_layer = trace.leaves()[-1].type
        self.device = device if device is not None and not isinstance(device, str) else \
            select_device(device or (spec.train.device if spec.train else "auto"))
        self.model = build_from_trace(trace)
        fit_state(self.model, state, source=source)
        self.model.to(self.device).eval()
        self.pipeline = eval_pipeline(spec)
        outputs = trace.leaves()[-1].output_shape
        self.num_classes = int(outputs[-1]) if outputs and isinstance(outputs[-1], int) else len(classes or ())
        self.classes = [str(c) for c in classes] if classes and len(classes) == self.num_classes else \
            [str(i) for i in range(self.num_classes)]
        self.top_k = min(top_k, max(1, self.num_classes))
        self.batch_size = batch_size

    def __call__(self, files: Iterable[str | Path]) -> Iterator[Prediction]:
        """Predictions for ``files`` in their order, one batch of files read at a time."""
        batch: list[Path] = []
        for file in files:
            batch.append(Path(file))
            if len(batch) == self.batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, files: list[Path]) -> list[Prediction]:
        import torch

        from cnnspec.explain.attribution import to_probabilities
        from cnnspec.explain.inputs import load_image, prepare_tensors

        rows: list[Prediction] = []
        images, readable = [], []
        for file in files:
            try:
                images.append(load_image(file, self.mode))
                readable.append(len(rows))
                rows.append(Prediction(str(file)))
            except CnnspecError as exc:
                rows.append(Prediction(str(file), error=exc.message.removeprefix(f"{file}: ")))
        if not images:
            return rows
        inputs = prepare_tensors(self.spec, images, self.pipeline)
        with torch.inference_mode():
            probabilities = to_probabilities(self.model(inputs.to(self.device)), self.last_layer).cpu()
        values, indices = probabilities.topk(self.top_k, dim=1)
        for row, vals, idxs in zip(readable, values.tolist(), indices.tolist()):
            rows[row].top = [(self.classes[i], int(i), float(v)) for v, i in zip(vals, idxs)]
        return rows


def iter_predictions(source: str | Path, images: Iterable[str | Path], *, checkpoint: str | Path | None = None,
                     top_k: int = 5, batch_size: int = 64, device: str | None = None, overrides: Sequence[str] = (),
                     which: str = "best") -> Iterator[Prediction]:
    """:func:`predict`, one :class:`Prediction` at a time (bounded memory for any number of images)."""
    from cnnspec.explain.run import checkpoint_classes

    spec, state, held, file = open_model(source, checkpoint=checkpoint, overrides=overrides, which=which)
    predictor = Predictor(spec, state, classes=checkpoint_classes(held, file), device=device, top_k=top_k,
                          batch_size=batch_size, source=file)
    return predictor(image_files(images))


def predict(source: str | Path, images: Iterable[str | Path] | str | Path, *, checkpoint: str | Path | None = None,
            top_k: int = 5, batch_size: int = 64, device: str | None = None, overrides: Sequence[str] = (),
            which: str = "best") -> list[Prediction]:
    """Classify image files (or every image in a folder) with a trained model.

    ``source`` is a run directory (its best checkpoint and the spec stored
    with it; ``which="last"`` for the newest) or a spec file together with
    ``checkpoint``. Returns one :class:`Prediction` per file, in order; an
    unreadable file gets ``error`` instead of classes.
    """
    if isinstance(images, (str, Path)):
        images = [images]
    return list(iter_predictions(source, images, checkpoint=checkpoint, top_k=top_k, batch_size=batch_size,
                                 device=device, overrides=overrides, which=which))
