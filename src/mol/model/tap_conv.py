"""3×3 convolutions with few output channels as one matrix product plus shifted sums (CPU).

On the CPU, PyTorch's convolution is slow for the flow predictors (3×3, two output channels,
up to 128×128 maps): the layer is memory-bound and badly tiled, 5–8× slower forward than its
arithmetic needs. A convolution is a sum over kernel taps of ``W_tap @ x`` shifted in space;
here all taps are one matrix product, and the shifts are slice additions with a hand-written
adjoint, so forward and backward run at matrix-product speed. The arithmetic is that of the
plain layer (only the summation order differs). On CUDA the plain cuDNN layer is used.
(The same trick for the 4×4 stride-2 transposed convolutions was measured slower than
PyTorch's own kernel, so those stay plain.)
"""

from __future__ import annotations

import torch
from torch import nn

# a tap: (index in the stacked products, dy, dx, output phase row, output phase column);
# phases > 1 would interleave sub-pixel outputs (as a transposed convolution does)
Tap = tuple[int, int, int, int, int]


def _span(shift: int, size: int) -> tuple[slice, slice]:
    """Slices (output, input) so that out[y] pairs with in[y + shift], both inside 0..size-1."""
    if shift >= 0:
        return slice(0, size - shift), slice(shift, size)
    return slice(-shift, size), slice(0, size + shift)


class _ShiftedTapSum(torch.autograd.Function):
    """out[b, c, y, a, x, p] = Σ_{taps (t, dy, dx, a, p)} z[b, t, c, y + dy, x + dx] (zero outside)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, taps: tuple[Tap, ...], phases: int) -> torch.Tensor:
        b, _, c, h, w = z.shape
        out = z.new_zeros(b, c, h, phases, w, phases)
        for t, dy, dx, pa, pb in taps:
            (oy, iy), (ox, ix) = _span(dy, h), _span(dx, w)
            out[:, :, oy, pa, ox, pb] += z[:, t, :, iy, ix]
        ctx.taps, ctx.shape = taps, z.shape
        return out.view(b, c, h * phases, w * phases)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        b, n, c, h, w = ctx.shape
        phases = grad.shape[-1] // w
        grad = grad.view(b, c, h, phases, w, phases)
        grad_z = grad.new_zeros(b, n, c, h, w)
        for t, dy, dx, pa, pb in ctx.taps:
            (oy, iy), (ox, ix) = _span(dy, h), _span(dx, w)
            grad_z[:, t, :, iy, ix] += grad[:, :, oy, pa, ox, pb]
        return grad_z, None, None


def _tap_products(x: torch.Tensor, weight_rows: torch.Tensor, taps: int) -> torch.Tensor:
    """(B, Cin, H, W) and (taps·Cout, Cin) → (B, taps, Cout, H, W)."""
    b, _, h, w = x.shape
    # bmm over an expanded (not copied) weight keeps x itself for backward; torch.matmul would
    # fold the batch into one mm and save a transposed copy of x
    z = torch.bmm(weight_rows.expand(b, -1, -1), x.flatten(2))
    return z.view(b, taps, -1, h, w)


# 3×3, padding 1: tap (ky, kx) reads the input at (y + ky - 1, x + kx - 1)
_TAPS_3X3: tuple[Tap, ...] = tuple((ky * 3 + kx, ky - 1, kx - 1, 0, 0) for ky in range(3) for kx in range(3))


def use_tap_kernels(x: torch.Tensor) -> bool:
    return x.device.type == "cpu"


class FlowPredictor(nn.Conv2d):
    """Conv2d(cin, 2, 3, padding 1, no bias), as a tap product on the CPU."""

    def __init__(self, cin: int, cout: int = 2) -> None:
        super().__init__(cin, cout, 3, stride=1, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not use_tap_kernels(x):
            return super().forward(x)
        rows = self.weight.permute(2, 3, 0, 1).reshape(9 * self.out_channels, self.in_channels)
        return _ShiftedTapSum.apply(_tap_products(x, rows, 9), _TAPS_3X3, 1)
