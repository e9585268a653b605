"""Building a backbone: the torchvision model, its weights, cut and frozen.

The model is cut into an ``nn.Sequential`` of torchvision's own submodules
(``conv1``, ``layer1``... or ``features``, ``avgpool``, ``classifier``), so
state_dict keys inside the backbone are torchvision's keys and a weights
file saved from torchvision loads as is. Only the parts the spec's
``output`` keeps are built into the model; weights for the parts cut off
(the classifier, when pooled features are wanted) are ignored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from cnnspec.build.weights import fit_state, read_weights
from cnnspec.builtin.backbones.catalog import ARCHITECTURES
from cnnspec.checkpoint import CheckpointError
from cnnspec.exceptions import SpecError

__all__ = ["build_backbone", "load_weights"]


def load_weights(model: nn.Module, path: str, keep: tuple[str, ...]) -> None:
    """Load the file into ``model``, checking every kept part is covered.

    ``keep`` are the top-level attributes the backbone uses; keys outside
    them (a classifier that is cut off) may be absent or present. The file is
    read like every weights file (:func:`cnnspec.build.weights.read_weights`:
    verified, ``weights_only``); any state dict in it, bare or under
    ``model``/``state_dict``, will do.
    """
    if not Path(path).is_file():
        raise SpecError(f"backbone weights file '{path}' not found (relative paths are from {Path.cwd()})",
                        hint="weights are never downloaded: save them once with "
                             "torch.save(torchvision.models.resnet18(weights='DEFAULT').state_dict(), 'resnet18.pth')")
    try:
        weights = read_weights(path)
    except CheckpointError as exc:
        raise SpecError(f"cannot use the backbone weights: {exc}",
                        hint="the file must be a torch.save of a state_dict") from None
    fit_state(model, weights.state, source=path, subject=f"torchvision's {type(model).__name__}", keep=keep,
              hint="the file must hold the state_dict of the same torchvision model "
                   "(with output: logits, also the same num_classes)")


def build_backbone(kwargs: Mapping[str, Any]) -> nn.Sequential:
    import torchvision

    name, output = kwargs["model"], kwargs["output"]
    arch = ARCHITECTURES[name]
    net = getattr(torchvision.models, name)(weights=None, num_classes=kwargs["num_classes"])
    parts = list(arch.trunk_attrs)
    if output in ("pooled", "logits"):
        parts += arch.pool_attrs
    if output == "logits":
        parts += arch.head_attrs
    if kwargs.get("weights"):
        load_weights(net, kwargs["weights"], tuple(parts))
    modules: list[tuple[str, nn.Module]] = [(attr, getattr(net, attr)) for attr in arch.trunk_attrs]
    if output in ("pooled", "logits"):
        pools = [(attr, getattr(net, attr)) for attr in arch.pool_attrs] or [("avgpool", nn.AdaptiveAvgPool2d(1))]
        modules += [*pools, ("flatten", nn.Flatten())]
    if output == "logits":
        modules += [(attr, getattr(net, attr)) for attr in arch.head_attrs]
    backbone = nn.Sequential(OrderedDict(modules))
    if kwargs.get("freeze"):
        backbone.requires_grad_(False)
    return backbone
