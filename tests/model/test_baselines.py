"""The baselines: shapes, the registry, checkpoints, and learning a separable toy set."""

import math

import pytest
import torch

from mol.model.checkpoint import load_checkpoint, save_checkpoint
from mol.model.flow_hist import BINS, GRID, FlowHistogram, FlowHistogramConfig, oriented_flow_histograms
from mol.model.official import CheckpointError
from mol.model.registry import build_model, get_model, model_names, register_model
from mol.model.ststnet import STSTNet, STSTNetConfig, optical_strain, ststnet_input


def toy_flows(per_class: int = 12, size: int = 32, seed: int = 0):
    """Three classes of flow: a patch moving up in the top half, right in the left half, or down
    at the bottom, plus noise and a random global shift (head motion)."""
    g = torch.Generator().manual_seed(seed)
    flows, labels = [], []
    for label in range(3):
        for _ in range(per_class):
            flow = 0.05 * torch.randn(2, size, size, generator=g) + torch.randn(2, 1, 1, generator=g) * 0.3
            if label == 0:
                flow[1, : size // 2, size // 4 : 3 * size // 4] -= 1.0
            elif label == 1:
                flow[0, :, : size // 2] += 1.0
            else:
                flow[1, size // 2 :, size // 4 : 3 * size // 4] += 1.0
            flows.append(flow)
            labels.append(label)
    return torch.stack(flows), torch.tensor(labels)


def test_registry_finds_every_model_by_name():
    assert {"mol", "ststnet", "flow-hist"} <= set(model_names())
    assert get_model("ststnet").input == "apex_flow" and get_model("mol").input == "clip"
    assert isinstance(build_model("flow-hist", {"num_classes": 4}), FlowHistogram)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        get_model("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_model("ststnet", input="apex_flow")(type("Other", (), {}))


def test_shapes():
    flow = torch.randn(4, 2, 128, 128)
    assert ststnet_input(flow).shape == (4, 3, 28, 28)
    assert STSTNet(STSTNetConfig(num_classes=5))(flow).shape == (4, 5)
    assert oriented_flow_histograms(flow).shape == (4, GRID * GRID * BINS)
    assert FlowHistogram(FlowHistogramConfig(num_classes=5))(flow).shape == (4, 5)


def test_strain_of_a_uniform_stretch():
    s = 16
    xs = torch.arange(s, dtype=torch.float64)
    flow = torch.zeros(1, 2, s, s, dtype=torch.float64)
    flow[0, 0] = 0.1 * xs[None, :]  # u = 0.1 x: strain u_x = 0.1 everywhere, no shear
    assert torch.allclose(optical_strain(flow), torch.full((1, 1, s, s), 0.1, dtype=torch.float64), atol=1e-6)
    flow[0, 1] = 0.2 * xs[None, :]  # v = 0.2 x adds shear ½ (u_y + v_x)² = ½ 0.04
    expected = math.sqrt(0.01 + 0.5 * 0.04)
    assert torch.allclose(optical_strain(flow), torch.full((1, 1, s, s), expected, dtype=torch.float64), atol=1e-6)


def test_histograms_remove_head_motion_and_keep_direction():
    still = torch.zeros(1, 2, 36, 36)
    shifted = still + torch.tensor([3.0, -2.0])[None, :, None, None]
    assert torch.allclose(oriented_flow_histograms(shifted), oriented_flow_histograms(still))
    right = still.clone()
    right[0, 0, :6, :6] = 1.0  # the top-left cell moves right
    h = oriented_flow_histograms(right).view(GRID, GRID, BINS)
    assert h[0, 0].argmax() == BINS // 2 and h[0, 0].sum() > 0 and h[1:].sum() == 0


@pytest.mark.parametrize("name", ["ststnet", "flow-hist"])
def test_learns_a_separable_toy_set_and_round_trips(name, tmp_path):
    flows, labels = toy_flows()
    options = {"num_classes": 3, **({"epochs": 300, "lr": 1e-2} if name == "ststnet" else {})}
    model = build_model(name, options)
    losses = model.fit(flows, labels, seed=0)
    test_flows, test_labels = toy_flows(seed=1)
    with torch.no_grad():
        accuracy = (model(test_flows).argmax(1) == test_labels).float().mean()
    assert accuracy >= 0.9
    assert len(losses) == (300 if name == "ststnet" else 1) and losses[-1] < 0.5
    save_checkpoint(model, tmp_path / "m.safetensors")
    again = load_checkpoint(tmp_path / "m.safetensors", expected=None)
    assert type(again) is type(model) and again.config == model.config
    with torch.no_grad():
        assert torch.allclose(again.eval()(test_flows), model(test_flows), atol=1e-5)
    with pytest.raises(CheckpointError, match=f"holds a '{name}' model"):
        load_checkpoint(tmp_path / "m.safetensors")  # the default expects MOL
