"""The event dispatcher: its events are the Callback base's hooks, delivered only to callbacks that override them."""

from __future__ import annotations

import pytest

from cnnspec.callbacks import Callback
from cnnspec.engine import CallbackError
from cnnspec.engine.events import EVENTS, Dispatcher


def test_the_events_are_the_hooks_of_the_callback_base_in_contract_order():
    assert EVENTS == ("setup", "on_fit_start", "on_epoch_start", "on_train_batch_end", "on_validation_end",
                      "on_epoch_end", "on_train_end", "on_test_end", "on_fit_end", "on_interrupt", "on_exception",
                      "teardown")


class EpochOnly(Callback):
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def on_epoch_end(self, trainer, epoch, metrics):
        self.seen.append((trainer, epoch, metrics))


class Duck:
    """Not a Callback subclass: takes part with the events it defines."""

    def on_fit_start(self, trainer):
        pass


def test_only_callbacks_that_override_an_event_receive_it():
    listening, silent, duck = EpochOnly(), Callback(), Duck()
    events = Dispatcher([("listening", listening), ("silent", silent), ("duck", duck)])
    assert [label for label, _ in events.listeners("on_epoch_end")] == ["listening"]
    assert [label for label, _ in events.listeners("on_fit_start")] == ["duck"]
    assert events.listeners("on_train_batch_end") == []
    events.dispatch("trainer", "on_epoch_end", 0, {"train_loss": 1.0})
    assert listening.seen == [("trainer", 0, {"train_loss": 1.0})]


class Fails(Callback):
    def on_epoch_start(self, trainer, epoch):
        raise OSError("disk full")

    def teardown(self, trainer):
        raise OSError("still full")


def test_a_failing_callback_is_named_and_quiet_events_reach_everyone():
    after = EpochOnly()
    events = Dispatcher([("fails", Fails()), ("after", after)])
    with pytest.raises(CallbackError, match=r"^callback 'fails' failed in on_epoch_start: OSError: disk full") as info:
        events.dispatch(None, "on_epoch_start", 0)
    assert info.value.label == "fails" and info.value.event == "on_epoch_start"
    with pytest.warns(UserWarning, match="callback 'fails' failed in teardown: OSError: still full"):
        events.dispatch_quietly(None, "teardown")
