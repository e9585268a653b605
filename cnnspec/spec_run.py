"""The ``data:``, ``train:`` and ``callbacks:`` sections of a spec.

Components (datasets, optimizers, losses, schedulers, transforms,
callbacks) are referred to the way layers are: a bare name, or a one-key
mapping ``{name: {args}}``. Names are checked against the plugin registries
when the spec is loaded; arguments against the component's params model, or
its signature when it has none.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ComponentRef", "DataSpec", "SpecModel", "TrainSpec"]


class SpecModel(BaseModel):
    """Base for spec sections: strict, closed, immutable, finite numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


#: ``"sgd"`` or ``{"sgd": {"lr": 0.1}}``
ComponentRef = str | dict[str, dict[str, Any] | None]


class DataSpec(SpecModel):
    dataset: ComponentRef = Field(description="dataset name, or {name: {args}}")
    root: str = Field(default="data", description="where datasets are stored / downloaded")
    download: bool = Field(default=False, description="download the dataset if it is missing")
    batch_size: int = Field(default=64, ge=1)
    val_split: float | None = Field(default=None, gt=0, lt=1,
                                    description="fraction of the training set held out for validation")
    transforms: list[ComponentRef] = Field(default_factory=list,
                                           description="applied to every split")
    train_transforms: list[ComponentRef] = Field(default_factory=list,
                                                 description="augmentation, training split only")
    num_workers: int = Field(default=0, ge=0)


class TrainSpec(SpecModel):
    epochs: int = Field(default=10, ge=1)
    optimizer: ComponentRef = Field(default="adam")
    loss: ComponentRef = Field(default="crossentropyloss")
    scheduler: ComponentRef | None = None
    device: Literal["auto", "cpu", "cuda", "mps"] | str = "auto"
    seed: int = 0
