"""The ``progress`` callback plugin: added to every run unless disabled.

Disable it with ``train: {progress: false}`` or ``-p no:progress``; configure
it by listing it: ``callbacks: [{progress: {bar: false}}]``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cnnspec.component import Component
from cnnspec.hookspec import hookimpl

__all__ = ["ProgressParams", "cnnspec_callbacks"]


class ProgressParams(BaseModel):
    """Arguments of ``progress`` in a spec's ``callbacks:``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    bar: bool | None = Field(default=None, description="a live bar; default: only when the stream is a terminal")
    stream: Literal["stdout", "stderr"] = "stdout"
    refresh: float = Field(default=0.2, gt=0, description="seconds between redraws of the bar")


@hookimpl
def cnnspec_callbacks() -> list[Component]:
    return [Component("progress", "cnnspec.callbacks.progress:ProgressCallback", params=ProgressParams,
                      doc="a progress bar on a terminal, one line per epoch otherwise")]
