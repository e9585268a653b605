"""Evaluation passes and the checks of data against the static trace.

Shared by the training loop (validation every epoch, the final test) and
``cnnspec evaluate`` (saved weights on the test split).
"""

from __future__ import annotations

import contextlib
from typing import Any

from cnnspec.engine.device import Precision
from cnnspec.engine.distributed import DistContext
from cnnspec.engine.metrics import ClassificationMeter
from cnnspec.exceptions import SpecError

__all__ = ["check_data_fits", "evaluate_model"]


def check_data_fits(spec: Any, trace: Any, data: Any) -> None:
    """The dataset's samples and classes against the static trace (located errors)."""
    from cnnspec.analysis.consistency import output_layer

    sample = tuple(data.sample_shape)
    if all(isinstance(d, int) for d in spec.input) and tuple(spec.input) != sample:
        raise spec.document.error(
            f"input: the spec says {list(spec.input)} but the dataset's samples are {list(sample)}", ("input",),
            hint=f"write input: {list(sample)}, or add transforms (resize, grayscale...) to data.transforms")
    out = tuple(trace.output_shape)
    classes = int(data.num_classes)
    if out == (classes,) or (len(out) == 1 and not isinstance(out[0], int)):
        return
    last = output_layer(trace) or trace.layers[-1]
    if len(out) == 1:
        hint = f"set out_features: {classes} on the last layer"
    else:
        hint = f"end the model with flatten and a linear layer with out_features: {classes}"
    raise SpecError(f"{last.path} {last.type.lower()} '{last.qualname}': the model outputs {list(out)} per sample, "
                    f"but the dataset has {classes} classes", location=last.location, path=last.path, hint=hint)


def evaluate_model(model: Any, data: Any, split: str, loss_fn: Any, device: Any, num_classes: int, *,
                   precision: Precision | None = None, channels_last: bool = False, dist: DistContext | None = None,
                   epoch: int = 0, limit_batches: int | None = None, confusion: bool = True,
                   should_stop: Any = None) -> dict[str, Any]:
    """One pass over ``split`` without gradients; ``{split}_loss``, ``{split}_acc``..."""
    import torch

    meter = ClassificationMeter(num_classes, device, confusion=confusion)
    context = precision.context if precision is not None else _null
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i, (inputs, targets) in enumerate(data.loader(split, epoch=epoch)):
                if limit_batches is not None and i >= limit_batches:
                    break
                if device.type != "cpu":
                    inputs = inputs.to(device, non_blocking=True)
                    targets = targets.to(device, non_blocking=True)
                if channels_last and inputs.dim() == 4:
                    inputs = inputs.contiguous(memory_format=torch.channels_last)
                with context():
                    outputs = model(inputs)
                    loss = loss_fn(outputs, targets)
                meter.update(loss, outputs, targets)
                if should_stop is not None and should_stop():
                    break
    finally:
        model.train(was_training)
    meter.all_reduce(dist)
    return meter.compute(split)


def _null() -> Any:
    return contextlib.nullcontext()
