"""Metrics against a hand computation with torch and scikit-learn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, confusion_matrix

from cnnspec.callbacks import Callback
from cnnspec.engine import train
from cnnspec.engine.metrics import ClassificationMeter, per_class_accuracy
from tests.engine.standin import random_bundle


class BatchLog(Callback):
    """Per-batch loss, size and correct count, as a hand-written loop would sum them."""

    def __init__(self):
        self.rows: dict[int, list[tuple[float, int, int]]] = {}

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        correct = int((outputs.argmax(1) == targets).sum())
        self.rows.setdefault(trainer.epoch, []).append((loss, len(targets), correct))


def test_epoch_metrics_equal_the_hand_sums(tiny_spec, runs):
    log = BatchLog()
    result = train(tiny_spec, data=random_bundle(), runs_root=runs, callbacks=[log])
    for epoch, metrics in enumerate(result.history):
        rows = log.rows[epoch]
        n = sum(r[1] for r in rows)
        assert metrics["train_loss"] == pytest.approx(sum(r[0] * r[1] for r in rows) / n, rel=1e-6)
        assert metrics["train_acc"] == sum(r[2] for r in rows) / n
        assert metrics["epoch"] == epoch + 1
        assert metrics["step"] == 5 * (epoch + 1)


def test_test_metrics_equal_torch_and_sklearn(tiny_spec, runs):
    data = random_bundle(sizes=(40, 20, 37))
    result = train(tiny_spec, data=data, runs_root=runs)
    model = result.model.eval()
    x, y = data.splits["test"]
    with torch.no_grad():
        out = model(x)
    preds = out.argmax(1)
    m = result.metrics
    assert m["test_loss"] == pytest.approx(F.cross_entropy(out, y).item(), rel=1e-5)
    assert m["test_acc"] == pytest.approx(accuracy_score(y.numpy(), preds.numpy()))
    expected = confusion_matrix(y.numpy(), preds.numpy(), labels=list(range(3)))
    assert m["test_confusion"] == expected.tolist()
    recall = [row[i] / row.sum() if row.sum() else None for i, row in enumerate(expected)]
    assert m["test_per_class_acc"] == pytest.approx(recall)
    assert m["classes"] == ["c0", "c1", "c2"]


def test_meter_handles_an_absent_class_and_empty_passes():
    meter = ClassificationMeter(3, torch.device("cpu"), confusion=True)
    assert meter.compute("val") == {"val_loss": None, "val_acc": None, "val_per_class_acc": [None] * 3,
                                    "val_confusion": [[0] * 3] * 3}
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [5.0, 0, 0]])
    meter.update(torch.tensor(0.5), logits, torch.tensor([0, 1, 1]))
    out = meter.compute("val")
    assert out["val_confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert out["val_per_class_acc"] == [1.0, 0.5, None]
    assert out["val_acc"] == pytest.approx(2 / 3)
    assert out["val_loss"] == pytest.approx(0.5)
    assert per_class_accuracy([[0, 0], [2, 2]]) == [None, 0.5]


def test_meter_state_round_trips():
    a = ClassificationMeter(2, torch.device("cpu"))
    a.update(torch.tensor(1.25), torch.tensor([[1.0, 0], [0, 1.0]]), torch.tensor([0, 0]))
    b = ClassificationMeter(2, torch.device("cpu"))
    b.load_state_dict(a.state_dict())
    assert b.compute("train") == a.compute("train") == {"train_loss": 1.25, "train_acc": 0.5}


def _sklearn_report(y, preds, classes):
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(classes))
    per = precision_recall_fscore_support(y, preds, labels=labels, zero_division=0)
    out = dict(zip(("precision", "recall", "f1", "support"), (list(v) for v in per)))
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y, preds, labels=labels, average=avg, zero_division=0)
        out.update({f"{avg}_precision": p, f"{avg}_recall": r, f"{avg}_f1": f})
    return out


def test_per_class_and_top_k_metrics_equal_sklearn():
    from sklearn.metrics import top_k_accuracy_score

    g = torch.Generator().manual_seed(0)
    classes = 12
    targets = torch.randint(0, classes - 1, (300,), generator=g)  # class 11 never occurs
    outputs = torch.randn(300, classes, generator=g)
    outputs[:, 10] -= 10  # class 10 is never predicted
    outputs[torch.arange(300), targets] += 1.0  # better than chance
    meter = ClassificationMeter(classes, torch.device("cpu"), confusion=True)
    for i in range(0, 300, 64):
        meter.update(torch.tensor(0.0), outputs[i:i + 64], targets[i:i + 64])
    m = meter.compute("test")
    expected = _sklearn_report(targets.numpy(), outputs.argmax(1).numpy(), classes)
    for key, value in expected.items():
        assert m[f"test_{key}"] == pytest.approx(value), key
    assert m["test_top5_acc"] == pytest.approx(
        top_k_accuracy_score(targets.numpy(), outputs.numpy(), k=5, labels=list(range(classes))))
    # no top-k where k is not smaller than the number of classes
    assert "test_top5_acc" not in ClassificationMeter(5, torch.device("cpu"), confusion=True).compute("test")


def test_final_json_and_evaluate_hold_them(tiny_spec, runs):
    import json

    from cnnspec.engine import evaluate

    spec = tiny_spec.replace("out_features: 3", "out_features: 7")
    data = random_bundle(classes=7, sizes=(70, 35, 70))
    result = train(spec, data=data, runs_root=runs)
    final = json.loads((result.run_dir / "final.json").read_text())
    x, y = data.splits["test"]
    with torch.no_grad():
        out = result.model.eval()(x)
    expected = _sklearn_report(y.numpy(), out.argmax(1).numpy(), 7)
    for key, value in expected.items():
        assert final[f"test_{key}"] == pytest.approx(value), key
    from sklearn.metrics import top_k_accuracy_score

    assert final["test_top5_acc"] == pytest.approx(top_k_accuracy_score(y.numpy(), out.numpy(), k=5,
                                                                        labels=list(range(7))))
    again = evaluate(spec, result.run_dir, data=random_bundle(classes=7, sizes=(70, 35, 70)), device="cpu")
    keys = [k for k in final if k.startswith("test_") and k != "test_weights"]
    assert len(keys) > 12
    for key in keys:
        assert again[key] == (final[key] if key == "test_confusion" else pytest.approx(final[key])), key
