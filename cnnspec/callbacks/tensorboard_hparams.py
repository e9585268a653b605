"""The HPARAMS tab: a run's recipe as flat hyperparameters, with its final metrics.

The recipe is the spec's dataset (and its arguments), batch size, optimizer,
loss and scheduler (each with its arguments), epochs, seed and parameter
count; the metrics are logged as ``hparam/<metric>`` so runs can be compared
in one table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.callbacks.base import TrainerView
    from cnnspec.callbacks.tensorboard_writer import GuardedWriter

__all__ = ["spec_hparams", "write_hparams"]


def spec_hparams(trainer: TrainerView) -> dict[str, Any]:
    """The recipe of a run as flat hparams (str, int, float or bool values).

    Component arguments are flattened under their name (``optimizer.lr``), so
    runs that differ in any of them can be compared in the HPARAMS table.
    """
    from cnnspec.component import split_ref

    spec = trainer.spec
    out: dict[str, Any] = {"spec": spec.name, "fingerprint": spec.fingerprint()[:12]}
    trace = getattr(trainer, "trace", None)
    if trace is not None:
        out["params"] = int(trace.params)
    if spec.data is not None:
        name, args = split_ref(spec.data.dataset)
        out["dataset"] = name
        out.update({f"dataset.{k}": _hparam_value(v) for k, v in sorted(args.items())})
        out["batch_size"] = spec.data.batch_size
        if spec.data.val_split is not None:
            out["val_split"] = spec.data.val_split
    if spec.train is not None:
        out["epochs"] = spec.train.epochs
        for key in ("optimizer", "loss", "scheduler"):
            ref = getattr(spec.train, key, None)
            if ref is None:
                continue
            name, args = split_ref(ref)
            out[key] = name
            out.update({f"{key}.{k}": _hparam_value(v) for k, v in sorted(args.items())})
        seed = getattr(spec.train, "seed", None)
        out["seed"] = seed if seed is not None else spec.config.seed
    return out


def _hparam_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_hparams(log: GuardedWriter, hparams: dict[str, Any], final: dict[str, float], step: int) -> None:
    """The hparams plugin's three summaries, in this run (``add_hparams`` would start another)."""
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    metric_tags = {f"hparam/{k}": v for k, v in final.items()}
    experiment, start, end = hparams_summary(hparams, metric_tags)
    writer = log.writer.file_writer  # type: ignore[union-attr]
    for summary in (experiment, start, end):
        writer.add_summary(summary)
    for tag, value in metric_tags.items():
        log.writer.add_scalar(tag, value, step)  # type: ignore[union-attr]
