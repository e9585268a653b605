"""The dataset's sample shape without loading anything: for ``cnnspec validate``.

Datasets declare ``meta["sample_shape"]`` and transforms a pure
``meta["shape"]`` rule (:mod:`cnnspec.builtin.transforms`), so the shape the
model receives can often be known from the spec alone, in milliseconds and
without torch. Where something is unknown (ImageFolder, a plugin transform
without a rule) the answer is ``None`` and the check waits for
:func:`cnnspec.data.build_data`, which runs the real transforms on real
samples and reports the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cnnspec.component import split_ref
from cnnspec.exceptions import SpecError
from cnnspec.plugins.registry import RegistryError

if TYPE_CHECKING:
    from cnnspec.plugins.manager import PluginSet
    from cnnspec.spec import Spec

__all__ = ["input_mismatch", "static_input_problem", "static_sample_shape"]

Shape = tuple[int, ...]


def _meta_value(value: Any, args: dict[str, Any]) -> Any:
    return value(args) if callable(value) else value


def _pipeline_shape(shape: Shape | None, refs: Sequence[Any], plugins: PluginSet) -> Shape | None:
    registry = plugins.registry("transform")
    for ref in refs:
        if shape is None:
            return None
        name, args = split_ref(ref)
        try:
            rule = registry.get(name).meta.get("shape")
        except RegistryError:
            return None
        if rule is None:
            return None
        try:
            shape = rule(tuple(shape), args)
        except Exception:  # a rule given arguments torchvision would reject: leave it to the real check
            return None
    return tuple(shape) if shape is not None else None


def static_sample_shape(spec: Spec) -> Shape | None:
    """``(C, H, W)`` of the model's input samples (evaluation transforms), or ``None`` if unknown."""
    data = spec.data
    if data is None:
        return None
    name, args = split_ref(data.dataset)
    try:
        component = spec.plugins.registry("dataset").get(name)
    except RegistryError:
        return None
    raw = _meta_value(component.meta.get("sample_shape"), args)
    if raw is None:
        return None
    return _pipeline_shape(tuple(raw), [*data.eval_transforms, *data.transforms], spec.plugins)


def input_mismatch(spec: Spec, shape: Shape, name: str, transformed: bool) -> SpecError | None:
    """The located error for an ``input:`` that differs from the samples' shape, or ``None``."""
    want = spec.input
    if len(want) == len(shape) and all(isinstance(w, str) or w == s for w, s in zip(want, shape)):
        return None
    after = " after the transforms" if transformed else ""
    hint = f"write input: {list(shape)}"
    if len(want) == len(shape):
        hint += (", or change the transforms (resize, centercrop, grayscale...)" if transformed
                 else ", or add transforms that give the input's shape (resize, grayscale...)")
    shown = "[" + ", ".join(str(w) for w in want) + "]"
    return spec.document.error(f"input: {shown}, but {name} gives {list(shape)} samples{after}", ("input",),
                               hint=hint)


def static_input_problem(spec: Spec) -> SpecError | None:
    """The input/dataset mismatch knowable without torch, or ``None`` (no data, unknown, or fine)."""
    shape = static_sample_shape(spec)
    if shape is None or spec.data is None:
        return None
    data = spec.data
    return input_mismatch(spec, shape, split_ref(data.dataset)[0], bool(data.transforms or data.eval_transforms))
