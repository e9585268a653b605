"""PNG pictures of a run in ``run_dir/plots/``, and in TensorBoard when it is logging.

* ``curves.png`` — train/validation loss and accuracy per epoch, rewritten
  atomically after an epoch when ``refresh`` seconds (default 10) have
  passed since the last rewrite, so it can be watched during a long run
  without a fast one spending its time drawing, and always at the end;
* ``confusion.png`` — the test split's confusion matrix with class names
  (the validation split's when there is no test split), at the end;
* ``features_<layer>.png`` — the first ``channels`` feature maps of one
  validation image at ``layer`` (default: the first convolution), at the end.

The final pictures also go to TensorBoard (``plots/<name>``) when the
``tensorboard`` callback is logging. A picture that cannot be drawn or
written warns once and never stops training; nothing here changes the
training (eval mode, random streams preserved, modes restored).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from cnnspec.callbacks.base import Callback, TrainerView

__all__ = ["PlotsCallback"]


class PlotsCallback(Callback):
    """Arguments are those of ``plots`` in a spec's ``callbacks:``."""

    def __init__(self, layer: str | None = None, channels: int = 16, refresh: float | None = 10.0,
                 confusion: bool = True, features: bool = True) -> None:
        self.layer = layer
        self.channels = channels
        self.refresh = refresh
        self.confusion = confusion
        self.features = features
        self.feature_layer: str | None = None
        self.files: dict[str, Path] = {}
        self._confusion: list[list[int]] | None = None
        self._warned: set[str] = set()
        self._curves_drawn = 0
        self._last_draw = float("-inf")

    def setup(self, trainer: TrainerView) -> None:
        """Check the feature-map layer against the static shapes before any training."""
        from cnnspec.explain import default_feature_layer, locate_callback_error, resolve_layer

        if not self.features:
            return
        if self.layer is None:
            try:
                self.feature_layer = default_feature_layer(trainer.trace).qualname
            except Exception:  # a model without feature maps simply gets no grid
                self.feature_layer = None
            return
        try:
            self.feature_layer = resolve_layer(trainer.trace, self.layer, "a feature-map grid").qualname
        except Exception as exc:
            raise locate_callback_error(trainer.spec, ("plots",), "layer", exc) from None

    def _out(self, trainer: TrainerView) -> Path:
        return Path(trainer.run_dir) / "plots"

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            if what not in self._warned:
                self._warned.add(what)
                warnings.warn(f"plots: could not make the {what} picture ({type(exc).__name__}: {exc}); "
                              "training continues", RuntimeWarning, stacklevel=3)
            return None

    def _publish(self, trainer: TrainerView, name: str, fig: Any, step: int | None) -> None:
        """Write ``plots/<name>.png``; also to TensorBoard at ``step`` unless it is ``None``."""
        from cnnspec.callbacks.tensorboard import find_tensorboard
        from cnnspec.explain import pictures as viz

        pixels = viz.render(fig)  # drawn once, for the file and for TensorBoard
        self.files[name] = viz.save_png(pixels, self._out(trainer) / f"{name}.png")
        board = find_tensorboard(trainer) if step is not None else None
        if board is not None:
            board.log_image(f"plots/{name}", pixels, step)

    # -- events ---------------------------------------------------------------
    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, Any]) -> None:
        if self.refresh is None or not getattr(trainer, "is_main_process", True):
            return
        if time.monotonic() - self._last_draw >= self.refresh:
            # mid-run curves go to the file only: TensorBoard has the same numbers as scalars
            self._guard("learning curves", self._curves, trainer, None)

    def on_test_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        matrix = metrics.get("test_confusion")
        if matrix is not None:
            self._confusion = [[int(v) for v in row] for row in matrix]

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        if not getattr(trainer, "is_main_process", True):
            return
        step = int(trainer.global_step)
        self._guard("learning curves", self._curves, trainer, step)
        if self.confusion:
            self._guard("confusion matrix", self._confusion_matrix, trainer, step)
        if self.features and self.feature_layer is not None:
            self._guard("feature maps", self._feature_maps, trainer, step)

    # -- pictures -------------------------------------------------------------
    def _curves(self, trainer: TrainerView, step: int | None) -> None:
        from cnnspec.explain import pictures as viz

        if not trainer.history or (self._curves_drawn == len(trainer.history) and step is None):
            return
        fig = viz.learning_curves(trainer.history, title=trainer.spec.name)
        self._publish(trainer, "curves", fig, step)
        self._curves_drawn = len(trainer.history)
        self._last_draw = time.monotonic()

    def _confusion_matrix(self, trainer: TrainerView, step: int) -> None:
        from cnnspec.explain import pictures as viz

        matrix, split = self._confusion, "test"
        if matrix is None and trainer.data is not None and trainer.data.has("val"):
            matrix, split = _confusion_on(trainer, "val"), "validation"
        if matrix is None:
            return
        classes = list(getattr(trainer.data, "classes", None) or []) or None
        if classes is not None and len(classes) != len(matrix):
            classes = None
        total = sum(map(sum, matrix))
        correct = sum(matrix[i][i] for i in range(len(matrix)))
        title = f"{trainer.spec.name}: {split} accuracy {correct / total:.2%} of {total}" if total else None
        self._publish(trainer, "confusion", viz.confusion_matrix(matrix, classes, title=title), step)

    def _feature_maps(self, trainer: TrainerView, step: int) -> None:
        from cnnspec.explain import capture_activation, preserve_rng
        from cnnspec.explain import pictures as viz
        from cnnspec.layer import fmt_shape

        assert self.feature_layer is not None
        data = trainer.data
        split = next((s for s in ("val", "test", "train") if data is not None and data.has(s)), None)
        if split is None:
            return
        with preserve_rng(getattr(trainer, "device", None)):
            inputs, targets = data.sample_batch(split, 1)
            maps = capture_activation(trainer.model, self.feature_layer, inputs[:1].to(trainer.device))
        info = trainer.trace.find(self.feature_layer)
        shown = min(self.channels, int(maps.shape[1]))
        classes = list(getattr(data, "classes", None) or [])
        label = int(targets[0])
        of = f" of class '{classes[label]}'" if 0 <= label < len(classes) else ""
        title = (f"{self.feature_layer} {fmt_shape(info.output_shape)}: first {shown} of {maps.shape[1]} "
                 f"channels, one {split} image{of}")
        fig = viz.feature_maps(maps[0].numpy(), title=title, channels=self.channels)
        self._publish(trainer, f"features_{self.feature_layer.replace('.', '_')}", fig, step)


def _confusion_on(trainer: TrainerView, split: str) -> list[list[int]]:
    """The confusion matrix of ``split`` with the current weights (when there is no test pass)."""
    import torch

    from cnnspec.explain import preserve_rng

    n = int(trainer.data.num_classes)
    counts = torch.zeros(n * n, dtype=torch.long)
    model = trainer.model
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with preserve_rng(getattr(trainer, "device", None)), torch.no_grad():
            for inputs, targets in trainer.data.loader(split):
                predicted = model(inputs.to(trainer.device)).argmax(dim=1).cpu()
                counts += torch.bincount(targets.cpu().long() * n + predicted, minlength=n * n)
    finally:
        for m, mode in modes:
            m.training = mode
    return counts.view(n, n).tolist()
