"""The hook implementations: what this plugin adds to cnnspec.

This module is imported on every cnnspec command, ``validate`` included, so
it imports no torch: layers carry pure-Python shape rules and builders that
import torch when called, and other components name their factories as
``"module:attribute"`` strings resolved only when a run builds them.
"""

from __future__ import annotations

from cnnspec import hookimpl
from cnnspec.component import Component
from cnnspec_example.callbacks import CsvLogParams
from cnnspec_example.data import STRIPE_CLASSES, StripesParams, stripes_sample_shape
from cnnspec_example.layers import CONV_BN_RELU, SQUEEZE_EXCITE
from cnnspec_example.losses import FocalParams

__all__ = ["cnnspec_callbacks", "cnnspec_datasets", "cnnspec_layers", "cnnspec_losses"]


@hookimpl
def cnnspec_layers():
    return [CONV_BN_RELU, SQUEEZE_EXCITE]


@hookimpl
def cnnspec_datasets():
    return [
        Component(
            "stripes", "cnnspec_example.data:stripes", StripesParams,
            doc="procedurally generated striped images; the label is the stripes' orientation",
            meta={"sample_shape": stripes_sample_shape, "num_classes": len(STRIPE_CLASSES),
                  "classes": STRIPE_CLASSES, "in_memory": True,
                  "example": {"size": 64, "test_size": 16, "image_size": 16}},
        )
    ]


@hookimpl
def cnnspec_losses():
    return [
        Component("focal", "cnnspec_example.modules:FocalLoss", FocalParams,
                  doc="focal loss: cross-entropy scaled by (1 - p_t)^gamma, for class imbalance",
                  meta={"output": "logits", "target": "index"})
    ]


@hookimpl
def cnnspec_callbacks():
    return [
        Component("csv_log", "cnnspec_example.callbacks:CsvLog", CsvLogParams,
                  doc="writes each epoch's metrics as a row of metrics.csv in the run directory")
    ]
