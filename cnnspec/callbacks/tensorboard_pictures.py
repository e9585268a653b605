"""What TensorBoard shows of the model and its data: the GRAPHS tab and the ``inputs`` image.

The model is traced on one sample (skipped with a warning if tracing fails:
not every model is traceable, and the graph is a convenience); ``inputs`` is
a grid of samples with the normalisation undone. Nothing here changes the
training: the trace and the sample draw run in eval mode with the random
streams preserved.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.callbacks.base import TrainerView
    from cnnspec.callbacks.tensorboard_writer import GuardedWriter

__all__ = ["add_architecture", "add_graph", "add_inputs", "sample_inputs"]


def sample_inputs(trainer: TrainerView, count: int) -> Any:
    """``count`` inputs of the first split the data has (train, val, test), or None."""
    from cnnspec.explain import preserve_rng

    data = getattr(trainer, "data", None)
    count = max(count, 1)
    for split in ("train", "val", "test"):
        if data is not None and data.has(split):
            try:
                with preserve_rng(getattr(trainer, "device", None)):
                    inputs, _ = data.sample_batch(split, count)
                return inputs
            except Exception as exc:
                warnings.warn(f"TensorBoard: could not draw sample inputs ({type(exc).__name__}: {exc})",
                              RuntimeWarning, stacklevel=2)
                return None
    return None


def add_graph(log: GuardedWriter, trainer: TrainerView, batch: Any) -> None:
    """The model graph, traced on the first of ``batch`` (or zeros of the input shape)."""
    import torch

    from cnnspec.explain import preserve_rng

    model = trainer.model
    device = getattr(trainer, "device", None)
    if batch is not None:
        example = batch[:1].to(device)
    elif all(isinstance(d, int) for d in trainer.trace.input_shape):
        example = torch.zeros(1, *trainer.trace.input_shape, device=device)
    else:
        return
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with warnings.catch_warnings(), preserve_rng(device), torch.no_grad():
            warnings.simplefilter("ignore")
            log.writer.add_graph(model, example)  # type: ignore[union-attr]
    except Exception as exc:
        if log.broken():
            log.fail("writing the model graph", exc)
        else:
            warnings.warn(f"TensorBoard: skipping the model graph, tracing failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})", RuntimeWarning, stacklevel=2)
    finally:
        for m, mode in modes:
            m.training = mode


def add_inputs(log: GuardedWriter, batch: Any, unnormalize: Any, count: int) -> None:
    """A grid of inputs as images: normalisation undone when the data can, else each one stretched."""
    import torch
    from torchvision.utils import make_grid

    images = batch[:count].detach().float().cpu()
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        return
    if unnormalize is not None:
        shown = unnormalize(images.clone())
    else:
        flat = images.flatten(1)
        lo = flat.amin(dim=1)[:, None, None, None]
        hi = flat.amax(dim=1)[:, None, None, None]
        shown = (images - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    grid = make_grid(shown, nrow=min(8, len(shown)), padding=2, pad_value=1.0)
    log.write("add_image", "inputs", grid, 0)


def add_architecture(log: GuardedWriter, trainer: TrainerView) -> None:
    """The architecture picture (:mod:`cnnspec.draw`, from the static trace) as the ``architecture`` image."""
    trace = getattr(trainer, "trace", None)
    if trace is None:
        return
    try:
        from cnnspec.draw import diagram, layout
        from cnnspec.draw.raster import rgb

        image = rgb(layout(diagram(trace)))
    except Exception as exc:  # a picture never costs a run
        warnings.warn(f"TensorBoard: skipping the architecture picture ({type(exc).__name__}: {exc})",
                      RuntimeWarning, stacklevel=2)
        return
    log.write("add_image", "architecture", image, 0, dataformats="HWC")
