"""Grad-CAM and activations of a model, computed without disturbing it.

Grad-CAM is computed by Captum's ``LayerGradCam`` and upsampled with
``LayerAttribution.interpolate``: a well-kept implementation, not hooks
written here. What this module adds is what the tutorials leave to the user:

* **in-place activations**: ``ReLU(inplace=True)`` chained after the target
  layer overwrites the activation autograd saved, and Captum fails with
  "modified by an inplace operation". :func:`attribution_mode` switches
  ``inplace`` off (and the model to eval) for the duration and restores both,
  so the caller's model, its training mode and its weights are untouched;
* **no side effects on training**: eval mode keeps BatchNorm statistics and
  dropout's random stream as they were, and :func:`preserve_rng` isolates the
  random state around anything that draws samples.

Which layer to explain is chosen in :mod:`cnnspec.explain.layers`; the
drawing is in :mod:`cnnspec.explain.pictures`; this module returns tensors.
Torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["CamResult", "attribution_mode", "capture_activation", "grad_cam", "preserve_rng", "to_probabilities"]


@contextlib.contextmanager
def attribution_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, in-place activations off and gradients on, restored afterwards.

    Restoring per module (not ``model.train(was_training)``) keeps any
    deliberately frozen submodule (a BatchNorm left in eval) as it was.
    """
    import torch

    modes = [(m, m.training) for m in model.modules()]
    inplace = [(m, m.inplace) for m in model.modules() if isinstance(getattr(m, "inplace", None), bool)]
    try:
        model.eval()
        for m, _ in inplace:
            m.inplace = False
        with torch.enable_grad():
            yield model
    finally:
        for m, flag in inplace:
            m.inplace = flag
        for m, mode in modes:
            m.training = mode


@contextlib.contextmanager
def preserve_rng(device: Any = None) -> Iterator[None]:
    """Run a block without advancing the global random streams training draws from.

    Pictures and logs must not change a run's results: drawing sample images
    (a shuffled loader) or an extra forward pass would otherwise shift every
    later dropout mask and data order, and a run with TensorBoard would differ
    from one without.
    """
    import random

    import torch

    devices: list[int] = []
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    py_state = random.getstate()
    np_state = _numpy_state()
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        if np_state is not None:
            import numpy as np

            np.random.set_state(np_state)


def _numpy_state() -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch's usual installs
        return None
    return np.random.get_state()


def capture_activation(model: nn.Module, layer: str, inputs: torch.Tensor) -> torch.Tensor:
    """The output of submodule ``layer`` (a qualname) for ``inputs``, on the CPU.

    A forward hook found by name, as seed 004's ``visualize_activations``,
    in eval mode without gradients; the model's modes are restored.
    """
    import torch

    module = model.get_submodule(layer)
    captured: list[torch.Tensor] = []
    # clone: an in-place activation after the layer would otherwise overwrite what we keep
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().clone()))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
        for m, mode in modes:
            m.training = mode
    if not captured:
        raise CnnspecError(f"layer '{layer}' did not run in the forward pass")
    return captured[0].float().cpu()


def to_probabilities(outputs: torch.Tensor, last_layer: str | None = None) -> torch.Tensor:
    """Class probabilities from the model's outputs, ``[N, classes]``.

    Models usually end in logits; a spec may end in ``softmax`` (already
    probabilities) or ``logsoftmax`` (log-probabilities, for ``nllloss``).
    """
    import torch

    outputs = outputs.detach().float()
    kind = (last_layer or "").lower()
    if kind == "softmax":
        return outputs
    if kind == "logsoftmax":
        return outputs.exp()
    return torch.softmax(outputs, dim=1)


@dataclass
class CamResult:
    """Grad-CAM for a batch.

    ``cams``: ``[N, H, W]`` at the input resolution, each scaled to [0, 1] by
    its maximum (all zeros where nothing speaks for the target class).
    ``raw``: Captum's attribution at the layer's resolution, ``[N, h, w]``,
    unscaled. ``targets``: the class each map explains.
    """

    cams: torch.Tensor
    raw: torch.Tensor
    targets: torch.Tensor
    predicted: torch.Tensor
    probabilities: torch.Tensor
    layer: str


def grad_cam(model: nn.Module, layer: str, inputs: torch.Tensor, target: Any = None,
             last_layer: str | None = None) -> CamResult:
    """Grad-CAM of ``inputs`` (``[N, C, H, W]`` on the model's device) at submodule ``layer``.

    ``target``: ``None`` explains each image's predicted class; an int or an
    ``[N]`` tensor explains the given classes. ``last_layer`` is the type of
    the model's last layer (see :func:`to_probabilities`).
    """
    import torch
    from captum.attr import LayerAttribution, LayerGradCam

    if inputs.dim() != 4:
        raise CnnspecError(f"Grad-CAM needs a batch of [C, H, W] images, got shape {list(inputs.shape)}")
    module = model.get_submodule(layer)
    with attribution_mode(model):
        with torch.no_grad():
            outputs = model(inputs)
        if outputs.dim() != 2:
            raise CnnspecError(f"Grad-CAM needs [N, classes] model outputs, got shape {list(outputs.shape)}")
        probabilities = to_probabilities(outputs, last_layer)
        predicted = probabilities.argmax(dim=1)
        if target is None:
            targets = predicted
        elif isinstance(target, int):
            targets = torch.full_like(predicted, target)
        else:
            targets = torch.as_tensor(target, device=predicted.device).long()
        attribution = LayerGradCam(model, module).attribute(inputs, target=targets, relu_attributions=True)
        upsampled = LayerAttribution.interpolate(attribution, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
    raw = attribution.detach()[:, 0].float().cpu()
    maps = upsampled.detach()[:, 0].float().cpu().clamp_min(0)
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    cams = torch.where(peak > 0, maps / peak.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))
    return CamResult(cams=cams, raw=raw, targets=targets.cpu(), predicted=predicted.cpu(),
                     probabilities=probabilities.cpu(), layer=layer)
