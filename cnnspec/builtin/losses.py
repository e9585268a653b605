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

from cnnspec.component import Component
from cnnspec.hookspec import hookimpl

__all__ = ["LOSSES", "cnnspec_losses"]

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

@hookimpl
def cnnspec_losses() -> list[Component]:
    return [
        Component(name, f"torch.nn:{name}", doc=f"torch.nn.{name}(**args); targets as {target}",
                  meta={"output": output, "target": target})
        for name, (output, target) in LOSSES.items()
    ]
