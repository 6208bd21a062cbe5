"""Landmark head: 68 facial landmarks from F5C features."""

from __future__ import annotations

import torch
from torch import nn

from mol.constants import NUM_LANDMARKS


class LandmarkHead(nn.Module):
    """(M, 128, 16, 16) → (M, 136) as (x0, y0, x1, y1, ...) in pixels of the 128×128 input."""

    def __init__(self, dim: int = 128, num_points: int = NUM_LANDMARKS) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, 32, kernel_size=3)
        self.fc1 = nn.Linear(32 * 14 * 14, 512)
        self.fc2 = nn.Linear(512, 2 * num_points)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(g)).flatten(1)
        return self.fc2(torch.relu(self.fc1(x)))
