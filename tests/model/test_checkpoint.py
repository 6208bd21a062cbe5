"""Our safetensors checkpoints rebuild their model alone; bad files get clear errors."""

import json

import pytest
import torch
from safetensors.torch import save_file

from mol.model import MOL, CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_keeps_configuration_and_outputs(tmp_path):
    model = MOL(num_classes=3, k=3, ccc_neighbors="channels", dropout=0.2).eval()
    path = save_checkpoint(model, tmp_path / "run" / "fold.safetensors")
    loaded = load_checkpoint(path).eval()
    assert loaded.config == model.config
    x = torch.randn(1, 1, 8, 128, 128)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x), strict=True):
            torch.testing.assert_close(a, b)
    assert [p.name for p in path.parent.iterdir()] == ["fold.safetensors"]  # no temp file left


def test_corrupt_checkpoint(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00" * 40)
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: not a readable safetensors"):
        load_checkpoint(path)


def test_safetensors_without_mol_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without MOL metadata"):
        load_checkpoint(path)


def test_weights_that_disagree_with_the_stored_configuration(tmp_path):
    state = {k: v.contiguous() for k, v in MOL(num_classes=5).state_dict().items()}
    path = tmp_path / "mismatch.safetensors"
    meta = {"format": "mol-checkpoint", "format_version": "1", "config": json.dumps({"num_classes": 3})}
    save_file(state, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=r"wrong shapes .*mer_head\.fc2\.weight"):
        load_checkpoint(path)


def test_reference_pth_points_to_import_command(tmp_path):
    path = tmp_path / "ref.pth"
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="import-official"):
        load_checkpoint(path)
