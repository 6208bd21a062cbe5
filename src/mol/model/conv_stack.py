"""Shared per-frame convolution stack."""

from __future__ import annotations

import torch
from torch import nn


class ConvStack(nn.Module):
    """Four plain convolutions, no normalisation and no activation between them.

    Maps one grayscale frame (B, 1, 128, 128) to features (B, 128, 16, 16):
    1→8 (k4, s2) → 63², 8→32 (k3, s2) → 31², 32→64 (k2, s2, p1) → 16², 64→128 (k1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=4, stride=2, padding=0),
            nn.Conv2d(8, 32, kernel_size=3, stride=2, padding=0),
            nn.Conv2d(32, 64, kernel_size=2, stride=2, padding=1),
            nn.Conv2d(64, 128, kernel_size=1),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (B, 1, 128, 128) → (B, 128, 16, 16)."""
        return self.convs(frames)
