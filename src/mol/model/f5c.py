"""F5C block: FCC followed by a residual CCC."""

from __future__ import annotations

import torch
from torch import nn

from mol.model.ccc import CCC, NeighborMode
from mol.model.fcc import FCC


class F5C(nn.Module):
    """F5C(r) = f + CCC(f) with f = FCC(r). (B, 128, 16, 16) → (B, 128, 16, 16)."""

    def __init__(
        self, dim: int = 128, num_positions: int = 256, k: int = 4, neighbors: NeighborMode = "positions"
    ) -> None:
        super().__init__()
        self.fcc = FCC(dim)
        self.ccc = CCC(num_positions, k=k, neighbors=neighbors)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        f = self.fcc(r)
        return f + self.ccc(f)
