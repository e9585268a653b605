"""Grad-CAM overlays during training: where the network looks, epoch by epoch.

``{gradcam: {samples: 8}}`` saves ``run_dir/gradcam/epoch_NNN.png``: the same
``samples`` validation images (drawn once, so epochs are comparable) with
Captum's Grad-CAM of the predicted class (``target: true`` explains the true
class instead) over each, titled with the predicted and the true label. Also
logged to TensorBoard (``gradcam``) when that callback is present.

When: ``epochs: [1, 5, 10]`` (counted from 1), or ``every: k`` (epochs k,
2k, ...), by default after the last epoch that ran (early stopping
included). The layer defaults to the last convolutional feature map (see
:func:`cnnspec.explain.default_cam_layer`); ``layer: NAME`` picks another,
checked against the static shapes before training starts.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from cnnspec.callbacks.base import Callback, TrainerView

__all__ = ["GradCamCallback"]


class GradCamCallback(Callback):
    """Arguments are those of ``gradcam`` in a spec's ``callbacks:``."""

    def __init__(self, samples: int = 8, layer: str | None = None, epochs: list[int] | None = None,
                 every: int | None = None, split: str | None = None, target: str = "pred") -> None:
        self.samples = samples
        self.layer = layer
        self.epochs = sorted(set(epochs)) if epochs else None
        self.every = every
        self.split = split
        self.target = target
        self.target_layer: str | None = None
        self.files: list[Path] = []
        self._batch: tuple[Any, Any, str] | None = None
        self._done: set[int] = set()
        self._warned = False

    def setup(self, trainer: TrainerView) -> None:
        """Resolve the target layer and check the epochs before any training."""
        from cnnspec.exceptions import SpecError
        from cnnspec.explain import default_cam_layer, locate_callback_error, resolve_layer

        try:
            info = resolve_layer(trainer.trace, self.layer) if self.layer else default_cam_layer(trainer.trace)
        except Exception as exc:
            raise locate_callback_error(trainer.spec, ("gradcam",), "layer", exc) from None
        self.target_layer = info.qualname
        total = trainer.spec.train.epochs if trainer.spec.train is not None else None
        late = [e for e in self.epochs or () if total is not None and e > total]
        if late:
            error = SpecError(f"epoch {late[0]} is after the last epoch of training ({total})",
                              hint=f"epochs are counted from 1 to train.epochs = {total}")
            raise locate_callback_error(trainer.spec, ("gradcam",), "epochs", error)

    def _wanted(self, epoch: int) -> bool:
        if self.epochs is not None:
            return epoch in self.epochs
        if self.every is not None:
            return epoch % self.every == 0
        return False

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, Any]) -> None:
        if self._wanted(epoch + 1):
            self._render(trainer, epoch + 1)

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        last = len(trainer.history)
        if self.epochs is None and self.every is None and last and last not in self._done:
            self._render(trainer, last)

    def _render(self, trainer: TrainerView, epoch: int) -> None:
        if not getattr(trainer, "is_main_process", True) or self.target_layer is None:
            return
        try:
            self._draw(trainer, epoch)
        except Exception as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(f"gradcam: could not make the overlays for epoch {epoch} "
                              f"({type(exc).__name__}: {exc}); training continues", RuntimeWarning, stacklevel=2)
        self._done.add(epoch)

    def _samples(self, trainer: TrainerView) -> tuple[Any, Any, str] | None:
        from cnnspec.explain import preserve_rng

        if self._batch is None:
            data = trainer.data
            order = (self.split,) if self.split else ("val", "test", "train")
            split = next((s for s in order if data is not None and data.has(s)), None)
            if split is None:
                return None
            with preserve_rng(getattr(trainer, "device", None)):
                inputs, targets = data.sample_batch(split, self.samples)
            self._batch = (inputs.detach().cpu(), targets.detach().cpu(), split)
        return self._batch

    def _draw(self, trainer: TrainerView, epoch: int) -> None:
        from cnnspec.callbacks.tensorboard import find_tensorboard
        from cnnspec.explain import grad_cam, preserve_rng
        from cnnspec.explain import pictures as viz
        from cnnspec.layer import fmt_shape

        batch = self._samples(trainer)
        if batch is None:
            return
        inputs, targets, split = batch
        assert self.target_layer is not None
        last = trainer.trace.leaves()[-1].type
        with preserve_rng(getattr(trainer, "device", None)):
            result = grad_cam(trainer.model, self.target_layer, inputs.to(trainer.device),
                              target=targets.to(trainer.device) if self.target == "true" else None,
                              last_layer=last)
        classes = list(getattr(trainer.data, "classes", None) or [])

        def name(k: int) -> str:
            return classes[k] if 0 <= k < len(classes) else str(k)

        predicted = [name(int(p)) for p in result.predicted]
        confidence = [float(result.probabilities[i, p]) for i, p in enumerate(result.predicted)]
        truth = [name(int(t)) for t in targets]
        info = trainer.trace.find(self.target_layer)
        explained = "true" if self.target == "true" else "predicted"
        title = (f"{trainer.spec.name}, epoch {epoch}: Grad-CAM of the {explained} class at "
                 f"{self.target_layer} {fmt_shape(info.output_shape)} ({split} images)")
        unnormalize = getattr(trainer.data, "unnormalize", None)
        shown = unnormalize(inputs.float().clone()) if unnormalize is not None else inputs.float()
        fig = viz.cam_overlays(shown.numpy(), result.cams.numpy(), predicted, confidence, truth, title=title,
                               stretch=unnormalize is None)
        pixels = viz.render(fig)
        self.files.append(viz.save_png(pixels, Path(trainer.run_dir) / "gradcam" / f"epoch_{epoch:03d}.png"))
        board = find_tensorboard(trainer)
        if board is not None:
            board.log_image("gradcam", pixels, int(trainer.global_step))
