"""FlowNetC correlation in pure PyTorch.

The reference computes it with a compiled extension on the CPU. On a 16×16 map every
displacement lies inside the all-pairs product of the two maps, so the exact correlation is one
batched matrix product followed by a gather: it stays on the device and is differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def displacement_index(
    height: int, width: int, max_displacement: int, stride: int, device: torch.device | None = None
) -> torch.Tensor:
    """For every displacement d and position p, the flat index of p + d, or H·W if outside.

    Returns a long tensor (D, H·W), D = (2·max/stride + 1)², dy varying slowest. It is tiny and
    built on the device each call, so nothing is cached between calls or devices.
    """
    steps = torch.arange(-max_displacement, max_displacement + 1, stride, device=device)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    ty = ys.reshape(1, -1) + dy.reshape(-1, 1)
    tx = xs.reshape(1, -1) + dx.reshape(-1, 1)
    inside = (ty >= 0) & (ty < height) & (tx >= 0) & (tx < width)
    return torch.where(inside, ty * width + tx, torch.full_like(ty, height * width))


def reachable_displacements(
    height: int, width: int, max_displacement: int, stride: int, device: torch.device | None = None
) -> torch.Tensor:
    """Indices of the displacements that land inside the map for at least one position.

    The others (|dy| ≥ H or |dx| ≥ W, e.g. ±16..20 on a 16×16 map) give all-zero channels.
    """
    index = displacement_index(height, width, max_displacement, stride, device)
    return (index < height * width).any(dim=1).nonzero().squeeze(1)


def correlation(
    a: torch.Tensor,
    b: torch.Tensor,
    max_displacement: int = 20,
    stride: int = 2,
    displacements: torch.Tensor | None = None,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Corr[d, y, x] = Σ_c a[c, y, x] · b[c, y + dy, x + dx], zero where p + d leaves the map.

    a, b (B, C, H, W) → (B, D, H, W), D = (2·max_displacement/stride + 1)², channel index
    iy·(2·max/stride + 1) + ix with dy varying slowest. Not normalised. ``displacements``
    (optional indices into those D channels) computes only the selected channels. ``index``:
    ``displacement_index(...)[displacements]`` computed beforehand (a module keeps it as a
    buffer, so a forward builds no index tensors on the device and never waits for one).
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(
            f"correlation needs two maps of equal shape (B, C, H, W), got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    bsz, _, h, w = a.shape
    pairs = torch.bmm(a.flatten(2).transpose(1, 2), b.flatten(2))  # (B, N, N): [p, q] = <a_p, b_q>
    pairs = F.pad(pairs, (0, 1))  # column N holds the zero used outside the map
    if index is None:
        index = displacement_index(h, w, max_displacement, stride, a.device)  # (D, N)
        if displacements is not None:
            index = index[displacements]
    gathered = torch.gather(pairs, 2, index.t().unsqueeze(0).expand(bsz, -1, -1))  # (B, N, D)
    return gathered.transpose(1, 2).reshape(bsz, -1, h, w)
