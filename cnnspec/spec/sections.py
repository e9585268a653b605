"""The ``data:``, ``train:`` and ``callbacks:`` sections of a spec.

Components (datasets, optimizers, losses, schedulers, transforms,
callbacks) are referred to the way layers are: a bare name, or a one-key
mapping ``{name: {args}}``. Names are checked against the plugin registries
when the spec is loaded; arguments against the component's params model, or
its signature when it has none.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from cnnspec.component import SpecModel

__all__ = ["ComponentRef", "DataSpec", "ObjectiveSpec", "SpecModel", "SweepSpec", "TrainSpec"]


#: ``"sgd"`` or ``{"sgd": {"lr": 0.1}}``
ComponentRef = str | dict[str, dict[str, Any] | None]


class DataSpec(SpecModel):
    """Where the samples come from, how they are split, and how they are transformed.

    The validation split is either a seeded random fraction of the training
    set (``val_split``, like ``torch.utils.data.random_split``) or a fixed
    index range (``val_indices``, like ``Subset(ds, range(a, b))``); never
    both. Transforms are torchvision.transforms.v2 class names with their
    own arguments; ``train_transforms`` (augmentation) run before
    ``transforms`` on the training split, ``eval_transforms`` before
    ``transforms`` on validation and test, so ``normalize`` goes last once.
    """

    dataset: ComponentRef = Field(description="dataset name, or {name: {args}}")
    root: str = Field(default="data", description="where datasets are stored / downloaded")
    download: bool = Field(default=False, description="download the dataset if it is missing")
    batch_size: int = Field(default=64, ge=1)
    val_split: float | None = Field(default=None, gt=0, lt=1,
                                    description="fraction of the training set held out for validation")
    val_indices: list[int] | None = Field(
        default=None, description="[start, stop): this index range of the training set is the validation split")
    split_seed: int | None = Field(
        default=None, description="seed of the val_split permutation; default: the spec's seed")
    transforms: list[ComponentRef] = Field(default_factory=list,
                                           description="applied to every split")
    train_transforms: list[ComponentRef] = Field(default_factory=list,
                                                 description="augmentation, training split only")
    eval_transforms: list[ComponentRef] = Field(
        default_factory=list, description="validation and test splits only (e.g. resize + centercrop)")
    num_workers: int = Field(default=0, ge=0, description="DataLoader worker processes (datasets read from files)")
    in_memory: bool | None = Field(
        default=None, description="keep the samples as one resident tensor; default: when the dataset fits")
    drop_last: bool = Field(default=False, description="drop the last, smaller training batch")

    @field_validator("val_indices")
    @classmethod
    def _check_val_indices(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if value is None:
            return value
        if len(value) != 2:
            raise ValueError(f"expected [start, stop], got {len(value)} numbers {value}")
        start, stop = value
        if start < 0 or stop <= start:
            raise ValueError(f"expected 0 <= start < stop, got [{start}, {stop}]")
        if info.data.get("val_split") is not None:
            raise ValueError("val_split and val_indices both choose the validation split; keep one")
        return value


class TrainSpec(SpecModel):
    """How the model is trained; every field has a default so ``train: {}`` works.

    The optimizer, loss and scheduler are torch's own classes by name
    (case-insensitive) with torch's keyword arguments, checked against the
    real signatures before the first batch. ``device``, ``amp`` and
    ``channels_last`` change speed, not results (beyond float rounding).
    """

    epochs: int = Field(default=10, ge=1)
    optimizer: ComponentRef = Field(default="adam", description="a torch.optim class name, or {name: {args}}")
    loss: ComponentRef = Field(default="crossentropyloss", description="a torch.nn loss class name, or {name: {args}}")
    scheduler: ComponentRef | None = Field(
        default=None, description="a torch.optim.lr_scheduler class name, or {name: {args}}; stepped per epoch")
    device: Literal["auto", "cpu", "cuda", "mps"] | str = Field(
        default="auto", description="auto picks cuda, then mps, then cpu; 'cuda:1' picks a GPU")
    seed: int | None = Field(default=None, description="seed for weight init and dropout; defaults to the spec's seed")
    amp: bool | Literal["bf16", "fp16"] = Field(
        default=False, description="mixed precision: true = fp16 on CUDA, bf16 elsewhere")
    channels_last: bool = Field(default=False, description="NHWC memory format (faster convolutions on CPU)")
    compile: bool = Field(default=False, description="torch.compile the model: slower start, often faster steps "
                                                      "on a GPU (docs/performance.md)")
    deterministic: bool = Field(default=False, description="reproducible CUDA kernels (bit-identical reruns on a "
                                                            "GPU) instead of cuDNN autotuning; slower")
    grad_clip: float | None = Field(default=None, gt=0, description="clip the gradient norm to this value")
    progress: bool = Field(default=True, description="add the progress callback (bar on a terminal, lines otherwise)")
    checkpoint: bool = Field(default=True, description="keep checkpoints/last.pt (and best.pt) even when callbacks: "
                                                       "does not list checkpoint; false keeps no weights at all")
    threads: int | None = Field(default=None, ge=1,
                                description="CPU threads for torch (torch.set_num_threads); default: torch's choice. "
                                            "1 is fastest for tiny models on a busy machine")


class ObjectiveSpec(SpecModel):
    """What a sweep optimises: one metric of the runs, and which way is better."""

    metric: str = Field(description="a metric of the runs: val_loss, val_acc, train_loss, test_acc, ...")
    direction: Literal["minimize", "maximize"] | None = Field(
        default=None, description="default: maximize for *_acc metrics, minimize otherwise")


class SweepSpec(SpecModel):
    """The search space and strategy of ``cnnspec sweep``; ``cnnspec train`` ignores this section.

    Each entry of ``space`` is a key path of the spec (as ``--set`` writes it)
    and a distribution in the syntax of ``--sweep``: ``loguniform(1e-4, 1e-1)``,
    ``uniform(0, 0.5)``, ``int(16, 128, step=16)``, ``choice(16, 32, 64)`` (a
    YAML list is a choice too), ``range(5)``, ``linspace(0, 0.5, 6)``,
    ``geomspace(1e-4, 1e-1, 4)``. A ``seed`` (or ``train.seed``) entry is not
    searched: every point is trained once per seed and scored by the mean.
    """

    space: dict[str, str | list[Any]] = Field(
        default_factory=dict, description="key path -> distribution, e.g. `train.optimizer.adamw.lr: "
                                          "loguniform(1e-4, 1e-1)`")
    sampler: Literal["grid", "random", "tpe"] | None = Field(
        default=None, description="default: grid when every dimension is discrete and trials is unset, else tpe")
    trials: int | None = Field(default=None, ge=1, description="trained points in all (default: the whole grid)")
    objective: str | ObjectiveSpec | None = Field(
        default=None, description="a metric name or {metric, direction}; default: val_loss, minimized")
    pruner: str | dict[str, dict[str, Any] | None] | None = Field(
        default=None, description="stop poor trials early, per epoch: none, median, percentile, "
                                  "successive_halving, hyperband (Optuna's pruners), or {name: {args}}")
