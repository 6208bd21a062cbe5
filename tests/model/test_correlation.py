"""The pure-PyTorch correlation against a naive shifted-product loop."""

import pytest
import torch

from mol.model.correlation import correlation


def naive_correlation(a, b, max_d, stride):
    bsz, _, h, w = a.shape
    steps = range(-max_d, max_d + 1, stride)
    out = torch.zeros(bsz, len(steps) ** 2, h, w, dtype=a.dtype)
    for iy, dy in enumerate(steps):
        for ix, dx in enumerate(steps):
            for y in range(h):
                for x in range(w):
                    ty, tx = y + dy, x + dx
                    if 0 <= ty < h and 0 <= tx < w:
                        out[:, iy * len(steps) + ix, y, x] = (a[:, :, y, x] * b[:, :, ty, tx]).sum(1)
    return out


@pytest.mark.parametrize(("size", "max_d", "stride"), [(6, 4, 2), (5, 2, 1), (16, 20, 2)])
def test_matches_naive_loop(size, max_d, stride):
    a = torch.randn(2, 3, size, size, dtype=torch.float64)
    b = torch.randn(2, 3, size, size, dtype=torch.float64)
    torch.testing.assert_close(correlation(a, b, max_d, stride), naive_correlation(a, b, max_d, stride))


def test_reference_geometry_and_zero_outside():
    a = torch.randn(1, 4, 16, 16)
    out = correlation(a, a.clone())
    assert out.shape == (1, 441, 16, 16)
    # zero displacement is the centre channel (10 * 21 + 10) and equals the squared norm
    torch.testing.assert_close(out[:, 220], a.square().sum(1))
    # displacement (-20, -20) never lands inside a 16×16 map
    assert out[:, 0].abs().max() == 0


def test_is_differentiable_in_both_inputs():
    a = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: correlation(x, y, 2, 1), (a, b))


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shape"):
        correlation(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 5, 5))
