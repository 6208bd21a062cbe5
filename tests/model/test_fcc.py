"""FCC's circulant formulation against the definition, one output element at a time."""

import torch

from mol.model.fcc import FCC, circular_conv_h, circular_conv_w


def naive_circular_h(x, k, b):
    _, c, s, _ = x.shape
    out = torch.zeros_like(x)
    for ch in range(c):
        for h in range(s):
            for i in range(s):
                out[:, ch, h, :] += k[ch, i] * x[:, ch, (h + i) % s, :]
        out[:, ch] += b[ch]
    return out


def test_circular_convolutions_match_definition():
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    k = torch.randn(3, 32, dtype=torch.float64)
    b = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(circular_conv_h(x, k, b), naive_circular_h(x, k, b))
    # along W is along H of the transposed map
    expected_w = naive_circular_h(x.transpose(-1, -2), k, b).transpose(-1, -2)
    torch.testing.assert_close(circular_conv_w(x, k, b), expected_w)


def test_fcc_is_translation_equivariant_without_positional_embeddings():
    fcc = FCC(8).double().eval()
    with torch.no_grad():
        for p in (fcc.pos_h1, fcc.pos_w1, fcc.pos_h2, fcc.pos_w2):
            p.zero_()
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    shifted = torch.roll(x, shifts=(2, 3), dims=(2, 3))
    torch.testing.assert_close(fcc(shifted), torch.roll(fcc(x), shifts=(2, 3), dims=(2, 3)))
