"""Classification metrics accumulated on the device, read once per pass.

The hand-written loops in the tutorials call ``loss.item()`` and move the
correct count to the CPU every batch. Here the sums stay on the device as
tensors and are read once at the end of a pass (one synchronisation, and
one all-reduce when several processes train together), so measuring costs
next to nothing per step.

Definitions (the same as scikit-learn's):

* ``loss``: mean of the per-batch loss weighted by the batch size, i.e. the
  per-sample mean for losses with ``reduction="mean"``;
* ``acc``: fraction of samples whose argmax output is the true class;
* ``confusion[i][j]``: samples of true class ``i`` predicted as ``j``;
* ``per_class_acc[i]``: ``confusion[i][i] / sum(confusion[i])`` (recall), or
  ``None`` for a class with no samples;
* ``precision[i]``, ``recall[i]``, ``f1[i]``, ``support[i]`` and their
  ``macro_*`` (plain mean over the classes) and ``weighted_*`` (weighted by
  support) averages: scikit-learn's ``precision_recall_fscore_support`` with
  ``labels=range(C)`` and ``zero_division=0``;
* ``top5_acc``: fraction of samples whose true class is among the 5 largest
  outputs (scikit-learn's ``top_k_accuracy_score``), for more than 5 classes.

The per-class and top-k metrics come with the confusion matrix: on the
test pass and in ``cnnspec evaluate``, not every epoch.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TOP_K", "ClassificationMeter", "class_report", "confusion_matrix", "per_class_accuracy"]

#: the k of the top-k accuracies reported (for datasets with more than k classes)
TOP_K = (5,)


def confusion_matrix(preds: Any, targets: Any, num_classes: int) -> Any:
    """``[C, C]`` int64 counts, rows = true class, columns = predicted class."""
    import torch

    flat = targets.to(torch.int64) * num_classes + preds.to(torch.int64)
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_report(confusion: list[list[int]]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, with macro and weighted averages, from a confusion matrix."""
    size = len(confusion)
    support = [sum(row) for row in confusion]
    predicted = [sum(confusion[r][c] for r in range(size)) for c in range(size)]
    precision = [confusion[i][i] / predicted[i] if predicted[i] else 0.0 for i in range(size)]
    recall = [confusion[i][i] / support[i] if support[i] else 0.0 for i in range(size)]
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(precision, recall)]
    total = sum(support)
    out: dict[str, Any] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[f"macro_{name}"] = sum(values) / size if size else 0.0
        out[f"weighted_{name}"] = sum(v * n for v, n in zip(values, support)) / total if total else 0.0
    return out


def per_class_accuracy(confusion: list[list[int]]) -> list[float | None]:
    """Recall of each class from a confusion matrix given as nested lists."""
    out: list[float | None] = []
    for i, row in enumerate(confusion):
        total = sum(row)
        out.append(row[i] / total if total else None)
    return out


class ClassificationMeter:
    """Sums of one pass (train, val or test): loss, samples, correct, confusion.

    ``update`` is called every batch and never synchronises with the device;
    ``compute`` reads the sums once (after ``all_reduce`` across processes
    when a process group is given).
    """

    def __init__(self, num_classes: int, device: Any, *, confusion: bool = False) -> None:
        self.num_classes = num_classes
        self.device = device
        self.track_confusion = confusion
        self.reset()

    def reset(self) -> None:
        import torch

        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self.count = 0
        self.confusion = (torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64, device=self.device)
                          if self.track_confusion else None)
        self.top_k = [k for k in TOP_K if self.track_confusion and self.num_classes > k]
        self.topk_correct = torch.zeros(len(self.top_k), dtype=torch.int64, device=self.device)

    def update(self, loss: Any, outputs: Any, targets: Any) -> None:
        """Add one batch: ``loss`` is the batch's mean loss (a 0-d tensor)."""
        n = int(targets.shape[0])
        self.loss_sum.add_(loss.detach(), alpha=n)
        preds = outputs.detach().argmax(dim=1)
        if self.confusion is not None:
            self.confusion += confusion_matrix(preds, targets, self.num_classes)
            for i, k in enumerate(self.top_k):
                hits = (outputs.detach().topk(k, dim=1).indices == targets[:, None]).any(dim=1).sum()
                self.topk_correct[i] += hits
        else:
            self.correct += (preds == targets).sum()
        self.count += n

    def all_reduce(self, dist: Any) -> None:
        """Sum this meter over every process of ``dist`` (a DistContext)."""
        if dist is None or dist.world_size <= 1:
            return
        import torch

        parts = [self.loss_sum.reshape(1), self.correct.to(torch.float64).reshape(1),
                 torch.tensor([float(self.count)], dtype=torch.float64, device=self.device)]
        if self.confusion is not None:
            parts.append(self.confusion.to(torch.float64).reshape(-1))
        parts.append(self.topk_correct.to(torch.float64))
        packed = dist.all_reduce_sum(torch.cat(parts))
        if self.top_k:
            self.topk_correct = packed[-len(self.top_k):].round().to(torch.int64)
            packed = packed[:-len(self.top_k)]
        self.loss_sum = packed[0].clone()
        self.correct = packed[1].round().to(torch.int64)
        self.count = round(packed[2].item())
        if self.confusion is not None:
            self.confusion = packed[3:].round().to(torch.int64).reshape(self.num_classes, self.num_classes)

    def compute(self, prefix: str) -> dict[str, Any]:
        """``{prefix}_loss`` and ``{prefix}_acc`` (plus per-class accuracy and the
        confusion matrix when tracked); ``None`` values for an empty pass."""
        if self.count == 0:
            out: dict[str, Any] = {f"{prefix}_loss": None, f"{prefix}_acc": None}
        else:
            loss = self.loss_sum.item() / self.count
            out = {f"{prefix}_loss": loss if math.isfinite(loss) else None}
        if self.confusion is not None:
            confusion = self.confusion.cpu().tolist()
            correct = sum(confusion[i][i] for i in range(self.num_classes))
            if self.count:
                out[f"{prefix}_acc"] = correct / self.count
            out[f"{prefix}_per_class_acc"] = per_class_accuracy(confusion)
            out[f"{prefix}_confusion"] = confusion
            if self.count:
                out.update({f"{prefix}_{k}": v for k, v in class_report(confusion).items()})
                for k, hits in zip(self.top_k, self.topk_correct.cpu().tolist()):
                    out[f"{prefix}_top{k}_acc"] = hits / self.count
        elif self.count:
            out[f"{prefix}_acc"] = self.correct.item() / self.count
        return out

    # -- resume (a checkpoint taken mid-epoch keeps the partial sums) -----------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"loss_sum": self.loss_sum.cpu(), "correct": self.correct.cpu(), "count": self.count}
        if self.confusion is not None:
            state["confusion"] = self.confusion.cpu()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_sum = state["loss_sum"].to(self.device, dtype=self.loss_sum.dtype)
        self.correct = state["correct"].to(self.device, dtype=self.correct.dtype)
        self.count = int(state["count"])
        if self.confusion is not None and "confusion" in state:
            self.confusion = state["confusion"].to(self.device)
