"""Golden parity: official-layout fixture weights through our import must reproduce the
reference network's float64 eval outputs."""

import pytest
import torch

from mol.model import from_official

from parity import expected_outputs, fixture_clip, official_state_dict

TOLERANCE = 1e-9


def relative_error(ours: torch.Tensor, expected) -> float:
    expected = torch.as_tensor(expected)
    return ((ours - expected).norm() / expected.norm()).item()


@pytest.fixture(scope="module")
def expected():
    return expected_outputs()


@pytest.mark.parametrize("num_classes", [3, 5])
def test_official_fixture_outputs_match_reference(num_classes, expected):
    model = from_official(official_state_dict(num_classes), num_classes=num_classes).double().eval()
    clip = torch.from_numpy(fixture_clip().astype("float64"))
    with torch.no_grad():
        out = model(clip)
    assert out.mer_logits.shape == expected[f"mer_logits_cls{num_classes}"].shape
    assert out.flow.shape == expected["flow"].shape
    assert out.landmarks.shape == expected["landmarks"].shape
    assert relative_error(out.mer_logits, expected[f"mer_logits_cls{num_classes}"]) < TOLERANCE
    assert relative_error(out.flow, expected["flow"]) < TOLERANCE
    assert relative_error(out.landmarks, expected["landmarks"]) < TOLERANCE
