"""Official-checkpoint import: key mapping, strict checking, safe file loading."""

import argparse

import pytest
import torch

from mol.model import MOL, CheckpointError, from_official, to_official_state_dict
from mol.model.official import load_official_state_dict, official_to_ours, ours_to_official

from parity import official_keys, official_state_dict


@pytest.fixture(scope="module")
def official5():
    return official_state_dict(5)


def test_key_mapping_is_a_bijection_on_used_keys():
    keys = [k for k, _ in official_keys(5)]
    used = [k for k in keys if official_to_ours(k) is not None]
    assert len(used) == len(keys) - 2 * 9  # two FCC feed-forward nets of 9 entries are dropped
    ours = {official_to_ours(k) for k in used}
    assert ours == set(MOL(num_classes=5).state_dict())
    assert all(ours_to_official(official_to_ours(k)) == k for k in used)


def test_export_round_trips_to_the_official_layout(official5):
    model = from_official(official5)
    exported = to_official_state_dict(model)
    for key, value in exported.items():
        assert value.shape == official5[key].shape, key
        torch.testing.assert_close(value, official5[key])


def test_class_count_is_read_from_the_checkpoint(official5):
    assert from_official(official5).num_classes == 5
    assert from_official(official_state_dict(3)).num_classes == 3
    with pytest.raises(CheckpointError, match="5-class"):
        from_official(official5, num_classes=3)


def test_missing_key_is_named(official5):
    broken = dict(official5)
    del broken["flownet.conv4.0.weight"]
    with pytest.raises(CheckpointError, match=r"missing keys: flownet\.conv4\.0\.weight"):
        from_official(broken)


def test_unexpected_key_is_named(official5):
    broken = dict(official5, **{"flownet.extra_layer.weight": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"unexpected keys: flownet\.extra_layer\.weight"):
        from_official(broken)


def test_wrong_shape_is_named(official5):
    broken = dict(official5)
    broken["CCC_1.conv1.weight"] = torch.zeros(256, 256)  # missing the singleton conv axis
    with pytest.raises(CheckpointError, match=r"wrong shapes: CCC_1\.conv1\.weight \(256, 256\)"):
        from_official(broken)


def test_only_the_unused_feed_forward_weights_may_be_absent(official5):
    without_ffn = {k: v for k, v in official5.items() if ".ffn." not in k}
    model = from_official(without_ffn)
    torch.testing.assert_close(model.f5c_b.ccc.self_weight, official5["CCC_2.conv1.weight"][:, 0, :])


def test_our_own_layout_is_not_mistaken_for_official():
    with pytest.raises(CheckpointError, match="not an official MOL"):
        from_official(MOL().state_dict())


def test_pth_file_with_wrapper_and_module_prefix(tmp_path, official5):
    path = tmp_path / "ref.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in official5.items()}, "epoch": 3}, path)
    model = from_official(path, num_classes=5)
    torch.testing.assert_close(model.conv_stack.convs[0].weight, official5["conv_stack.conv_stack.0.weight"])


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match=r"broken\.pth: cannot be read"):
        load_official_state_dict(path)


def test_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        load_official_state_dict(path)


def test_arbitrary_pickles_are_refused(tmp_path):
    path = tmp_path / "pickle.pth"
    torch.save({"x": argparse.Namespace(code="anything")}, path)  # not on weights_only's allow-list
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_official_state_dict(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        from_official(tmp_path / "nope.pth")
