"""Micro-expression recognition head: a 3-D CNN over the interleaved F5C features."""

from __future__ import annotations

import torch
from torch import nn


class MERHead(nn.Module):
    """(B, 128, 16, 16, 14) → logits (B, num_classes).

    The last axis holds gA_0, gB_0, gA_1, gB_1, ..., gA_6, gB_6.
    """

    def __init__(self, num_classes: int, dim: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv3d = nn.Conv3d(dim, 32, kernel_size=(2, 2, 5), stride=(2, 2, 1))
        self.pool = nn.MaxPool3d(2)
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(32 * 4 * 4 * 5, 256)
        self.fc2 = nn.Linear(256, num_classes)

    def freeze_below_class_layer(self) -> None:
        """Keep every layer but the class layer (fc2) as it is: a linear read-out of the
        recognition features the head starts with."""
        self.conv3d.requires_grad_(False)
        self.fc1.requires_grad_(False)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.pool(self.conv3d(g))).flatten(1)
        x = self.dropout(torch.relu(self.fc1(x)))
        return self.fc2(x)
