"""cnnspec: convolutional networks from a YAML/JSON spec, shape-checked statically.

The public API is importable without torch; ``build_model`` and ``train``
import it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnspec import _moved
from cnnspec._version import __version__
from cnnspec.exceptions import CnnspecError, PluginError, ShapeError, SpecError
from cnnspec.hookspec import hookimpl

if TYPE_CHECKING:
    from cnnspec.shapes.walker import ShapeTrace
    from cnnspec.spec import Spec

_moved.install()  # old module paths keep working for one release

__all__ = [
    "CnnspecError",
    "PluginError",
    "ShapeError",
    "SpecError",
    "__version__",
    "build_model",
    "hookimpl",
    "infer_shapes",
    "load_spec",
    "predict",
    "train",
]



def load_spec(source: Any, *, overrides: Any = ()) -> Spec:
    """Load and validate a spec from a path, YAML/JSON text, or a dict."""
    from cnnspec.spec import load_spec as _load

    return _load(source, overrides=overrides)


def infer_shapes(spec: Spec, *, input_shape: Any = None) -> ShapeTrace:
    """Every layer's static output shape, parameters, MACs and receptive field.

    ``input_shape`` overrides the spec's ``input`` (names are symbolic dims).
    """
    from cnnspec.shapes.walker import infer_shapes as _infer

    return _infer(spec, input_shape=input_shape)


def build_model(spec: Spec) -> Any:
    """The ``torch.nn.Sequential`` the spec describes (imports torch)."""
    from cnnspec.build import build_model as _build

    return _build(spec)


def train(spec: Spec, **options: Any) -> Any:
    """Train the spec's model; see :func:`cnnspec.engine.train`."""
    from cnnspec.engine import train as _train

    return _train(spec, **options)


def predict(source: Any, images: Any, **options: Any) -> Any:
    """Classify image files with a trained model; see :func:`cnnspec.engine.predict.predict`."""
    from cnnspec.engine.predict import predict as _predict

    return _predict(source, images, **options)
