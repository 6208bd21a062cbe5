"""FCC: fully-connected (global circular) convolution."""

from __future__ import annotations

import torch
from torch import nn

META_LENGTH = 32  # length of the learnable kernels / positional embeddings before cropping


def _circulant(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Circulant matrices of a depthwise kernel.

    kernel (C, L) with L >= size → M (C, size, size) with M[c, h, j] = k[c, (j - h) mod size],
    so that (M @ x)[c, h] = sum_i k[c, i] · x[c, (h + i) mod size] (correlation, no flip).
    """
    pos = torch.arange(size, device=kernel.device)
    index = (pos[None, :] - pos[:, None]) % size  # (size, size): (j - h) mod size
    return kernel[:, :size][:, index]


def circular_conv_h(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Depthwise circular convolution along H spanning the whole map.

    x (B, C, S, S), kernel (C, L ≥ S), bias (C) → (B, C, S, S).
    """
    m = _circulant(kernel, x.shape[-2]).to(x.dtype)
    return torch.matmul(m, x) + bias.to(x.dtype)[:, None, None]


def circular_conv_w(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Depthwise circular convolution along W spanning the whole map.

    x (B, C, S, S), kernel (C, L ≥ S), bias (C) → (B, C, S, S).
    """
    m = _circulant(kernel, x.shape[-1]).to(x.dtype)
    return torch.matmul(x, m.transpose(-1, -2)) + bias.to(x.dtype)[:, None, None]


class FCC(nn.Module):
    """Global circular convolution over two channel halves.

    Half 1: BN(x1 + peH1) → circular conv along H → + peW2 → circular conv along W.
    Half 2: BN(x2 + peW1) → circular conv along W → + peH2 → circular conv along H.
    Each half is added back to its input (residual). Kernels and positional embeddings are
    learnt at length 32 and cropped to the map side S (≤ 32).
    """

    def __init__(self, dim: int = 128) -> None:
        super().__init__()
        half = dim // 2
        self.dim = dim
        self.kernel_h1 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.kernel_w1 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.kernel_h2 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.kernel_w2 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.bias_h1 = nn.Parameter(torch.zeros(half))
        self.bias_w1 = nn.Parameter(torch.zeros(half))
        self.bias_h2 = nn.Parameter(torch.zeros(half))
        self.bias_w2 = nn.Parameter(torch.zeros(half))
        self.pos_h1 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.pos_w1 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.pos_h2 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.pos_w2 = nn.Parameter(torch.empty(half, META_LENGTH))
        self.norm1 = nn.BatchNorm2d(half)
        self.norm2 = nn.BatchNorm2d(half)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for k in (self.kernel_h1, self.kernel_w1, self.kernel_h2, self.kernel_w2):
            # like a conv of fan-in META_LENGTH (PyTorch's default conv init bound)
            nn.init.uniform_(k, -(META_LENGTH**-0.5), META_LENGTH**-0.5)
        for p in (self.pos_h1, self.pos_w1, self.pos_h2, self.pos_w2):
            nn.init.trunc_normal_(p, std=0.02)

    @torch.no_grad()
    def reference_init_(self, generator: torch.Generator | None = None) -> None:
        """The reference's initialisation: positional embeddings and biases drawn with
        ``torch.randn`` (standard deviation 1, where :meth:`reset_parameters` gives 0.02 and 0)."""
        for p in (
            self.pos_h1,
            self.pos_w1,
            self.pos_h2,
            self.pos_w2,
            self.bias_h1,
            self.bias_w1,
            self.bias_h2,
            self.bias_w2,
        ):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 128, S, S), S ≤ 32 → (B, 128, S, S)."""
        if x.shape[-1] != x.shape[-2] or x.shape[-1] > META_LENGTH:
            raise ValueError(f"FCC needs a square map of side ≤ {META_LENGTH}, got {tuple(x.shape)}")
        s = x.shape[-1]
        x1, x2 = x.chunk(2, dim=1)
        pos_h1 = self.pos_h1[:, :s, None]  # (C, S, 1): varies along H
        pos_w1 = self.pos_w1[:, None, :s]  # (C, 1, S): varies along W
        pos_h2 = self.pos_h2[:, :s, None]
        pos_w2 = self.pos_w2[:, None, :s]

        a = self.norm1(x1 + pos_h1)
        a = circular_conv_h(a, self.kernel_h1, self.bias_h1) + pos_w2
        a = circular_conv_w(a, self.kernel_w2, self.bias_w2)

        b = self.norm2(x2 + pos_w1)
        b = circular_conv_w(b, self.kernel_w1, self.bias_w1) + pos_h2
        b = circular_conv_h(b, self.kernel_h2, self.bias_h2)
        return torch.cat((x1 + a, x2 + b), dim=1)
