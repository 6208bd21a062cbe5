"""CCC against a deliberately naive per-node, per-neighbour loop."""

import pytest
import torch

from mol.model.ccc import CCC


def naive_ccc(ccc: CCC, f: torch.Tensor) -> torch.Tensor:
    """Literal transcription of the CCC definition, one node and one neighbour at a time."""
    b, c, h, w = f.shape
    n = h * w
    w1, b1 = ccc.self_weight, ccc.self_bias
    w2, b2 = ccc.diff_weight, ccc.diff_bias
    out = torch.empty(b, c, n, dtype=f.dtype)
    for bi in range(b):
        z = f[bi].reshape(c, n)
        if ccc.neighbors == "positions":
            norms = torch.sqrt((z * z).sum(0)).clamp_min(1e-12)
            zn = z / norms
            sim = zn.t() @ zn
            nbr = [sorted(range(n), key=lambda q, p=p: -sim[p, q].item())[: ccc.k] for p in range(n)]
        else:
            norms = torch.sqrt((z * z).sum(1)).clamp_min(1e-12)
            zn = z / norms[:, None]
            sim = zn @ zn.t()
            nbr = [sorted(range(c), key=lambda q, i=i: -sim[i, q].item())[: ccc.k] for i in range(c)]
        for ch in range(c):
            best = None
            for j in range(ccc.k):
                if ccc.neighbors == "positions":
                    d = torch.stack([z[ch, nbr[p][j]] - z[ch, p] for p in range(n)])
                    e = torch.relu(w1 @ z[ch] + b1 + w2 @ (d - z[ch]) + b2)
                else:
                    e = torch.relu(w1 @ z[ch] + b1 + w2 @ (z[nbr[ch][j]] - z[ch]) + b2)
                best = e if best is None else torch.maximum(best, e)
            out[bi, ch] = best
    return out.view(b, c, h, w)


@pytest.mark.parametrize("neighbors", ["positions", "channels"])
@pytest.mark.parametrize("k", [1, 4])
def test_vectorised_ccc_matches_naive_loop(neighbors, k):
    torch.manual_seed(1)
    ccc = CCC(num_positions=16, k=k, neighbors=neighbors).double()
    f = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        expected = naive_ccc(ccc, f)
        got = ccc(f)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_position_and_channel_modes_differ():
    torch.manual_seed(2)
    a = CCC(num_positions=16, neighbors="positions").double()
    b = CCC(num_positions=16, neighbors="channels").double()
    b.load_state_dict(a.state_dict())
    f = torch.randn(1, 8, 4, 4, dtype=torch.float64)
    assert not torch.allclose(a(f), b(f))


def test_gradients_reach_input_and_weights():
    ccc = CCC(num_positions=16).double()
    f = torch.randn(2, 6, 4, 4, dtype=torch.float64, requires_grad=True)
    ccc(f).square().sum().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    for p in ccc.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_rejects_wrong_map_size_and_mode():
    with pytest.raises(ValueError, match="positions"):
        CCC(num_positions=16)(torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="neighbors"):
        CCC(neighbors="pixels")  # type: ignore[arg-type]


def test_zero_features_give_the_biases_alone_without_nan():
    """All-zero features have zero norm (the normalisation's eps keeps them finite); every node and
    every neighbour difference is then zero, so each channel's output is ReLU(b1 + b2)."""
    ccc = CCC(num_positions=16).double()
    f = torch.zeros(1, 4, 4, 4, dtype=torch.float64)
    out = ccc(f)
    expected = torch.relu(ccc.self_bias + ccc.diff_bias).view(4, 4)
    for c in range(4):
        torch.testing.assert_close(out[0, c], expected)
