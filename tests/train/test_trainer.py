"""Trainer helpers that can be checked alone."""

import warnings

import pytest
import torch

from mol.train.config import load_config
from mol.train.trainer import warn_if_slow_precision


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_support_warns(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    config = load_config(None, ["precision=bfloat16"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_slow_precision(config, torch.device("cpu"))
        warn_if_slow_precision(load_config(None, ["precision=float32"]), torch.device("cpu"))
    assert [("emulated" in str(w.message)) for w in caught] == ([] if native else [True])


FAST = ["steps=4", "batch_size=2", "loss_flow=0", "loss_landmark=0", "log_every=1", "precision=float32"]


def test_a_diverged_loss_stops_the_fold_naming_fold_and_step(tiny_synthetic_cache, tmp_path, monkeypatch):
    import mol.train.trainer as trainer
    from mol.train.losses import LossTerms
    from mol.train.run import train_run

    calls = {"n": 0}
    real = trainer.joint_loss

    def diverging(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            return LossTerms(*(t * float("nan") for t in terms))
        return terms

    monkeypatch.setattr(trainer, "joint_loss", diverging)
    with pytest.raises(trainer.TrainingError, match=r"fold casme2_sub01: the loss became nan at step 3"):
        train_run([str(tiny_synthetic_cache)], tmp_path / "run", load_config(None, FAST), progress=False)
    assert not (tmp_path / "run" / "fold_casme2_sub01" / "model.safetensors").exists()


def test_non_finite_weights_are_never_saved(tmp_path):
    from mol.model.checkpoint import save_checkpoint
    from mol.model.flow_hist import FlowHistogram
    from mol.model.official import CheckpointError

    model = FlowHistogram()
    model.bias[0] = float("inf")
    with pytest.raises(CheckpointError, match="non-finite weights"):
        save_checkpoint(model, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("classes", [3, 7])
def test_num_classes_must_match_the_cache(tiny_synthetic_cache, tmp_path, classes):
    from mol.train.run import train_run

    config = load_config(None, [*FAST, f"num_classes={classes}"])
    with pytest.raises(ValueError, match=f"num_classes={classes} but the caches hold 5 classes"):
        train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, progress=False)
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_checkpoints_record_how_and_on_what_their_heads_were_trained(tiny_synthetic_cache, tmp_path):
    import json

    from mol.model.checkpoint import read_checkpoint_metadata
    from mol.train.run import train_run

    config = load_config(None, [*FAST, "steps=2"])
    train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, folds=["0"], progress=False)
    record = json.loads(
        read_checkpoint_metadata(tmp_path / "run" / "fold_casme2_sub01" / "model.safetensors")["training"]
    )
    assert record["trained_heads"] == ["mer"] and record["loss_weights"]["flow"] == 0.0
    assert record["synthetic"] is True and record["flow"] == ["exact"] and record["steps"] == 2
    assert (record["subjects"], record["videos"], record["fps"]) == (2, 10, [200.0])
