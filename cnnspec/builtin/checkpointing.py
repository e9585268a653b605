"""Built-in callbacks ``checkpoint`` and ``earlystopping``, registered like any plugin's.

Importing this module costs no torch: the factories are named by string and
loaded only when a run builds them; the params models are plain pydantic, so
``cnnspec validate`` checks their arguments statically.
"""

from __future__ import annotations

from cnnspec.callbacks.checkpoint import CheckpointParams
from cnnspec.callbacks.early_stopping import EarlyStoppingParams
from cnnspec.component import Component
from cnnspec.hookspec import hookimpl

__all__ = ["cnnspec_callbacks"]


@hookimpl
def cnnspec_callbacks() -> list[Component]:
    return [
        Component(
            "checkpoint", "cnnspec.callbacks.checkpoint:CheckpointCallback", params=CheckpointParams,
            doc="Resumable checkpoints in RUN_DIR/checkpoints: last.pt every epoch, best.pt by a monitored "
                "metric, keep_last recent ones; atomic, hashed, loaded weights-only.",
        ),
        Component(
            "earlystopping", "cnnspec.callbacks.early_stopping:EarlyStopping", params=EarlyStoppingParams,
            doc="Stop training when a monitored metric has not improved for `patience` epochs.",
        ),
    ]
