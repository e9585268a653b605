"""The author kit on callbacks: event signatures against the Callback base, and a short fake fit."""

from __future__ import annotations

import pytest

from cnnspec.callbacks import Callback
from cnnspec.engine.events import EVENTS
from cnnspec.plugins.manager import PluginSet
from cnnspec.testing import check_components
from cnnspec.testing.callbacks import event_signature_problems, fake_fit

PLUGIN = '''
from cnnspec import hookimpl
from cnnspec.callbacks import Callback
from cnnspec.component import Component


class Good(Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        pass


class WrongArgs(Callback):
    def on_epoch_end(self, trainer, metrics):  # forgot epoch
        pass


class Misnamed(Callback):
    def on_epoch_ends(self, trainer, epoch, metrics):
        pass


class FailsAtTheEnd(Callback):
    def on_test_end(self, trainer, metrics):
        metrics["no such key"]


@hookimpl
def cnnspec_callbacks():
    return [Component(name, f"cnnspec_t_cbkit:{name}") for name in ("Good", "WrongArgs", "Misnamed", "FailsAtTheEnd")]
'''


def test_check_components_catches_what_a_run_would_hit(tmp_path, monkeypatch):
    (tmp_path / "cnnspec_t_cbkit.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = PluginSet(autoload=False, enabled=["cnnspec_t_cbkit"])
    with pytest.raises(AssertionError) as caught:
        check_components("cnnspec_t_cbkit", plugins=plugins, static=False)
    message = str(caught.value)
    assert message.startswith("3 of 4 checks of plugin 'cnnspec_t_cbkit' failed:")
    assert ("- callback WrongArgs: TypeError: on_epoch_end(trainer, metrics) cannot take the engine's arguments "
            "on_epoch_end(trainer, epoch, metrics)") in message
    assert ("- callback Misnamed: TypeError: on_epoch_ends is not an event, so the engine never calls it; "
            "did you mean on_epoch_end?") in message
    assert "- callback FailsAtTheEnd: CallbackError: callback 'FailsAtTheEnd' failed in on_test_end: KeyError" \
        in message
    assert "callback Good" not in message


class Recorder(Callback):
    """Overrides every event and records the calls."""

    def __init__(self):
        self.calls: list[str] = []


for _event in EVENTS:
    def _record(self, trainer, *args, _event=_event):
        self.calls.append(_event)
    setattr(Recorder, _event, _record)


def test_the_fake_fit_sends_every_event_once_per_run_in_order():
    made: list[Recorder] = []

    def make():
        made.append(Recorder())
        return made[-1]

    assert event_signature_problems(Recorder()) == []
    assert fake_fit(make) == list(EVENTS)
    whole, stopped, failed = made
    assert whole.calls == ["setup", "on_fit_start", "on_epoch_start", *["on_train_batch_end"] * 2,
                           "on_validation_end", "on_epoch_end", "on_train_end", "on_test_end", "on_fit_end",
                           "teardown"]
    assert stopped.calls == ["setup", "on_fit_start", "on_epoch_start", "on_train_batch_end", "on_interrupt",
                             "teardown"]
    assert failed.calls == ["setup", "on_fit_start", "on_epoch_start", "on_train_batch_end", "on_exception",
                            "teardown"]
    assert set(whole.calls) | set(stopped.calls) | set(failed.calls) == set(EVENTS)


def test_a_failure_in_on_exception_is_not_swallowed():
    class Quiet(Callback):
        def on_exception(self, trainer, exc):
            raise ValueError("cleanup failed")

    with pytest.raises(AssertionError, match="callback 'Quiet' failed in on_exception: ValueError: cleanup failed"):
        fake_fit(Quiet)


def test_the_plugin_guide_lists_every_event_with_its_signature_in_order():
    import inspect
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| `(\w+)\(([^)]*)\)` \|", page, flags=re.M)
    assert [name for _, name, _, _ in rows] == list(EVENTS)
    for _, name, call, args in rows:
        expected = [p for p in inspect.signature(getattr(Callback, name)).parameters]
        assert call == name and [a.strip() for a in args.split(",")] == expected
