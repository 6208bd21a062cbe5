import torch

from mol.train.optim import make_optimizer


def test_fast_adamw_matches_plain_adamw():
    torch.manual_seed(0)
    a = torch.nn.Linear(7, 5).double()
    b = torch.nn.Linear(7, 5).double()
    b.load_state_dict(a.state_dict())
    start = a.weight.detach().clone()
    fast = make_optimizer(a.parameters())
    plain = torch.optim.AdamW(b.parameters(), lr=1e-4, weight_decay=1e-3, foreach=False)
    x = torch.randn(4, 7, dtype=torch.float64)
    for _ in range(3):
        for model, opt in ((a, fast), (b, plain)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    torch.testing.assert_close(a.weight, b.weight)
    assert (a.weight - start).abs().min() > 0  # every weight moved: the comparison is not vacuous
    assert fast.defaults["lr"] == 1e-4 and fast.defaults["weight_decay"] == 1e-3
