"""The ``gradcam`` callback plugin: Grad-CAM overlays of validation images during training.

Listed in a spec as ``callbacks: [{gradcam: {samples: 8}}]``;
``-p no:gradcam`` disables it. The callback is
:class:`cnnspec.callbacks.gradcam.GradCamCallback`, imported only when a run
builds it (it needs Captum and torch).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cnnspec.component import Component, SpecModel
from cnnspec.hookspec import hookimpl

__all__ = ["GradCamParams", "cnnspec_callbacks"]


class GradCamParams(SpecModel):
    """Arguments of ``gradcam`` in a spec's ``callbacks:``."""

    samples: int = Field(default=8, ge=1, le=64, description="validation images to explain")
    layer: str | None = Field(default=None, description="target layer; default the last convolutional feature map")
    epochs: list[Annotated[int, Field(ge=1)]] | None = Field(
        default=None, min_length=1, description="epochs (from 1) after which to draw; default the last one")
    every: int | None = Field(default=None, ge=1, description="draw after every k-th epoch instead")
    split: Literal["val", "test", "train"] | None = Field(
        default=None, description="where the images come from; default val, else test, else train")
    target: Literal["pred", "true"] = Field(default="pred", description="explain the predicted or the true class")

    @model_validator(mode="after")
    def _one_schedule(self) -> GradCamParams:
        if self.epochs is not None and self.every is not None:
            raise ValueError("give either epochs or every, not both")
        return self


@hookimpl
def cnnspec_callbacks() -> list[Component]:
    return [Component("gradcam", "cnnspec.callbacks.gradcam:GradCamCallback", params=GradCamParams,
                      doc="Grad-CAM overlays (Captum) of validation images in run_dir/gradcam")]
