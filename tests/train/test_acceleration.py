import pytest
import torch

from mol.model.mol import MOL
from mol.train.acceleration import CompiledOrEager, to_channels_last


def test_channels_last_weights_give_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = MOL(num_classes=3)
    nhwc = MOL(num_classes=3)
    nhwc.load_state_dict(plain.state_dict())
    to_channels_last(nhwc)
    weights = [m.weight for m in nhwc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights if w.shape[-1] > 1)
    x = torch.randn(2, 1, 8, 128, 128)
    outs = []
    for model in (plain, nhwc):
        model.train()
        torch.manual_seed(1)  # the same dropout mask
        out = model(x)
        (out.mer_logits.sum() + out.flow.square().mean() + out.landmarks.mean()).backward()
        outs.append((out, {n: p.grad for n, p in model.named_parameters()}))
    (a, grads_a), (b, grads_b) = outs
    for name in ("mer_logits", "flow", "landmarks"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=1e-4, atol=1e-4)
    for name, grad in grads_a.items():
        torch.testing.assert_close(grads_b[name], grad, rtol=1e-3, atol=1e-4, msg=name)


def test_compile_failure_falls_back_to_eager_with_a_warning(monkeypatch):
    def broken_compile(fn, mode=None):
        def compiled(*args, **kwargs):
            raise RuntimeError("no C++ compiler found\nlong details")

        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    double = CompiledOrEager(lambda x: 2 * x, "max-autotune")
    with pytest.warns(UserWarning, match="running eagerly"):
        assert double(torch.ones(2)).tolist() == [2.0, 2.0]
    assert "no C++ compiler found" in double.status and "long details" not in double.status
    assert double(torch.ones(1)).tolist() == [2.0]  # stays eager, no second warning needed


def test_compile_none_never_compiles_and_bad_modes_are_refused(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled"))
    assert CompiledOrEager(lambda x: x + 1, "none")(1) == 2
    with pytest.raises(ValueError, match="compile mode"):
        CompiledOrEager(lambda x: x, "fastest")
