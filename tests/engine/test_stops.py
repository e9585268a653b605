"""Stopping early and continuing: non-finite loss, request_stop, the resume seam."""

from __future__ import annotations

import io
import json

import torch

from cnnspec.callbacks import Callback
from cnnspec.engine import train
from tests.engine.standin import random_bundle
from tests.engine.test_trainer import Recorder

SCHEDULED = ["train.scheduler={steplr: {step_size: 1, gamma: 0.5}}", "train.epochs=3"]


class Poisoned:
    """The stand-in data with a NaN in one training batch."""

    def __init__(self, inner, epoch: int, batch: int):
        self.inner, self.at = inner, (epoch, batch)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def loader(self, split, *, epoch=0, start_batch=0):
        for b, (x, y) in enumerate(self.inner.loader(split, epoch=epoch, start_batch=start_batch), start=start_batch):
            if split == "train" and (epoch, b) == self.at:
                x = x.clone()
                x[0, 0, 0, 0] = float("nan")
            yield x, y


class Snapshots(Callback):
    def __init__(self):
        self.weights = {}

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        self.weights[trainer.global_step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_non_finite_loss_stops_within_the_step_without_applying_it(tiny_spec, runs):
    rec, snaps = Recorder(), Snapshots()
    result = train(tiny_spec, data=Poisoned(random_bundle(), 1, 2), runs_root=runs, callbacks=[rec, snaps])
    assert result.status == "diverged"
    assert "non-finite loss (nan) at epoch 2, batch 3" in result.stop_reason
    assert result.trainer.global_step == 7  # 5 steps in epoch 1, 2 in epoch 2
    after_last_good = snaps.weights[7]
    assert all(torch.equal(v, after_last_good[k]) for k, v in result.model.state_dict().items())
    names = [e[0] for e in rec.events]
    assert ("on_interrupt", result.stop_reason) in rec.events
    assert names[-2:] == ["on_interrupt", "teardown"] and "on_test_end" not in names
    final = json.loads((result.run_dir / "final.json").read_text())
    assert final["status"] == "diverged" and final["epochs"] == 1


class StopAt(Callback):
    """Requests a stop at a step and keeps the state a checkpoint callback would save."""

    def __init__(self, step: int):
        self.step, self.state = step, None

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        if trainer.global_step == self.step:
            trainer.request_stop("test stop")

    def on_interrupt(self, trainer, reason):
        buffer = io.BytesIO()  # through a real weights-only round trip
        torch.save(trainer.state_dict(), buffer)
        buffer.seek(0)
        self.state = torch.load(buffer, weights_only=True)


def _resumed_equals_uninterrupted(tiny_spec, runs, stop_step: int):
    whole = train(tiny_spec, overrides=SCHEDULED, data=random_bundle(), runs_root=runs)
    stopper = StopAt(stop_step)
    part = train(tiny_spec, overrides=SCHEDULED, data=random_bundle(), runs_root=runs, callbacks=[stopper])
    assert part.status == "interrupted" and part.stop_reason == "test stop"
    assert stopper.state["global_step"] == stop_step
    rest = train(tiny_spec, overrides=SCHEDULED, data=random_bundle(), run_dir=part.run_dir,
                 resume_state=stopper.state)
    assert rest.status == "completed"
    a, b = whole.model.state_dict(), rest.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), f"weights differ after resuming at step {stop_step}"
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]  # noqa: E731
    assert strip(rest.history) == strip(whole.history)
    lines = [json.loads(x) for x in (rest.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert strip(lines) == strip(whole.history)
    assert rest.metrics["test_acc"] == whole.metrics["test_acc"]


def test_resume_mid_epoch_is_bit_identical(tiny_spec, runs):
    _resumed_equals_uninterrupted(tiny_spec, runs, stop_step=7)


def test_resume_at_an_epoch_boundary_is_bit_identical(tiny_spec, runs):
    _resumed_equals_uninterrupted(tiny_spec, runs, stop_step=10)
