"""The training engine: the loop, its run directory, and the Python API.

``train(spec)`` runs a whole experiment; :class:`Trainer` is the loop that
callbacks see (what they may read of it is
:class:`cnnspec.callbacks.TrainerView`); ``evaluate(spec, checkpoint)``
measures saved weights on the test split.
"""

from cnnspec.engine.api import DRY_RUN_BATCHES, TrainResult, evaluate, load_weights, train
from cnnspec.engine.device import Precision, select_device
from cnnspec.engine.errors import CallbackError, DataWorkerError
from cnnspec.engine.evaluation import evaluate_model
from cnnspec.engine.trainer import STATE_FORMAT, Trainer

__all__ = [
    "DRY_RUN_BATCHES",
    "STATE_FORMAT",
    "CallbackError",
    "DataWorkerError",
    "Precision",
    "TrainResult",
    "Trainer",
    "evaluate",
    "evaluate_model",
    "load_weights",
    "select_device",
    "train",
]
