"""The ``tensorboard`` callback plugin: TensorBoard event files in the run directory.

Listed in a spec as ``callbacks: [tensorboard]`` or with arguments,
``{tensorboard: {histograms: true}}``; ``-p no:tensorboard`` disables it.
The callback itself is :class:`cnnspec.callbacks.tensorboard.TensorBoardCallback`,
imported only when a run builds it.
"""

from __future__ import annotations

from pydantic import Field

from cnnspec.argtypes import RelativePath
from cnnspec.component import Component, SpecModel
from cnnspec.hookspec import hookimpl

__all__ = ["TensorBoardParams", "cnnspec_callbacks"]


class TensorBoardParams(SpecModel):
    """Arguments of ``tensorboard`` in a spec's ``callbacks:``."""

    log_every_n_steps: int = Field(default=50, ge=1, description="log the step loss and lr every N optimizer steps")
    histograms: bool = Field(default=False, description="weight and gradient histograms every epoch")
    graph: bool = Field(default=True, description="the model graph (skipped with a warning if tracing fails)")
    images: int = Field(default=16, ge=0, le=256, description="training samples in the 'inputs' grid; 0 for none")
    log_dir: RelativePath | None = Field(default=None,  # type: ignore[valid-type]
                                         description="folder inside the run directory; default tensorboard")
    flush_secs: float = Field(default=30.0, gt=0, description="seconds between background flushes")


@hookimpl
def cnnspec_callbacks() -> list[Component]:
    return [Component("tensorboard", "cnnspec.callbacks.tensorboard:TensorBoardCallback", params=TensorBoardParams,
                      doc="TensorBoard scalars, hparams, model graph, sample inputs, histograms and pictures")]
