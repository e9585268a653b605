"""Looking inside a trained model: Grad-CAM heat maps, feature maps and their pictures.

By job: :mod:`~cnnspec.explain.layers` chooses the layer from the static
shapes, :mod:`~cnnspec.explain.attribution` computes Grad-CAM and activations
without disturbing the model, :mod:`~cnnspec.explain.inputs` prepares the
images, :mod:`~cnnspec.explain.run` is the ``cnnspec explain`` command's work
and :mod:`~cnnspec.explain.pictures` draws.
"""

from cnnspec.explain.attribution import (
    CamResult,
    attribution_mode,
    capture_activation,
    grad_cam,
    preserve_rng,
    to_probabilities,
)
from cnnspec.explain.inputs import dataset_samples, eval_pipeline, load_images, prepare_images
from cnnspec.explain.layers import default_cam_layer, default_feature_layer, locate_callback_error, resolve_layer
from cnnspec.explain.run import ExplainResult, checkpoint_classes, explain, load_weights

__all__ = [
    "CamResult",
    "ExplainResult",
    "attribution_mode",
    "capture_activation",
    "checkpoint_classes",
    "dataset_samples",
    "default_cam_layer",
    "default_feature_layer",
    "eval_pipeline",
    "explain",
    "grad_cam",
    "load_images",
    "load_weights",
    "locate_callback_error",
    "prepare_images",
    "preserve_rng",
    "resolve_layer",
    "to_probabilities",
]
