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

import torch
from torch import nn

from cnnspec.builtin.backbones.catalog import ARCHITECTURES
from cnnspec.exceptions import SpecError

__all__ = ["build_backbone", "load_weights"]


def _state_dict_from(obj: Any, path: str) -> Mapping[str, torch.Tensor]:
    """A bare state_dict, or one under ``model``/``state_dict`` (training checkpoints)."""
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise SpecError(f"backbone weights '{path}' is not a state_dict",
                    hint="save one with torch.save(model.state_dict(), path)")


def load_weights(model: nn.Module, path: str, keep: tuple[str, ...]) -> None:
    """Load the file into ``model``, checking every kept part is covered.

    ``keep`` are the top-level attributes the backbone uses; keys outside
    them (a classifier that is cut off) may be absent or present.
    """
    file = Path(path)
    if not file.is_file():
        raise SpecError(f"backbone weights file '{path}' not found (relative paths are from {Path.cwd()})",
                        hint="weights are never downloaded: save them once with "
                             "torch.save(torchvision.models.resnet18(weights='DEFAULT').state_dict(), 'resnet18.pth')")
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SpecError(f"backbone weights '{path}' cannot be read: {type(exc).__name__}: {exc}",
                        hint="the file must be a torch.save of a state_dict") from None
    state = _state_dict_from(obj, path)

    def kept(key: str) -> bool:
        return key.split(".", 1)[0] in keep

    own = model.state_dict()
    wanted = {k for k in own if kept(k)}
    given = {k for k in state if kept(k)}
    missing, unexpected = sorted(wanted - given), sorted(given - wanted)
    wrong = [k for k in sorted(wanted & given) if tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])}"
                         f"{', ...' if len(unexpected) > 3 else ''})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} shape mismatches ({k}: file {list(state[k].shape)}, "
                         f"model {list(own[k].shape)})")
        raise SpecError(f"backbone weights '{path}' do not fit torchvision's {type(model).__name__}: "
                        + "; ".join(parts),
                        hint="the file must hold the state_dict of the same torchvision model "
                             "(with output: logits, also the same num_classes)")
    model.load_state_dict({k: state[k] for k in wanted}, strict=False)


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
