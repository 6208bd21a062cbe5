"""CCC: channel correspondence convolution, a graph convolution over channel nodes.

Every channel c is a node whose feature is its flattened map z_c ∈ R^N (N = S·S). The update
is an EdgeConv: e_{c,j} = ReLU(W1 z_c + b1 + W2 (d_{c,j} - z_c) + b2), out_c = max_j e_{c,j}.

Two ways to choose the k neighbours are supported:

* ``"positions"`` (the reference code, default, needed for official checkpoints): neighbours
  are the k spatial positions most similar (cosine over channels) to each position p, and
  d_{c,j}[p] = z_c[nbr_j(p)] - z_c[p].
* ``"channels"`` (the paper's text): neighbours are the k channels most similar (cosine over
  positions) to channel c, and d_{c,j} = z_{nbr_j(c)}.

Both are computed as batched matrix products and gathers: no loop over nodes or neighbours.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

NeighborMode = Literal["positions", "channels"]
NEIGHBOR_MODES: tuple[str, ...] = ("positions", "channels")


def position_neighbors(z: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k positions most similar to each position.

    z (B, C, N) → (B, N, k), cosine similarity over the channel axis (eps 1e-12).
    """
    zn = F.normalize(z, p=2.0, dim=1, eps=1e-12)
    sim = torch.bmm(zn.transpose(1, 2), zn)  # (B, N, N)
    return sim.topk(k, dim=-1).indices


def channel_neighbors(z: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k channels most similar to each channel.

    z (B, C, N) → (B, C, k), cosine similarity over the position axis (eps 1e-12).
    """
    zn = F.normalize(z, p=2.0, dim=2, eps=1e-12)
    sim = torch.bmm(zn, zn.transpose(1, 2))  # (B, C, C)
    return sim.topk(k, dim=-1).indices


class CCC(nn.Module):
    """EdgeConv over channel nodes with N×N node transforms W1 (self) and W2 (difference)."""

    def __init__(self, num_positions: int = 256, k: int = 4, neighbors: NeighborMode = "positions") -> None:
        super().__init__()
        if neighbors not in NEIGHBOR_MODES:
            raise ValueError(f"ccc neighbors must be one of {NEIGHBOR_MODES}, got {neighbors!r}")
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        self.num_positions = num_positions
        self.k = k
        self.neighbors = neighbors
        self.self_weight = nn.Parameter(torch.empty(num_positions, num_positions))
        self.self_bias = nn.Parameter(torch.empty(num_positions))
        self.diff_weight = nn.Parameter(torch.empty(num_positions, num_positions))
        self.diff_bias = nn.Parameter(torch.empty(num_positions))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default for a Conv1d of fan-in N, which is how the reference stores W1, W2
        bound = self.num_positions**-0.5
        for p in (self.self_weight, self.self_bias, self.diff_weight, self.diff_bias):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """f (B, C, S, S) with S·S = num_positions → (B, C, S, S)."""
        b, c, h, w = f.shape
        if h * w != self.num_positions:
            raise ValueError(f"CCC was built for {self.num_positions} positions, got a {h}×{w} map")
        z = f.reshape(b, c, h * w)
        if self.k > (h * w if self.neighbors == "positions" else c):
            raise ValueError(f"k={self.k} exceeds the number of candidate neighbours")

        # e_{c,j} = W1 z_c + b1 + b2 + W2 (neighbour_j - self_scale · z_c): the neighbour-free
        # part is computed once and shared by every j
        if self.neighbors == "positions":
            # the reference's difference is D_j - z_c with D_j[p] = z[nbr_j(p)] - z[p]
            self_scale = 2.0
            idx = position_neighbors(z, self.k)  # (B, N, k)
            # neighbour[b, c, j, p] = z[b, c, nbr_j(p)]
            flat = idx.transpose(1, 2).reshape(b, 1, self.k * h * w).expand(b, c, -1)
            neighbour = torch.gather(z, 2, flat).view(b, c, self.k, h * w)
        else:
            self_scale = 1.0
            idx = channel_neighbors(z, self.k)  # (B, C, k)
            flat = idx.reshape(b, c * self.k, 1).expand(-1, -1, h * w)
            neighbour = torch.gather(z, 1, flat).view(b, c, self.k, h * w)
        base = F.linear(z, self.self_weight, self.self_bias) - self_scale * F.linear(z, self.diff_weight)
        base = base + self.diff_bias
        edges = torch.relu(base[:, :, None, :] + F.linear(neighbour, self.diff_weight))
        return edges.amax(dim=2).view(b, c, h, w)
