"""Baselines train and test through the same run, folds and result files as MOL."""

import json

import pandas as pd
import pytest

from mol.cli import main
from mol.data.apex import onset_apex_indices
from mol.data.cache import Cache, CacheError, VideoEntry
from mol.model.checkpoint import load_checkpoint, read_checkpoint_metadata
from mol.train.config import load_config
from mol.train.run import train_run


def entry(**fields):
    base = dict(key="d__s__v", dataset="d", subject="s", video_id="v", label=0, emotion="x", num_frames=40)
    base.update(flow_stride=5, fps=200.0, onset=-1, apex=-1, offset=-1, first_frame=1)
    base.update(fields)
    return VideoEntry(**base)


def test_onset_and_apex_from_sheet_numbers():
    assert onset_apex_indices(entry(onset=46, apex=59, offset=80, first_frame=46)) == (0, 13, "annotated apex")
    # no apex (SMIC): the middle of the annotated interval, else of the clip
    assert onset_apex_indices(entry(onset=11, offset=31)) == (10, 20, "middle of the annotated interval")
    assert onset_apex_indices(entry()) == (0, 20, "middle of the clip")
    with pytest.raises(CacheError, match="rerun `mol prepare`"):
        onset_apex_indices(entry(first_frame=-1))


@pytest.mark.parametrize("model", ["flow-hist", "ststnet"])
def test_baseline_runs_through_train_evaluate_and_compare(tiny_synthetic_cache, tmp_path, model):
    config = load_config(None, [f"model={model}", "epochs=5"] if model == "ststnet" else [f"model={model}"])
    results = train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, progress=False)
    videos = Cache(tiny_synthetic_cache).videos
    assert results["video_level"]["n"] == len(videos) == 15
    folds = sorted((tmp_path / "run").glob("fold_*"))
    assert len(folds) == 3
    done = json.loads((folds[0] / "done.json").read_text())
    assert done["model"] == model and done["apex"] == {"annotated apex": 15} and "tvl1" in done["input"]
    table = pd.read_csv(folds[0] / "predictions.csv")
    assert len(table) == 5 and table.filter(regex="^p_").sum(axis=1).round(4).eq(1).all()
    restored = load_checkpoint(folds[0] / "model.safetensors", expected=None)
    assert restored.model_name == model
    # what `mol predict` needs to feed it as it was trained, and what it scored on held-out people
    record = json.loads(read_checkpoint_metadata(folds[0] / "model.safetensors")["training"])
    assert record["input"] == "onset_apex_flow" and record["input_flow"] == ["tvl1"]
    assert record["align"] == ["per-frame"] and record["trained_heads"] == ["mer"]
    assert record["held_out"]["videos"] == 5 and 0 <= record["held_out"]["video_uf1"] <= 1
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "metrics.json").is_file() and (tmp_path / "run" / "curves.png").is_file()


def test_unknown_model_and_unknown_setting(tiny_synthetic_cache, tmp_path):
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        load_config(None, ["model=svm"])
    config = load_config(None, ["model=flow-hist", "epochs=3"])
    with pytest.raises(ValueError, match="does not take the setting"):
        train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, progress=False)
