"""Focal loss (Lin et al., 2017): cross-entropy that down-weights easy examples.

``FL = -alpha * (1 - p_t)^gamma * log(p_t)`` with ``p_t`` the softmax
probability of the true class. ``gamma = 0`` without ``alpha`` is exactly
cross-entropy, which the plugin's tests check against torch's. The module
itself is :class:`cnnspec_example.modules.FocalLoss`; this file holds the
torch-free argument model that ``cnnspec validate`` checks specs against.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnnspec.component import SpecModel

__all__ = ["FocalParams"]


class FocalParams(SpecModel):
    """Arguments of ``train: {loss: {focal: {...}}}``."""

    gamma: float = Field(default=2.0, ge=0, description="focusing strength; 0 = cross-entropy")
    alpha: float | None = Field(default=None, gt=0, le=1, description="a constant weight of every term")
    reduction: Literal["mean", "sum", "none"] = "mean"
