"""Faults installed inside a training child before it runs the CLI.

A fault is a string ``name:arg:arg...`` so it can cross a fork or an exec
(``RELIABILITY_FAULTS``, a JSON list, for ``python -m reliability.faults
ARGV``). Each one wraps a cnnspec function *in the child process only*; the
product's code is never edited. They deliver real signals and real data:

``poison:VALUE:EPOCH:BATCH``
    multiply one training batch by VALUE (``nan``, ``inf``, ``-inf``) so the loss becomes non-finite;
``signal-in-validation:SIGNUM:EPOCH``
    send SIGNUM to itself after the first validation batch of EPOCH;
``signal-in-save:SIGNUM:NTH``
    send SIGNUM while the NTH checkpoint's bytes are being written;
``signal-in-interrupt-save:SIGNUM``
    send SIGNUM again in the middle of writing the checkpoint the first signal asked for;
``syspath:DIR``
    put DIR first on ``sys.path`` (a plugin distribution) and forget cached plugins.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["ENV", "install", "run_argv"]

ENV = "RELIABILITY_FAULTS"

_state: dict[str, Any] = {"saves": 0, "interrupt_save": False}


def _wrap_loader(hook: Any) -> None:
    """Replace ``DataBundle.loader`` by a generator that lets ``hook(split, epoch, batch, item)`` act."""
    from cnnspec.data.bundle import DataBundle

    original = DataBundle.loader

    def loader(self: Any, split: str, *, epoch: int = 0, start_batch: int = 0) -> Iterator[Any]:
        for i, item in enumerate(original(self, split, epoch=epoch, start_batch=start_batch)):
            yield hook(split, epoch, start_batch + i, item)

    DataBundle.loader = loader  # type: ignore[method-assign]


def _poison(value: str, epoch: str, batch: str) -> None:
    factor = float(value)

    def hook(split: str, e: int, b: int, item: Any) -> Any:
        if split == "train" and (e, b) == (int(epoch), int(batch)):
            inputs, targets = item
            return inputs * factor, targets
        return item

    _wrap_loader(hook)


def _signal_in_validation(signum: str, epoch: str) -> None:
    def hook(split: str, e: int, b: int, item: Any) -> Any:
        if split == "val" and e == int(epoch) and b == 1:
            os.kill(os.getpid(), int(signum))
        return item

    _wrap_loader(hook)


def _wrap_writes(when: Any, signum: int) -> None:
    """Make ``os.write`` deliver ``signum`` halfway through a large write while ``when()`` holds."""
    original = os.write

    def write(fd: int, data: Any) -> int:
        if len(data) > 4096 and when():
            half = len(data) // 2
            written = original(fd, memoryview(data)[:half])
            os.kill(os.getpid(), signum)
            return written
        return original(fd, data)

    os.write = write  # type: ignore[assignment]


def _wrap_save(on_save: Any, key: str) -> None:
    """Call ``on_save(meta)`` as each checkpoint save starts; ``_state[key]`` is cleared when it ends."""
    import cnnspec.checkpoint as checkpoint

    original = checkpoint.save_checkpoint

    def save_checkpoint(*args: Any, **kwargs: Any) -> Any:
        on_save(kwargs.get("meta") or {})
        try:
            return original(*args, **kwargs)
        finally:
            _state[key] = False

    checkpoint.save_checkpoint = save_checkpoint


def _signal_in_save(signum: str, nth: str) -> None:
    def on_save(meta: dict[str, Any]) -> None:
        _state["saves"] += 1
        _state["nth_save"] = _state["saves"] == int(nth)

    def when() -> bool:
        if _state.get("nth_save"):
            _state["nth_save"] = False  # once
            return True
        return False

    _wrap_save(on_save, "nth_save")
    _wrap_writes(when, int(signum))


def _signal_in_interrupt_save(signum: str) -> None:
    def on_save(meta: dict[str, Any]) -> None:
        _state["interrupt_save"] = meta.get("reason") == "interrupt"

    _wrap_save(on_save, "interrupt_save")
    _wrap_writes(lambda: bool(_state.get("interrupt_save")), int(signum))


def _syspath(folder: str) -> None:
    import importlib

    from cnnspec.plugins.manager import reset_plugins

    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    reset_plugins()


_FAULTS = {
    "poison": _poison,
    "signal-in-validation": _signal_in_validation,
    "signal-in-save": _signal_in_save,
    "signal-in-interrupt-save": _signal_in_interrupt_save,
    "syspath": _syspath,
}


def install(fault: str) -> None:
    name, *args = fault.split(":", 1)[0], *fault.split(":")[1:]
    if name == "syspath":
        args = [fault.split(":", 1)[1]]
    _FAULTS[name](*args)


def run_argv(argv: list[str]) -> int:
    """``cnnspec ARGV``, or ``@call module:function ARGS`` (a helper of the suite, e.g. a checkpoint saver)."""
    if argv[:1] == ["@call"]:
        from importlib import import_module

        module, _, attr = argv[1].partition(":")
        return int(getattr(import_module(module), attr)(*argv[2:]) or 0)
    from cnnspec.cli import main

    return main(argv)


def _main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for fault in json.loads(os.environ.get(ENV, "[]")):
        install(fault)
    return run_argv(argv)


if __name__ == "__main__":  # ``python -m reliability.faults ARGV``: the CLI with faults, in a fresh interpreter
    sys.exit(_main(sys.argv[1:]))
