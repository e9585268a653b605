"""The torch modules: what the layer builders return, and the focal loss.

Imported only when a model or loss is built, never while registering.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBNReLU", "FocalLoss", "SqueezeExcite"]


class ConvBNReLU(nn.Sequential):
    """``conv -> bn -> act``, children named so that state_dict keys read ``cbr1.conv.weight``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int], groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)


class SqueezeExcite(nn.Module):
    """``x * gate(fc2(relu(fc1(mean(x)))))`` over the spatial dims, per channel."""

    def __init__(self, channels: int, hidden: int, gate: str = "sigmoid") -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.gate = nn.Sigmoid() if gate == "sigmoid" else nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.flatten(2).mean(-1)  # [N, C]: needs at least one spatial dim
        scale = self.gate(self.fc2(torch.relu(self.fc1(squeezed))))
        return x * scale.view(*scale.shape, *([1] * (x.dim() - 2)))


class FocalLoss(nn.Module):
    """``loss(logits [N, K], targets [N] class indices)``; see :mod:`cnnspec_example.losses`."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        if self.alpha is not None:
            loss = self.alpha * loss
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, reduction={self.reduction!r}"
