"""The loop itself: reproducibility, event order, failures in callbacks."""

from __future__ import annotations

import pytest
import torch

from cnnspec.callbacks import Callback
from cnnspec.engine import CallbackError, train
from cnnspec.exceptions import CnnspecError, SpecError
from tests.engine.standin import random_bundle


class Recorder(Callback):
    """Records every event with its epoch/batch argument."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def setup(self, trainer):
        self.events.append(("setup",))

    def on_fit_start(self, trainer):
        self.events.append(("on_fit_start",))

    def on_epoch_start(self, trainer, epoch):
        self.events.append(("on_epoch_start", epoch))

    def on_train_batch_end(self, trainer, batch, loss, inputs, targets, outputs):
        self.events.append(("on_train_batch_end", batch, trainer.global_step))

    def on_validation_end(self, trainer, epoch, metrics):
        self.events.append(("on_validation_end", epoch, sorted(metrics)))

    def on_epoch_end(self, trainer, epoch, metrics):
        self.events.append(("on_epoch_end", epoch))

    def on_test_end(self, trainer, metrics):
        self.events.append(("on_test_end",))

    def on_fit_end(self, trainer, metrics):
        self.events.append(("on_fit_end",))

    def on_interrupt(self, trainer, reason):
        self.events.append(("on_interrupt", reason))

    def on_exception(self, trainer, exc):
        self.events.append(("on_exception", type(exc).__name__))

    def teardown(self, trainer):
        self.events.append(("teardown",))


def _weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_same_spec_and_seed_give_identical_weights(tiny_spec, runs):
    a = train(tiny_spec, data=random_bundle(), runs_root=runs)
    b = train(tiny_spec, data=random_bundle(), runs_root=runs)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.history == [{**h, "time": a.history[i]["time"]} for i, h in enumerate(b.history)]
    c = train(tiny_spec, overrides=["seed=4"], data=random_bundle(), runs_root=runs)
    assert not all(torch.equal(wa[k], c.model.state_dict()[k]) for k in wa)


def test_events_arrive_in_contract_order(tiny_spec, runs):
    rec = Recorder()
    data = random_bundle()  # 40 train samples, batch 8 -> 5 steps per epoch
    result = train(tiny_spec, data=data, runs_root=runs, callbacks=[rec])
    expected = [("setup",), ("on_fit_start",)]
    step = 0
    for epoch in range(2):
        expected.append(("on_epoch_start", epoch))
        for batch in range(5):
            step += 1
            expected.append(("on_train_batch_end", batch, step))
        expected.append(("on_validation_end", epoch, ["val_acc", "val_loss"]))
        expected.append(("on_epoch_end", epoch))
    expected += [("on_test_end",), ("on_fit_end",), ("teardown",)]
    assert rec.events == expected
    assert result.status == "completed" and result.stop_reason is None


class Boom(Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        raise ValueError("disk on fire")


def test_a_failing_callback_stops_training_and_is_named(tiny_spec, runs):
    rec = Recorder()
    with pytest.raises(CallbackError, match=r"^callback 'Boom' failed in on_epoch_end: ValueError: disk on fire"):
        train(tiny_spec, data=random_bundle(), runs_root=runs, callbacks=[Boom(), rec])
    names = [e[0] for e in rec.events]
    assert names[-2:] == ["on_exception", "teardown"]
    assert "on_fit_end" not in names and names.count("on_epoch_end") == 0


class StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch + 1 >= self.epochs:
            trainer.should_stop = True


def test_should_stop_ends_after_the_epoch_and_still_tests(tiny_spec, runs):
    rec = Recorder()
    result = train(tiny_spec, overrides=["train.epochs=5"], data=random_bundle(), runs_root=runs,
                   callbacks=[StopAfter(2), rec])
    assert result.status == "stopped" and "after epoch 2" in result.stop_reason
    assert len(result.history) == 2
    assert [e[0] for e in rec.events][-3:] == ["on_test_end", "on_fit_end", "teardown"]
    assert "test_acc" in result.metrics


class BadSpecInSetup(Callback):
    def setup(self, trainer):
        raise trainer.spec.document.error("callbacks: no metric 'val_accuracy'", ("callbacks",))


def test_a_spec_error_from_a_callback_passes_unwrapped(tiny_spec, runs):
    rec = Recorder()
    with pytest.raises(SpecError, match="no metric 'val_accuracy'") as info:
        train(tiny_spec, data=random_bundle(), runs_root=runs, callbacks=[BadSpecInSetup(), rec])
    assert not isinstance(info.value, CallbackError)
    assert [e[0] for e in rec.events] == ["on_exception", "teardown"]


class AlreadyStopped(Callback):
    def on_fit_start(self, trainer):
        trainer.should_stop, trainer.stop_reason = True, "decided before the resume"


def test_should_stop_set_before_the_first_epoch_trains_nothing(tiny_spec, runs):
    rec = Recorder()
    result = train(tiny_spec, data=random_bundle(), runs_root=runs, callbacks=[AlreadyStopped(), rec])
    assert result.status == "stopped" and result.stop_reason == "decided before the resume"
    assert result.history == [] and result.trainer.global_step == 0
    assert [e[0] for e in rec.events] == ["setup", "on_fit_start", "on_test_end", "on_fit_end", "teardown"]


def test_two_spec_callbacks_with_one_state_key_are_a_located_spec_error(tiny_spec, runs):
    spec = tiny_spec + "callbacks: [earlystopping, {earlystopping: {patience: 3}}]\n"
    with pytest.raises(SpecError) as info:
        train(spec, data=random_bundle(), runs_root=runs)
    error = info.value
    assert "callbacks[1]: two callbacks keep their resumable state under one state_key, 'earlystopping'" in str(error)
    assert "callbacks[0] (earlystopping) and callbacks[1] (earlystopping)" in str(error)
    line = spec.splitlines()[-1]
    assert error.path == "callbacks[1]" and error.location is not None
    assert (error.location.line, error.location.column) == (len(spec.splitlines()), line.index("{earlystopping") + 1)


class Keyed(Callback):
    state_key = "shared"


class AlsoKeyed(Callback):
    @property
    def state_key(self) -> str:
        return "shared"


def test_python_callbacks_with_one_state_key_are_refused_naming_both(tiny_spec, runs):
    with pytest.raises(CnnspecError, match=r"one state_key, 'shared': 'Keyed' and 'AlsoKeyed'") as info:
        train(tiny_spec, data=random_bundle(), runs_root=runs, callbacks=[Keyed(), Recorder(), AlsoKeyed()])
    assert not isinstance(info.value, SpecError)


def test_a_python_callback_sharing_a_spec_callbacks_key_names_where_each_came_from(tiny_spec, runs):
    spec = tiny_spec + "callbacks: [earlystopping]\n"

    class Impostor(Callback):
        state_key = "earlystopping"

    with pytest.raises(CnnspecError, match=r"'earlystopping': callbacks\[0\] \(earlystopping\) and 'Impostor'") as info:
        train(spec, data=random_bundle(), runs_root=runs, callbacks=[Impostor()])
    assert not isinstance(info.value, SpecError)
