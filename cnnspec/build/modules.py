"""The small torch modules containers build into (the only ones cnnspec defines).

``Residual`` adds a body and a shortcut; ``Concat`` concatenates branches.
They are plain ``nn.Module``\\ s with named children, so ``state_dict`` keys
read ``layer1.0.body.conv1.weight`` and torchinfo sees every leaf.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Concat", "Residual"]


class Residual(nn.Module):
    """``body(x) + shortcut(x)``; the shortcut is the identity when absent."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the shortcut runs first: an in-place activation in the body must not
        # overwrite the input it still needs
        skip = self.shortcut(x)
        return self.body(x) + skip


class Concat(nn.Module):
    """``torch.cat([branch(x) for branch in branches], dim)``."""

    def __init__(self, branches: dict[str, nn.Module], dim: int = 1) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches.values()], dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
