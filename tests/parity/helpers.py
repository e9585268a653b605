"""Copying one model's state_dict into another *in order*, and comparing outputs.

Parity with torchvision is checked the strict way: the two state_dicts must
hold tensors of the same shapes in the same order (so a positional copy is
meaningful), and after the copy the two models must compute the same
function. Models are created on the meta device and filled with random
values once, which skips torchvision's slow weight initialisation (VGG's
132M parameters take seconds to initialise on a small CPU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["copy_in_order", "fill_random", "materialize", "max_abs_diff", "param_count"]


def materialize(make: Callable[[], nn.Module]) -> nn.Module:
    """``make()`` built on the meta device, then given (uninitialised) CPU storage."""
    with torch.device("meta"):
        model = make()
    return model.to_empty(device="cpu")


def fill_random(model: nn.Module, seed: int = 0) -> None:
    """Deterministic, well-scaled values for every parameter and buffer.

    Running variances stay positive and weights are scaled by fan-in, so
    activations neither vanish nor overflow through dozens of layers.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                tensor.zero_()
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else 1
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / fan_in**0.5)


def copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Load ``source``'s state_dict values into ``target`` position by position.

    Fails if the two do not have the same number of entries with the same
    shapes in the same order: that is the structural half of parity.
    """
    src, dst = source.state_dict(), target.state_dict()
    src_shapes = [tuple(v.shape) for v in src.values()]
    dst_shapes = [tuple(v.shape) for v in dst.values()]
    if src_shapes != dst_shapes:
        first = next((i for i, (a, b) in enumerate(zip(src_shapes, dst_shapes)) if a != b), min(len(src), len(dst)))
        raise AssertionError(
            f"state_dicts differ at entry {first}: {list(src)[first:first + 1]} {src_shapes[first:first + 1]} vs "
            f"{list(dst)[first:first + 1]} {dst_shapes[first:first + 1]} ({len(src)} vs {len(dst)} entries)"
        )
    target.load_state_dict(dict(zip(dst.keys(), src.values())), strict=True)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()
