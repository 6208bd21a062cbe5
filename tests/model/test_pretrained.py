"""Shipped pre-trained weights and starting a network from them."""

import pytest
import torch

from mol.errors import CheckpointError, ConfigError
from mol.model import MOL
from mol.model.pretrained import (
    CLASS_LAYER,
    SHIPPED,
    SHIPPED_FILE,
    flow_seed_of,
    init_record,
    read_pretrained,
    resolve_init,
    save_shippable,
    start_from,
)


@pytest.fixture
def shippable(tmp_path):
    torch.manual_seed(1)
    source = MOL(num_classes=16, motion_input="diff")
    path = save_shippable(source, tmp_path / "w.safetensors", {"steps": 7})
    return source, path


def test_shippable_leaves_out_the_flow_head_in_half_precision(shippable):
    source, path = shippable
    state, config, card = read_pretrained(path)
    assert not any(k.startswith("flow_head.") for k in state)
    assert set(state) == {k for k in source.state_dict() if not k.startswith("flow_head.")}
    assert config["motion_input"] == "diff" and card == {"steps": 7}
    assert path.stat().st_size < 10e6
    w = source.f5c_a.state_dict()
    k = next(iter(w))
    torch.testing.assert_close(state[f"f5c_a.{k}"], w[k].half().float())


def test_start_from_takes_everything_but_the_class_layer_and_flow_head(shippable):
    source, path = shippable
    torch.manual_seed(2)
    model = MOL(num_classes=5, motion_input="diff")
    fresh_flow = model.flow_head.predict_flow0.weight.clone()
    fresh = start_from(model, str(path))
    assert set(CLASS_LAYER) <= set(fresh)
    assert all(k.startswith("flow_head.") or k in CLASS_LAYER for k in fresh)
    torch.testing.assert_close(model.landmark_head.fc2.bias, source.landmark_head.fc2.bias.half().float())
    torch.testing.assert_close(model.mer_head.fc1.weight, source.mer_head.fc1.weight.half().float())
    torch.testing.assert_close(model.flow_head.predict_flow0.weight, fresh_flow)


def test_start_from_refuses_another_input_option(shippable):
    _, path = shippable
    with pytest.raises(ConfigError, match="motion_input"):
        start_from(MOL(num_classes=5), str(path))


def test_scratch_changes_nothing():
    model = MOL()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert len(start_from(model, "scratch")) == len(before)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert init_record("scratch").init == "scratch" and init_record("scratch").file is None


@pytest.mark.parametrize("motion_input", ["diff", "raw"])
def test_the_shipped_weights_load(motion_input):
    version, path = SHIPPED[motion_input]
    assert path.is_file() and path.stat().st_size < 25e6
    _, config, card = read_pretrained(path)
    assert config["motion_input"] == motion_input
    model = MOL(num_classes=3, motion_input=motion_input)
    start_from(model, "pretrained")
    record = init_record("pretrained", motion_input)
    assert record.init == "pretrained" and record.version == version and card["steps"] == record.pretrain_steps
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 1, 8, 128, 128), heads=("mer",))
    assert out.mer_logits.shape == (1, 3)


def test_pretrained_names_the_weights_of_the_networks_input(monkeypatch):
    assert resolve_init("pretrained", "diff") == SHIPPED_FILE
    assert resolve_init("pretrained", "raw") == SHIPPED["raw"][1] != SHIPPED_FILE
    monkeypatch.delitem(SHIPPED, "raw")  # an input option without shipped weights
    with pytest.raises(ConfigError, match="no pre-trained weights ship for motion_input=raw"):
        start_from(MOL(num_classes=3, motion_input="raw"), "pretrained")
    with pytest.raises(ConfigError, match="mol pretrain --motion-input raw"):
        init_record("pretrained", "raw")


def test_unreadable_weights_are_named(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    with pytest.raises(CheckpointError, match=r"bad\.safetensors"):
        read_pretrained(bad)
    with pytest.raises(CheckpointError, match="no such"):
        read_pretrained(tmp_path / "missing.safetensors")


def test_a_flow_seed_ships_the_flow_head_but_its_seeded_layers(tmp_path):
    torch.manual_seed(3)
    source = MOL(num_classes=16, motion_input="diff")
    source.flow_head.seed_large_layers(11)
    path = save_shippable(source, tmp_path / "f.safetensors", {"steps": 1}, flow_seed=11)
    state, _, _ = read_pretrained(path)
    seeded = {"flow_head." + k for k in source.flow_head.seeded_weight_names()}
    assert set(state) == set(source.state_dict()) - seeded
    assert flow_seed_of(path) == 11 and flow_seed_of(SHIPPED_FILE) is None
    assert path.stat().st_size < 20e6  # the seeded layers hold 35 M parameters: 70 MB in float16

    torch.manual_seed(4)
    model = MOL(num_classes=5, motion_input="diff")
    fresh = start_from(model, str(path))
    assert set(fresh) == set(CLASS_LAYER)
    mine, theirs = model.flow_head.state_dict(), source.flow_head.state_dict()
    for name in source.flow_head.seeded_weight_names():  # remade from the seed, exactly
        assert torch.equal(mine[name], theirs[name]), name
    torch.testing.assert_close(mine["conv3_1.0.weight"], theirs["conv3_1.0.weight"].half().float())
