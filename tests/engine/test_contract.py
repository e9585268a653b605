"""What callbacks rely on: the trainer satisfies TrainerView, hooks are typed with it, names stay importable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cnnspec.callbacks
from cnnspec.callbacks import Callback, TrainerView
from cnnspec.engine import Trainer
from cnnspec.engine.events import EVENTS
from cnnspec.spec import load_spec
from tests.engine.conftest import TINY
from tests.engine.standin import random_bundle


def _members(protocol: type) -> set[str]:
    names = set(protocol.__annotations__)
    names |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    return names


def test_the_trainer_has_every_member_of_the_view_callbacks_see(tmp_path):
    members = _members(TrainerView)
    assert {"spec", "model", "run_dir", "global_step", "history", "should_stop", "request_stop"} <= members
    trainer = Trainer(load_spec(TINY), run_dir=tmp_path / "run", data=random_bundle(), device="cpu")
    missing = sorted(m for m in members if not hasattr(trainer, m))
    assert not missing, f"TrainerView promises what Trainer lacks: {missing}"
    for name in ("request_stop", "state_dict"):
        assert callable(getattr(trainer, name))


def _callback_classes() -> list[type]:
    found = {Callback}
    for info in pkgutil.iter_modules(cnnspec.callbacks.__path__, "cnnspec.callbacks."):
        module = importlib.import_module(info.name)
        found |= {c for c in vars(module).values()
                  if isinstance(c, type) and issubclass(c, Callback) and c.__module__ == module.__name__}
    return sorted(found, key=lambda c: c.__qualname__)


@pytest.mark.parametrize("cls", _callback_classes(), ids=lambda c: c.__qualname__)
def test_built_in_hooks_take_a_trainer_view(cls):
    for event in EVENTS:
        if event not in vars(cls):
            continue
        parameters = list(inspect.signature(vars(cls)[event]).parameters.values())
        assert parameters[1].name == "trainer", (cls, event)
        assert parameters[1].annotation == "TrainerView", (cls, event, parameters[1].annotation)


def test_engine_names_stay_importable_from_the_trainer_module():
    import cnnspec.engine as engine
    import cnnspec.engine.trainer as trainer

    for name in ("Trainer", "CallbackError", "DataWorkerError", "STATE_FORMAT"):
        assert getattr(trainer, name) is getattr(engine, name), name
