"""Choosing the device, the numeric precision and the kernels of a run.

``auto`` prefers CUDA, then Apple's MPS, then the CPU; the environment
variable ``CNNSPEC_DEVICE`` (e.g. ``cpu``) overrides what ``auto`` picks, for
a machine whose GPU should be left alone. Mixed precision (``train.amp``)
autocasts the forward pass: fp16 with a gradient scaler on CUDA, bf16
elsewhere (CPUs and MPS have no fast fp16 path, and bf16 needs no loss
scaling). On CUDA, cuDNN picks the fastest convolution kernels for the shapes
it sees (autotuning) unless ``train.deterministic`` asks for reproducible
kernels instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import CnnspecError

__all__ = ["DEVICE_ENV", "Precision", "configure_kernels", "select_device"]

#: overrides what ``auto`` resolves to (``cpu``, ``cuda:1``...)
DEVICE_ENV = "CNNSPEC_DEVICE"


def select_device(requested: str | None) -> Any:
    """The ``torch.device`` for ``requested`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    import torch

    name = (requested or "auto").strip().lower()
    if name == "auto" and os.environ.get(DEVICE_ENV, "").strip():
        name = os.environ[DEVICE_ENV].strip().lower()
        requested = f"{name} (from {DEVICE_ENV})"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise CnnspecError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CnnspecError(f"device {requested!r} was asked for but CUDA is not available here; "
                               "use --device cpu or --device auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CnnspecError(f"device {requested!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise CnnspecError(f"device {requested!r} was asked for but MPS is not available here")
    elif device.type != "cpu":
        raise CnnspecError(f"unsupported device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


@contextlib.contextmanager
def configure_kernels(device: Any, *, deterministic: bool) -> Iterator[str]:
    """Autotuned cuDNN kernels, or deterministic ones, for the duration; yields what was chosen.

    Deterministic mode makes a CUDA run repeat bit for bit (``torch.use_deterministic_algorithms``,
    cuDNN's deterministic kernels, cuBLAS's fixed workspace): it costs speed, and
    an operation with no deterministic kernel raises instead of running. The
    process-wide settings are restored afterwards.
    """
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        chosen = "deterministic"
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        chosen = "autotuned"
    else:
        chosen = "default"
    try:
        yield chosen
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1], before[2]


@dataclass
class Precision:
    """Autocast settings for one run; ``context()`` is free when disabled."""

    device_type: str
    dtype: Any = None  # None = full precision
    scaler: Any = None

    @classmethod
    def create(cls, amp: bool | str, device: Any) -> Precision:
        import torch

        if not amp:
            return cls(device.type)
        if amp == "fp16" or (amp is True and device.type == "cuda"):
            dtype = torch.float16
        else:
            dtype = torch.bfloat16
        scaler = None
        if dtype == torch.float16 and device.type == "cuda":
            scaler = torch.amp.GradScaler("cuda")
        return cls(device.type, dtype, scaler)

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def context(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        if self.dtype is None:
            return "fp32"
        return str(self.dtype).replace("torch.", "") + (" + grad scaler" if self.scaler else "")
