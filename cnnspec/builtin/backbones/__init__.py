"""Built-in plugin "backbones": torchvision models as one ``backbone`` layer.

For transfer learning (seed 004's frozen ResNet-18 with a new head)::

    model:
      - backbone: {model: resnet18, weights: resnet18.pth, freeze: true}
      - linear: {out_features: 10}

The shape rule is static and exact (see :mod:`.rule`); torch and
torchvision are imported only when the model is built.
"""

from __future__ import annotations

from cnnspec.hookspec import hookimpl

__all__ = ["cnnspec_layers"]

@hookimpl
def cnnspec_layers():
    from cnnspec.builtin.backbones.rule import BACKBONE

    return [BACKBONE]
