"""Checking a callback the way a run will use it: its event signatures, then a short fit.

A callback whose ``on_epoch_end`` forgot an argument, or whose method is
called ``on_epoch_ends``, builds fine and round-trips its state; it fails an
hour into training, or is silently never called. :func:`check_callback`
catches both before that:

* every event method a callback overrides must accept the arguments the
  engine passes (the signature of the same method on
  :class:`~cnnspec.callbacks.Callback`), and a public ``on_*`` method that is
  not an event is reported with the event it most resembles;
* a short fake fit — a two-layer model, a few random images, one epoch of
  two batches — sends it every event once, in the engine's order
  (:func:`cnnspec.engine.trainer.Trainer`), and then ``on_interrupt`` and
  ``on_exception`` as a stopped or failed run would.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["FAKE_SPEC", "TinyData", "check_callback", "event_signature_problems", "fake_fit"]

#: the model of the fake fit: small enough to train in a fraction of a second
FAKE_SPEC = """
name: callback-check
input: [1, 8, 8]
seed: 0
model:
  - conv2d: {out_channels: 2, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - linear: {out_features: 3}
train: {epochs: 1, optimizer: {sgd: {lr: 0.01}}, progress: false, checkpoint: false}
"""


def event_signature_problems(callback: Any) -> list[str]:
    """What is wrong with the event methods of ``callback`` (empty when nothing is)."""
    from cnnspec.callbacks.base import Callback
    from cnnspec.engine.events import EVENTS
    from cnnspec.names import suggest

    problems = []
    for event in EVENTS:
        impl = getattr(type(callback), event, None)
        base = getattr(Callback, event)
        if impl is None or impl is base:
            continue
        wanted = inspect.signature(base)
        passed = [p.name for p in wanted.parameters.values() if p.name != "self"]
        try:
            got = inspect.signature(getattr(callback, event))
        except (TypeError, ValueError):  # a builtin or C callable: nothing to compare
            continue
        try:
            got.bind(*passed)
        except TypeError as exc:
            problems.append(f"{event}{got} cannot take the engine's arguments "
                            f"{event}({', '.join(passed)}): {exc}")
    for name in dir(type(callback)):
        if name.startswith("on_") and name not in EVENTS and callable(getattr(callback, name, None)):
            close = suggest(name, EVENTS)
            problems.append(f"{name} is not an event, so the engine never calls it"
                            + (f"; did you mean {close[0]}?" if close else ""))
    return problems


class TinyData:
    """Random 1x8x8 images of 3 classes in train / val / test, with the data layer's protocol."""

    def __init__(self, batch_size: int = 4) -> None:
        import torch

        g = torch.Generator().manual_seed(0)
        self.splits = {name: (torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g))
                       for name, n in (("train", 8), ("val", 4), ("test", 4))}
        self.classes = ["a", "b", "c"]
        self.num_classes = 3
        self.sample_shape = (1, 8, 8)
        self.batch_size = batch_size

    def has(self, split: str) -> bool:
        return split in self.splits

    def size(self, split: str) -> int:
        return int(self.splits[split][0].shape[0])

    def num_batches(self, split: str) -> int:
        return -(-self.size(split) // self.batch_size)

    def loader(self, split: str, *, epoch: int = 0, start_batch: int = 0) -> Iterator[tuple[Any, Any]]:
        x, y = self.splits[split]
        for b in range(start_batch, self.num_batches(split)):
            yield x[b * self.batch_size:(b + 1) * self.batch_size], y[b * self.batch_size:(b + 1) * self.batch_size]

    def sample_batch(self, split: str, n: int) -> tuple[Any, Any]:
        x, y = self.splits[split]
        return x[:n], y[:n]

    def unnormalize(self, x: Any) -> Any:
        return x


class _Stop:
    """Ends the fake fit at its first step, as a signal or a failure would."""

    def __init__(self, how: str) -> None:
        self.how = how

    def on_train_batch_end(self, trainer: Any, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if self.how == "interrupt":
            trainer.request_stop("a fake stop from the author kit")
        else:
            raise RuntimeError("a fake failure from the author kit")


def fake_fit(make: Callable[[], Any], run_dir: str | Path | None = None) -> list[str]:
    """Send every event to callbacks built by ``make`` through real, tiny runs: a whole fit, one stopped
    by a signal (``on_interrupt``) and one that fails (``on_exception``). Returns the events the callback
    overrides, in the engine's order.

    Raises :class:`~cnnspec.exceptions.CallbackError` naming the event that failed, or
    ``AssertionError`` for a failure in ``on_exception``/``teardown`` (which the engine only warns about).
    """
    import contextlib
    import io
    import warnings

    from cnnspec.engine import train
    from cnnspec.engine.errors import CallbackError
    from cnnspec.engine.events import EVENTS, Dispatcher

    callback = make()
    label = type(callback).__name__
    with tempfile.TemporaryDirectory(prefix="cnnspec-fake-fit-") as tmp, warnings.catch_warnings(record=True) as seen, \
            contextlib.redirect_stderr(io.StringIO()):  # the runs' notices are not the author's business
        warnings.simplefilter("always")
        root = Path(run_dir) if run_dir is not None else Path(tmp)
        options = {"data": TinyData(), "device": "cpu", "handle_signals": False, "argv": ["cnnspec", "(fake fit)"]}
        train(FAKE_SPEC, run_dir=root / "fit", callbacks=[callback], **options)
        train(FAKE_SPEC, run_dir=root / "stopped", callbacks=[make(), _Stop("interrupt")], **options)
        try:
            train(FAKE_SPEC, run_dir=root / "failed", callbacks=[make(), _Stop("fail")], **options)
        except CallbackError as exc:
            if exc.label != "_Stop":
                raise
        quiet = [str(w.message) for w in seen if f"callback '{label}' failed in " in str(w.message)]
        if quiet:
            raise AssertionError("; ".join(quiet))
    return [e for e in EVENTS if Dispatcher([(label, callback)]).listeners(e)]


def check_callback(make: Callable[[], Any]) -> str:
    """Signatures, state round-trip and the fake fit of the callbacks ``make`` builds;
    raises ``TypeError`` or the fit's error."""
    from cnnspec.callbacks.base import Callback

    callback = make()
    if not isinstance(callback, Callback):
        raise TypeError(f"returned {type(callback).__name__}, not a cnnspec.callbacks.Callback")
    problems = event_signature_problems(callback)
    if problems:
        raise TypeError("; ".join(problems))
    state = callback.state_dict()
    if not isinstance(state, dict):
        raise TypeError(f"state_dict() returned {type(state).__name__}, not a dict")
    callback.load_state_dict(state)
    events = fake_fit(make)
    return f"state round-trips; a short fit sent its {len(events)} event(s) ({', '.join(events) or 'none'})"
