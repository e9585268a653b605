"""Built-in losses: torch.nn loss classes by name, with what each expects.

Each loss says (in ``meta``) what the model must output and what form the
targets take, so the engine can adapt the dataset's class indices and the
static trace can be checked before training:

* ``output``: ``"logits"`` (anything), ``"log_probs"`` (the model must end in
  ``LogSoftmax``: NLLLoss, KLDivLoss) or ``"probs"`` (``Softmax``/``Sigmoid``:
  BCELoss);
* ``target``: ``"index"`` (class indices, int64) or ``"onehot"`` (float
  one-hot rows the width of the output, for BCE/regression-style losses).

Accuracy is always computed from the argmax of the output against the class
index, whatever the loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnspec.component import Component
from cnnspec.hookspec import hookimpl

if TYPE_CHECKING:
    from cnnspec.plugins.registry import Entry
    from cnnspec.shapes.walker import LayerInfo, ShapeTrace
    from cnnspec.spec import Spec

__all__ = ["LOSSES", "check_loss_output", "check_spec_loss", "cnnspec_losses", "output_layer"]

#: torch.nn class -> (model output, target form)
LOSSES: dict[str, tuple[str, str]] = {
    "CrossEntropyLoss": ("logits", "index"),
    "NLLLoss": ("log_probs", "index"),
    "MultiMarginLoss": ("logits", "index"),
    "BCEWithLogitsLoss": ("logits", "onehot"),
    "BCELoss": ("probs", "onehot"),
    "MultiLabelSoftMarginLoss": ("logits", "onehot"),
    "KLDivLoss": ("log_probs", "onehot"),
    "MSELoss": ("logits", "onehot"),
    "L1Loss": ("logits", "onehot"),
    "SmoothL1Loss": ("logits", "onehot"),
    "HuberLoss": ("logits", "onehot"),
}

_ENDINGS = {"log_probs": ("LogSoftmax",), "probs": ("Softmax", "Sigmoid")}
_PASS_THROUGH = {"Identity", "Flatten"}


@hookimpl
def cnnspec_losses() -> list[Component]:
    return [
        Component(name, f"torch.nn:{name}", doc=f"torch.nn.{name}(**args); targets as {target}",
                  meta={"output": output, "target": target})
        for name, (output, target) in LOSSES.items()
    ]


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
    from cnnspec.spec.components import resolve_ref

    ref = spec.train.loss if spec.train else "crossentropyloss"
    entry, _, _ = resolve_ref("loss", ref, ("train", "loss"), spec.document, spec.plugins)
    check_loss_output(spec, trace, entry)


_WORDS = {"log_probs": "log-probabilities (a final LogSoftmax)", "probs": "probabilities (a final Softmax or Sigmoid)"}
