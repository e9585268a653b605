"""Weights into a model: the one place a state dict is read from a file and loaded.

Everything that takes weights — ``evaluate``, ``explain``, ``export``,
``train --resume --force`` and a backbone's ``weights:`` file — reads them
with :func:`read_weights` and loads them with :func:`fit_state`. So

* a file is always read through :func:`cnnspec.checkpoint.open_checkpoint`
  (the manifest's hash, the container and pickle checks, then
  ``torch.load(..., weights_only=True)``): a file that would run code when
  unpickled is refused, whichever command was given it;
* the model's state dict is found the same way in every kind of file
  (:func:`state_dict_of`);
* weights that do not fit the model are refused, before anything is loaded,
  with the same message everywhere (:class:`WeightsMismatchError`)::

    the weights in runs/digits/checkpoints/last.pt do not fit the spec's model: 2 missing keys, 1 shape mismatch
      missing (in the model, not in the file): fc3.weight, fc3.bias
      shape mismatch: conv2.weight is [16, 8, 3, 3] in the file, [12, 8, 3, 3] in the model
      Hint: were these weights trained from this spec? `cnnspec diff A B` compares two specs
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnspec.checkpoint import CheckpointError, open_checkpoint
from cnnspec.exceptions import WeightsMismatchError

__all__ = [
    "FIT_HINT",
    "Weights",
    "WeightsMismatchError",
    "check_fit",
    "fit_state",
    "mismatch_message",
    "read_weights",
    "state_dict_of",
]

#: the hint of a mismatch when the caller has no better one
FIT_HINT = "were these weights trained from this spec? `cnnspec diff A B` compares two specs"
#: key names listed per kind of mismatch, and shape mismatches shown, before "... and N more"
SHOWN_KEYS = 4
SHOWN_SHAPES = 3
#: where a state dict may sit in a file: cnnspec checkpoints use ``model``, many training scripts ``state_dict``
STATE_KEYS = ("model", "state_dict")


@dataclass(frozen=True)
class Weights:
    """A model state dict read from a file, with everything the file holds and which file it was."""

    state: dict[str, Any]
    #: the whole loaded file: a checkpoint's ``meta`` and ``spec`` next to the trainer state, or the state itself
    held: dict[str, Any]
    #: the file read (for a run directory: its newest valid checkpoint)
    path: Path

    @property
    def epoch(self) -> Any:
        meta = self.held.get("meta")
        return meta.get("epoch") if isinstance(meta, Mapping) else None

    def describe(self) -> str:
        """``runs/x/checkpoints/epoch0003.pt (epoch 3)``: where the weights came from."""
        from cnnspec.checkpoint import describe_checkpoint

        described = describe_checkpoint(self.path, self.held)
        if described != str(self.path):
            return described
        return str(self.path) + (f" (epoch {self.epoch})" if self.epoch is not None else "")


def read_weights(path: str | Path, *, map_location: Any = "cpu", which: str = "best") -> Weights:
    """The model state dict of a checkpoint file, a run directory (its best checkpoint,
    or its newest valid one with ``which="last"``) or a plain ``torch.save``'d state dict.

    Always through :func:`cnnspec.checkpoint.open_checkpoint`: hash, container
    and pickle checks, then ``weights_only=True`` — a file that would run code
    when unpickled is refused, whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
    says. Raises :class:`~cnnspec.checkpoint.CheckpointError`.
    """
    found, held = open_checkpoint(path, map_location=map_location, which=which)  # type: ignore[arg-type]
    return Weights(state_dict_of(held, found), held, found)


def state_dict_of(held: Mapping[str, Any], source: str | Path) -> dict[str, Any]:
    """The model state dict in what a weights file holds.

    A state dict is a mapping of tensors: the one under ``model`` (a cnnspec
    checkpoint) or ``state_dict`` (many training scripts), also inside a
    ``trainer`` entry, or else the whole file (``torch.save(model.state_dict())``).
    Raises :class:`~cnnspec.checkpoint.CheckpointError` naming ``source``
    when there is none.
    """
    import torch

    def is_state(value: Any) -> bool:
        return isinstance(value, Mapping) and all(isinstance(v, torch.Tensor) for v in value.values())

    for outer in (held.get("trainer"), held):
        if isinstance(outer, Mapping):
            for key in STATE_KEYS:
                if is_state(outer.get(key)):
                    return dict(outer[key])
    if held and is_state(held):
        return dict(held)
    raise CheckpointError(f"{source} holds no model weights: it is neither a state dict nor a checkpoint with "
                          f"one under {' or '.join(repr(k) for k in STATE_KEYS)}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{'es' if noun.endswith('ch') else 's'}"


def _names(keys: Sequence[str]) -> str:
    more = len(keys) - SHOWN_KEYS
    return ", ".join(keys[:SHOWN_KEYS]) + (f" and {more} more" if more > 0 else "")


def mismatch_message(source: str | Path | None, subject: str, missing: Sequence[str], unexpected: Sequence[str],
                     shapes: Sequence[tuple[str, list[int], list[int]]]) -> str:
    """The one wording of weights that do not fit a model: a count of each kind, then which keys."""
    there = "the file" if source is not None else "the weights"
    counts = [_plural(len(missing), "missing key") if missing else "",
              _plural(len(unexpected), "unexpected key") if unexpected else "",
              _plural(len(shapes), "shape mismatch") if shapes else ""]
    what = f"the weights in {source}" if source is not None else "the weights"
    lines = [f"{what} do not fit {subject}: {', '.join(c for c in counts if c)}"]
    if missing:
        lines.append(f"  missing (in the model, not in {there}): {_names(missing)}")
    if unexpected:
        lines.append(f"  unexpected (in {there}, not in the model): {_names(unexpected)}")
    for key, given, own in shapes[:SHOWN_SHAPES]:
        lines.append(f"  shape mismatch: {key} is {given} in {there}, {own} in the model")
    if len(shapes) > SHOWN_SHAPES:
        lines.append(f"  ... and {_plural(len(shapes) - SHOWN_SHAPES, 'more shape mismatch')}")
    return "\n".join(lines)


def _shape(value: Any) -> list[int]:
    return [int(d) for d in getattr(value, "shape", ())]


def check_fit(expected: Mapping[str, Any], given: Mapping[str, Any], *, source: str | Path | None = None,
              subject: str = "the spec's model", hint: str = FIT_HINT,
              keep: Collection[str] | None = None) -> None:
    """Raise :class:`WeightsMismatchError` unless ``given`` has exactly ``expected``'s keys and shapes.

    ``expected`` is the model's state dict (on the ``meta`` device is enough:
    only shapes are compared). ``source`` names the file the weights came
    from, ``subject`` the model (``"the spec's model"``). With ``keep``
    (top-level module names) only keys under those modules count, on both
    sides: the parts of a model that are cut off need no weights.
    """
    def kept(key: str) -> bool:
        return keep is None or key.split(".", 1)[0] in keep

    missing = [k for k in expected if kept(k) and k not in given]
    unexpected = [k for k in given if kept(k) and k not in expected]
    shapes = [(k, _shape(given[k]), _shape(v)) for k, v in expected.items()
              if kept(k) and k in given and _shape(given[k]) != _shape(v)]
    if missing or unexpected or shapes:
        error = WeightsMismatchError(mismatch_message(source, subject, missing, unexpected, shapes), hint=hint)
        error.missing, error.unexpected, error.shapes = missing, unexpected, shapes
        raise error


def fit_state(model: Any, state: Mapping[str, Any], *, source: str | Path | None = None,
              subject: str = "the spec's model", hint: str = FIT_HINT, keep: Collection[str] | None = None) -> None:
    """Load ``state`` into ``model`` if it fits exactly (see :func:`check_fit`); else load nothing and raise.

    With ``keep``, only the keys under those top-level modules are loaded.
    """
    check_fit(model.state_dict(), state, source=source, subject=subject, hint=hint, keep=keep)
    if keep is None:
        model.load_state_dict(state, strict=True)
    else:
        model.load_state_dict({k: v for k, v in state.items() if k.split(".", 1)[0] in keep}, strict=False)
