"""The CPU tap-product flow predictor equals the plain convolution, forward and backward."""

import torch
import torch.nn.functional as F

from mol.model.tap_conv import FlowPredictor


def test_flow_predictor_matches_conv2d_forward_and_backward():
    layer = FlowPredictor(5).double()
    x = torch.randn(3, 5, 9, 7, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    ref = F.conv2d(x, layer.weight, padding=1)
    torch.testing.assert_close(y, ref)
    g = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, layer.weight), g)
    rx, rw = torch.autograd.grad(ref, (x, layer.weight), g)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)


def test_flow_predictor_gradcheck():
    layer = FlowPredictor(2).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
