"""The ``plots`` callback plugin: PNG learning curves, confusion matrix and feature maps.

Listed in a spec as ``callbacks: [plots]`` or ``{plots: {layer: conv2}}``;
``-p no:plots`` disables it. The callback is
:class:`cnnspec.callbacks.plots.PlotsCallback`, imported only when a run
builds it (it needs matplotlib and torch).
"""

from __future__ import annotations

from pydantic import Field

from cnnspec.component import Component, SpecModel
from cnnspec.hookspec import hookimpl

__all__ = ["PlotsParams", "cnnspec_callbacks"]


class PlotsParams(SpecModel):
    """Arguments of ``plots`` in a spec's ``callbacks:``."""

    layer: str | None = Field(default=None, description="layer whose feature maps are drawn; default the first conv")
    channels: int = Field(default=16, ge=1, le=256, description="feature maps drawn (the first N channels)")
    refresh: float | None = Field(
        default=10.0, ge=0,
        description="rewrite curves.png after an epoch when this many seconds passed since the last time "
                    "(0: every epoch; null: only at the end)")
    confusion: bool = Field(default=True, description="draw the confusion matrix at the end")
    features: bool = Field(default=True, description="draw the feature maps of one image at the end")


@hookimpl
def cnnspec_callbacks() -> list[Component]:
    return [Component("plots", "cnnspec.callbacks.plots:PlotsCallback", params=PlotsParams,
                      doc="PNG learning curves, confusion matrix and feature maps in run_dir/plots")]
