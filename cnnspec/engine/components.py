"""Turning the spec's ``train:`` and ``callbacks:`` references into objects.

Every mistake is reported where it was written: a misspelled argument is
checked against the real torch signature (with a suggestion), and an error
raised by torch's own constructor (``lr=-1``, ``Muon`` on 4-D weights...) is
re-raised as a located :class:`~cnnspec.exceptions.SpecError` quoting torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnspec.component import Component, check_signature
from cnnspec.exceptions import SpecError
from cnnspec.load.reader import PathKey, format_path
from cnnspec.plugins.registry import Entry
from cnnspec.spec.components import resolve_ref

__all__ = [
    "LossFn",
    "SchedulerInfo",
    "build_callbacks",
    "build_loss",
    "build_optimizer",
    "build_scheduler",
    "call_component",
    "lists_checkpoint",
    "wants_default_checkpoint",
]


def _load(spec: Any, entry: Entry[Component], path: PathKey) -> Callable[..., Any]:
    try:
        return entry.obj.load()
    except (ImportError, AttributeError) as exc:
        raise spec.document.error(
            f"{format_path(path)}: {entry.name} is not available here ({type(exc).__name__}: {exc})", path,
            hint=f"it comes from {entry.provider}; a newer torch or the plugin's dependencies may be needed",
        ) from None


def call_component(spec: Any, kind: str, ref: Any, path: PathKey, *leading: Any,
                   extra: dict[str, Any] | None = None) -> tuple[Any, Entry[Component], dict[str, Any]]:
    """Build ``factory(*leading, **args)`` for the reference at ``path``.

    Returns the object, its registry entry and the spec arguments.
    """
    entry, args, args_path = resolve_ref(kind, ref, path, spec.document, spec.plugins)
    factory = _load(spec, entry, args_path)
    args = {**args, **(extra or {})}
    if entry.obj.params is None:
        problem = check_signature(factory, args, skip=len(leading))
        if problem:
            key = _mentioned_key(problem, args)
            raise spec.document.error(
                f"{format_path(path)} {entry.name}: {problem}",
                (*args_path, key) if key else args_path, key=key is not None,
                hint=f"the arguments are those of {_qualname(factory)}")
    else:
        args = entry.obj.params.model_validate(args).model_dump(exclude_unset=True)
    try:
        obj = factory(*leading, **args)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise spec.document.error(f"{format_path(path)} {entry.name}: {exc}", args_path,
                                  hint=f"the arguments are those of {_qualname(factory)}") from None
    return obj, entry, args


def _mentioned_key(problem: str, args: dict[str, Any]) -> str | None:
    for key in args:
        if f"'{key}'" in problem:
            return key
    return None


def _qualname(factory: Any) -> str:
    module = getattr(factory, "__module__", "") or ""
    name = getattr(factory, "__qualname__", repr(factory))
    if module.startswith("torch.optim.lr_scheduler"):
        module = "torch.optim.lr_scheduler"
    elif module.startswith("torch.optim"):
        module = "torch.optim"
    elif module.startswith("torch.nn"):
        module = "torch.nn"
    return f"{module}.{name}" if module else name


# -- losses --------------------------------------------------------------------------


@dataclass
class LossFn:
    """A loss module plus how the dataset's class indices become its targets."""

    module: Any
    name: str
    target: str  # "index" or "onehot"
    num_classes: int

    def __call__(self, outputs: Any, targets: Any) -> Any:
        if self.target == "onehot":
            import torch.nn.functional as F

            targets = F.one_hot(targets, self.num_classes).to(outputs.dtype)
        return self.module(outputs, targets)

    def to(self, device: Any) -> LossFn:
        self.module = self.module.to(device)
        return self


def build_loss(spec: Any, num_classes: int) -> LossFn:
    ref = spec.train.loss if spec.train else "crossentropyloss"
    module, entry, args = call_component(spec, "loss", ref, ("train", "loss"))
    loss = LossFn(module, entry.name, str(entry.obj.meta.get("target", "index")), num_classes)
    _try_loss(spec, loss, args)
    return loss


def _try_loss(spec: Any, loss: LossFn, args: dict[str, Any]) -> None:
    """Call the loss once on a tiny batch: torch checks some arguments (``reduction``,
    ``label_smoothing``) only in forward, and that must be a spec error, not a crash
    in the first step."""
    import torch

    outputs = torch.full((2, max(loss.num_classes, 1)), 0.5)
    targets = torch.zeros(2, dtype=torch.long)
    try:
        loss(outputs, targets)
    except (ValueError, RuntimeError, TypeError, IndexError) as exc:
        ref = spec.train.loss if spec.train else "crossentropyloss"
        path = ("train", "loss") if isinstance(ref, str) else ("train", "loss", next(iter(ref)))
        shown = ", ".join(f"{k}: {v!r}" for k, v in args.items()) or "no arguments"
        raise spec.document.error(
            f"train.loss: {loss.name} rejects its arguments ({shown}): {str(exc).splitlines()[0]}", path,
            hint="see torch.nn." + loss.name + " for the accepted values") from None


# -- optimizers ----------------------------------------------------------------------


def build_optimizer(spec: Any, model: Any) -> tuple[Any, Entry[Component]]:
    ref = spec.train.optimizer if spec.train else "adam"
    entry, _, args_path = resolve_ref("optimizer", ref, ("train", "optimizer"), spec.document, spec.plugins)
    unsupported = entry.obj.meta.get("unsupported")
    if unsupported:
        raise spec.document.error(f"train.optimizer: {unsupported}", args_path,
                                  hint="use adam, adamw or sgd for convolutional networks")
    optimizer, entry, _ = call_component(spec, "optimizer", ref, ("train", "optimizer"), model.parameters())
    return optimizer, entry


# -- schedulers ----------------------------------------------------------------------


@dataclass
class SchedulerInfo:
    """A built scheduler and how the engine drives it."""

    scheduler: Any
    name: str
    interval: str  # "epoch" or "step"
    monitor: str | None  # the metric fed to step() (ReduceLROnPlateau)


def build_scheduler(spec: Any, optimizer: Any, *, epochs: int, steps_per_epoch: int) -> SchedulerInfo | None:
    ref = spec.train.scheduler if spec.train else None
    if ref is None:
        return None
    return _build_scheduler(spec, ref, ("train", "scheduler"), optimizer, epochs, steps_per_epoch)


def _build_scheduler(spec: Any, ref: Any, path: PathKey, optimizer: Any, epochs: int,
                     steps_per_epoch: int) -> SchedulerInfo:
    entry, args, args_path = resolve_ref("scheduler", ref, path, spec.document, spec.plugins)
    meta = entry.obj.meta
    extra: dict[str, Any] = {}
    nested_key = meta.get("nested")
    if nested_key:
        refs = args.get(nested_key)
        if not isinstance(refs, list) or not refs:
            raise spec.document.error(
                f"{format_path(path)} {entry.name}: '{nested_key}' must be a non-empty list of schedulers",
                (*args_path, nested_key), hint=f"e.g. {nested_key}: [{{linearlr: {{start_factor: 0.1, "
                                               "total_iters: 2}}, {cosineannealinglr: {T_max: 8}}]")
        inner = []
        for i, sub in enumerate(refs):
            info = _build_scheduler(spec, sub, (*args_path, nested_key, i), optimizer, epochs, steps_per_epoch)
            if info.interval != "epoch" or info.monitor:
                raise spec.document.error(
                    f"{format_path((*args_path, nested_key, i))}: {info.name} cannot be nested in {entry.name}",
                    (*args_path, nested_key, i), hint="nest schedulers that are stepped per epoch without a metric")
            inner.append(info.scheduler)
        extra[nested_key] = inner
    if meta.get("fill_total_steps") and not ({"total_steps", "epochs", "steps_per_epoch"} & set(args)):
        extra["total_steps"] = max(1, epochs * steps_per_epoch)
    fill = meta.get("fill_epochs")
    if fill and fill not in args and len(path) == 2:  # the top-level scheduler plans the whole run
        extra[fill] = epochs
    scheduler, entry, _ = call_component(spec, "scheduler", ref, path, optimizer, extra=extra)
    return SchedulerInfo(scheduler, entry.name, str(meta.get("interval", "epoch")), meta.get("monitor"))


# -- callbacks -----------------------------------------------------------------------


def build_callbacks(spec: Any, *, default_progress: dict[str, Any] | None = None) -> list[tuple[str, Any]]:
    """``(label, callback)`` for each entry of ``callbacks:``, then the default
    checkpoint callback (:func:`wants_default_checkpoint`), then the default
    progress callback unless the spec lists it, ``train.progress`` is false or
    the ``progress`` plugin is disabled."""
    out: list[tuple[str, Any]] = []
    names: set[str] = set()
    for i, ref in enumerate(spec.config.callbacks):
        callback, entry, _ = call_component(spec, "callback", ref, ("callbacks", i))
        out.append((entry.name, callback))
        names.add(entry.name.lower())
    if wants_default_checkpoint(spec) and "checkpoint" not in names:
        out.append(("checkpoint", spec.plugins.registry("callback").entry("checkpoint").obj.load()()))
    wants_progress = spec.train.progress if spec.train else True
    if wants_progress and "progress" not in names and "progress" in spec.plugins.registry("callback"):
        entry = spec.plugins.registry("callback").entry("progress")
        try:
            callback = entry.obj.load()(**(default_progress or {}))
        except Exception as exc:  # a broken third-party "progress" must not stop training
            raise SpecError(f"the progress callback from {entry.provider} could not be created: {exc}",
                            hint="disable it with train: {progress: false} or -p no:progress") from None
        out.append(("progress", callback))
    return out


def wants_default_checkpoint(spec: Any) -> bool:
    """A run keeps ``last.pt`` unless the spec opts out with ``train: {checkpoint: false}``: a spec
    without ``checkpoint`` in ``callbacks:`` still gets one, with its defaults, so no run ends with
    nothing to resume, evaluate or export."""
    if spec.train is not None and not spec.train.checkpoint:
        return False
    return "checkpoint" in spec.plugins.registry("callback") and not lists_checkpoint(spec)


def lists_checkpoint(spec: Any) -> bool:
    """Whether ``callbacks:`` names the ``checkpoint`` callback."""
    from cnnspec.component import split_ref

    for ref in spec.config.callbacks:
        try:
            name, _ = split_ref(ref)
        except (ValueError, AttributeError):
            continue
        if name.rpartition(":")[2].lower() == "checkpoint":
            return True
    return False
