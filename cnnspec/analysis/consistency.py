"""Static checks that cross sections: the model against its loss and its dataset.

Each section is valid on its own when it loads; these checks compare them, on
the static trace and the components' ``meta`` (a loss says what output it
expects, a dataset its sample shape, a transform its shape rule), so
``cnnspec validate`` answers without torch and the trainer refuses the same
specs with the same located words before it loads any data.

* The loss: ``meta["output"]`` is ``"logits"`` (anything), ``"log_probs"``
  (the model must end in ``LogSoftmax``: NLLLoss, KLDivLoss) or ``"probs"``
  (``Softmax``/``Sigmoid``: BCELoss); trailing identity/flatten layers are
  looked through.
* The input: datasets declare ``meta["sample_shape"]`` and transforms a pure
  ``meta["shape"]`` rule, so the shape the model receives is often known from
  the spec alone. Where something is unknown (ImageFolder, a plugin transform
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
from cnnspec.spec.components import resolve_ref

if TYPE_CHECKING:
    from cnnspec.plugins.manager import PluginSet
    from cnnspec.plugins.registry import Entry
    from cnnspec.shapes.walker import LayerInfo, ShapeTrace
    from cnnspec.spec import Spec

__all__ = [
    "check_loss_output",
    "check_spec",
    "check_spec_loss",
    "input_mismatch",
    "output_layer",
    "static_input_problem",
    "static_sample_shape",
]


def check_spec(spec: Spec, trace: ShapeTrace) -> None:
    """Every cross-section check that needs no data; raises the first located problem."""
    problem = static_input_problem(spec)
    if problem is not None:
        raise problem
    if spec.train is not None:
        check_spec_loss(spec, trace)


# -- the loss against the model's output --------------------------------------------------

_ENDINGS = {"log_probs": ("LogSoftmax",), "probs": ("Softmax", "Sigmoid")}
_PASS_THROUGH = {"Identity", "Flatten"}


def output_layer(trace: ShapeTrace) -> LayerInfo | None:
    """The leaf layer that produces the model's output, or ``None`` when the
    output comes from a combinator (``residual`` add, ``concat``)."""
    info = trace.layers[-1]
    while info.kind in ("sequential", "repeat") and info.children:
        info = info.children[-1]
    return info if info.kind == "layer" else None


def check_loss_output(spec: Spec, trace: ShapeTrace, entry: Entry[Any]) -> None:
    """Raise a located SpecError when the model's last layer does not produce
    what the loss expects (NLLLoss without a final LogSoftmax...).

    Pure Python on the static trace, so ``validate`` can call it too.
    """
    want = entry.obj.meta.get("output", "logits")
    if want not in _ENDINGS:
        return
    last = output_layer(trace)
    if last is not None:  # look through trailing identity/flatten layers
        leaves = trace.leaves()
        i = next(n for n, leaf in enumerate(leaves) if leaf is last)
        while i > 0 and leaves[i].type in _PASS_THROUGH:
            i -= 1
        last = leaves[i]
    endings = _ENDINGS[want]
    if last is not None and last.type in endings:
        if last.type in ("LogSoftmax", "Softmax") and last.kwargs.get("dim") not in (1, -1) \
                and len(trace.output_shape) == 1:
            raise spec.document.error(
                f"train.loss: {entry.name} needs {_WORDS[want]} over the classes, but the final "
                f"{last.type.lower()} '{last.qualname}' normalises over dim={last.kwargs.get('dim')}",
                ("train", "loss"), hint=f"write {last.type.lower()}: {{dim: 1}}")
        return
    ending = f"{last.type.lower()} '{last.qualname}'" if last is not None else f"a {trace.layers[-1].kind} block"
    add = endings[0].lower()
    alternative = {"log_probs": "crossentropyloss, which applies log-softmax itself",
                   "probs": "bcewithlogitsloss, which applies the sigmoid itself"}[want]
    raise spec.document.error(
        f"train.loss: {entry.name} expects {_WORDS[want]}, but the model ends in {ending} "
        f"(output {list(trace.output_shape)})",
        ("train", "loss"),
        hint=f"add '- {add}: {{dim: 1}}' as the last layer, or use {alternative}" if want == "log_probs"
        else f"add '- {add}' as the last layer, or use {alternative}")


def check_spec_loss(spec: Spec, trace: ShapeTrace) -> None:
    """:func:`check_loss_output` for the spec's own ``train.loss`` (no torch needed).

    For ``cnnspec validate``: the same located error training would raise.
    """
    ref = spec.train.loss if spec.train else "crossentropyloss"
    entry, _, _ = resolve_ref("loss", ref, ("train", "loss"), spec.document, spec.plugins)
    check_loss_output(spec, trace, entry)


_WORDS = {"log_probs": "log-probabilities (a final LogSoftmax)", "probs": "probabilities (a final Softmax or Sigmoid)"}


# -- the dataset's samples against input: ------------------------------------------------

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
