"""The class layer's start from the pre-trained action-unit layer."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mol.data.cache import VideoEntry
from mol.data.multicache import RunData, VideoRef
from mol.data.synthetic.stream import HEAD_TARGETS, STREAM_AUS
from mol.errors import ConfigError
from mol.model import MOL
from mol.model.pretrained import CLASS_LAYER, read_pretrained, save_shippable
from mol.train.class_start import class_action_units, pretrained_targets, start_class_layer
from mol.train.config import load_config

TARGETS = ("AU1", "AU2", "AU12", "R14")


def run_data(cells_by_label: list[tuple[int, str | None]]) -> RunData:
    def entry(i: int, label: int, cell: str | None) -> VideoEntry:
        return VideoEntry(f"k{i}", "casme2", "sub01", f"v{i}", label, "x", 16, 2, 200.0, -1, -1, -1, -1, (), cell)

    videos = [VideoRef(0, i, entry(i, label, cell)) for i, (label, cell) in enumerate(cells_by_label)]
    return RunData([SimpleNamespace(path=Path("old.h5"))], videos, ["surprise", "happiness", "contempt"])


def test_each_class_row_weighs_the_action_units_its_videos_show():
    data = run_data([(0, "1+2"), (0, "1"), (1, "12+25"), (2, "")])
    matrix = class_action_units(data, data.videos, 3, TARGETS)
    np.testing.assert_allclose(matrix[0], [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(matrix[1], [0, 0, 1, 0])  # AU25 is not a target: left out
    np.testing.assert_allclose(matrix[2], 0)  # no code at all: a row of zeros


def test_a_sided_target_takes_its_sided_code_only():
    data = run_data([(2, "R14"), (1, "L14+12")])
    matrix = class_action_units(data, data.videos, 3, TARGETS)
    np.testing.assert_allclose(matrix[2], [0, 0, 0, 1])
    np.testing.assert_allclose(matrix[1], [0, 0, 1, 0])  # L14 is AU14, not a target here


def test_a_cache_without_action_units_is_named_with_the_fix():
    data = run_data([(0, "1"), (1, None)])
    with pytest.raises(ConfigError, match=r"old\.h5.*mol prepare"):
        class_action_units(data, data.videos, 3, TARGETS)


def test_targets_come_from_the_card_or_the_stream_it_was_trained_on():
    assert pretrained_targets({"targets": ["AU1", "AU2"]}) == ("AU1", "AU2")
    assert pretrained_targets({"config": {"head_motion": False}}) == STREAM_AUS
    assert pretrained_targets({"config": {"head_motion": True}}) == STREAM_AUS + HEAD_TARGETS


@pytest.fixture
def au_weights(tmp_path):
    torch.manual_seed(3)
    source = MOL(num_classes=len(TARGETS), motion_input="diff")
    return save_shippable(source, tmp_path / "w.safetensors", {"targets": list(TARGETS)})


def test_the_class_layer_starts_as_the_mean_of_its_action_units_rows(au_weights):
    state, _, _ = read_pretrained(au_weights)
    weight, bias = (state[k] for k in CLASS_LAYER)
    model = MOL(num_classes=3, motion_input="diff")
    data = run_data([(0, "1+2"), (0, "1"), (1, "12")])
    start = start_class_layer(model, str(au_weights), data, data.videos)
    layer = model.mer_head.fc2
    torch.testing.assert_close(layer.weight[0], 2 / 3 * weight[0] + 1 / 3 * weight[1])
    torch.testing.assert_close(layer.weight[1], weight[2])
    torch.testing.assert_close(layer.bias[1], bias[2])
    torch.testing.assert_close(layer.weight[2], torch.zeros_like(layer.weight[2]))  # no evidence: no weights
    torch.testing.assert_close(layer.bias[2], (layer.bias[0] + layer.bias[1]) / 2)  # and the others' mean bias
    assert start == {"surprise": {"AU1": 0.6667, "AU2": 0.3333}, "happiness": {"AU12": 1.0}, "contempt": {}}


def test_training_videos_that_name_no_detected_action_unit_are_refused(au_weights):
    data = run_data([(0, "25"), (1, "")])
    with pytest.raises(ConfigError, match="class_init: fresh"):
        start_class_layer(MOL(num_classes=3, motion_input="diff"), str(au_weights), data, data.videos)


def test_class_init_needs_pretrained_weights():
    with pytest.raises(ConfigError, match="--init pretrained"):
        load_config(None, ["class_init=action_units"])


def test_a_presets_action_unit_start_gives_way_to_init_scratch(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("init: pretrained\nmotion_input: diff\nclass_init: action_units\n")
    assert load_config(str(preset), []).class_init == "action_units"
    assert load_config(str(preset), ["init=scratch"]).class_init == "fresh"


def test_a_fold_starts_its_class_layer_from_its_own_training_videos(tiny_synthetic_cache, tmp_path):
    from mol.data.multicache import open_caches
    from mol.train.protocols import loso_folds
    from mol.train.trainer import FoldTrainer, training_record

    data = open_caches([tiny_synthetic_cache])
    fold = loso_folds(data.videos)[0]
    options = ["init=pretrained", "motion_input=diff", "train_layers=heads", "class_init=action_units"]
    config = load_config(None, options)
    trainer = FoldTrainer(fold, data, config, tmp_path, seed=0)
    assert set(trainer.class_start) == set(data.classes)
    happiness = trainer.class_start["happiness"]  # the synthetic sheets code happiness with AU6, AU10, AU12
    assert set(happiness) <= {"AU6", "AU10", "AU12"} and "AU12" in happiness
    expected = MOL(num_classes=len(data.classes), motion_input="diff")
    start_class_layer(expected, "pretrained", data, fold.train)
    torch.testing.assert_close(trainer.model.mer_head.fc2.weight, expected.mer_head.fc2.weight)
    record = training_record(config, data, fold, steps=0)  # what `mol predict` names
    assert record.initialization.class_layer == "action_units"
