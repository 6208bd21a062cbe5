"""Trainer helpers that can be checked alone."""

import itertools
import warnings

import numpy as np
import pytest
import torch

from mol.data.cache import Cache
from mol.train.config import load_config
from mol.train.step import warn_if_slow_precision


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
    import mol.train.step as step
    from mol.errors import TrainingError
    from mol.train.losses import LossTerms
    from mol.train.run import train_run

    calls = {"n": 0}
    real = step.joint_loss

    def diverging(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            return LossTerms(*(t * float("nan") for t in terms))
        return terms

    monkeypatch.setattr(step, "joint_loss", diverging)
    with pytest.raises(TrainingError, match=r"fold casme2_sub01: the loss became nan at step 3"):
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
    held_out = record["held_out"]  # what the fold's model scored on its test person
    assert (held_out["subjects"], held_out["chance_uar"]) == (1, 0.2) and held_out["flow_epe_px"] is None
    assert held_out["videos"] == 5 and 0.0 <= held_out["video_uar"] <= 1.0


def test_held_out_scores_average_each_videos_clips_and_keep_each_heads_baseline():
    import pandas as pd

    from mol.train.results import held_out_scores

    table = pd.DataFrame(  # video a (label 1): its clips disagree, their mean says 1; video b (label 0): says 1
        {
            "dataset": ["casme2"] * 4,
            "subject": ["s1", "s1", "s1", "s2"],
            "video": ["a", "a", "a", "b"],
            "label": [1, 1, 1, 0],
            "p_x": [0.6, 0.55, 0.0, 0.3],
            "p_y": [0.4, 0.45, 1.0, 0.7],
            "flow_epe": [0.2, 0.4, np.nan, 0.3],
            "zero_flow_epe": [0.25] * 4,
            "landmark_nme": [np.nan] * 4,
        }
    )
    scores = held_out_scores(table, ["x", "y"], subjects=2)
    assert (scores.videos, scores.video_uar, scores.chance_uar) == (2, 0.5, 0.5)
    assert scores.head_error("flow") == (pytest.approx(0.3), 0.25)
    assert scores.landmark_nme_percent is None and scores.head_error("landmarks") is None
    assert held_out_scores(table.iloc[:0], ["x", "y"], subjects=0) is None


def test_onset_apex_sampling_trains_and_tests_one_clip_per_video_and_is_recorded(tiny_synthetic_cache, tmp_path):
    import csv
    import json

    from mol.data.cache import Cache
    from mol.model.checkpoint import read_checkpoint_metadata
    from mol.train.run import train_run

    config = load_config(None, [*FAST, "steps=2", "clip_sampling=onset_apex"])
    train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, folds=["0"], progress=False)
    fold = tmp_path / "run" / "fold_casme2_sub01"
    record = json.loads(read_checkpoint_metadata(fold / "model.safetensors")["training"])
    assert record["clip_sampling"] == "onset_apex"
    starts = {v.video_id: v.onset_apex_frames[0] for v in Cache(tiny_synthetic_cache).videos if v.subject == "sub01"}
    with open(fold / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["video"]: int(r["clip_start"]) for r in rows} == starts and len(rows) == len(starts)


def test_the_reference_fcc_initialisation_draws_embeddings_and_biases_from_a_unit_normal():
    from mol.model.fcc import FCC
    from mol.train.trainer import initial_model

    def stds(model):
        fcc = next(m for m in model.modules() if isinstance(m, FCC))
        pos = torch.cat([fcc.pos_h1, fcc.pos_w1, fcc.pos_h2, fcc.pos_w2]).detach()
        bias = torch.cat([fcc.bias_h1, fcc.bias_w1, fcc.bias_h2, fcc.bias_w2]).detach()
        return float(pos.std()), float(bias.std())

    reference = stds(initial_model(load_config(None, ["fcc_init=randn"]), 5, seed=0))
    default = stds(initial_model(load_config(None, []), 5, seed=0))
    assert all(0.9 < s < 1.1 for s in reference)  # 8192 and 256 draws of N(0, 1)
    assert default[0] < 0.05 and default[1] == 0.0


def test_reference_eval_mode_freezes_batchnorm_statistics_after_the_first_epoch(tiny_synthetic_cache, tmp_path):
    """Train one epoch, and one epoch plus two steps: with eval_mode_after_epochs=1 the extra
    steps change weights but no BatchNorm running statistic; without it they change both."""
    from mol.model.checkpoint import load_checkpoint
    from mol.train.run import train_run
    from mol.train.sampling import EpochBatchSampler
    from mol.train.step import trains_in_train_mode

    cache = Cache(tiny_synthetic_cache)
    train_clips = sum(v.num_frames // 8 for v in cache.videos if v.subject != "sub01")
    epoch = EpochBatchSampler(train_clips, 8, 0).batches_per_epoch

    def final_model(frozen: int, steps: int):
        config = load_config(None, [*FAST, "batch_size=8", f"steps={steps}", f"eval_mode_after_epochs={frozen}"])
        out = tmp_path / f"run_{frozen}_{steps}"
        train_run([str(tiny_synthetic_cache)], out, config, folds=["0"], progress=False)
        return load_checkpoint(out / "fold_casme2_sub01" / "model.safetensors").state_dict()

    one = final_model(1, epoch)  # the first epoch trains in train mode either way
    for frozen in (1, 0):
        more = final_model(frozen, epoch + 2)
        stats_equal = all(torch.equal(one[k], more[k]) for k in one if k.endswith("running_mean"))
        weights_equal = torch.equal(one["mer_head.fc2.weight"], more["mer_head.fc2.weight"])
        assert stats_equal == bool(frozen) and not weights_equal
    config = load_config(None, ["eval_mode_after_epochs=2"])
    assert [trains_in_train_mode(config, s, 3) for s in (0, 5, 6, 9)] == [True, True, False, False]


def test_resume_restores_the_loss_scale_patience_counter_and_random_state(tiny_synthetic_cache, tmp_path):
    """float16's GradScaler lowers its scale after overflowing steps and patience counts
    validations: both, and dropout's random state, continue after a resume."""
    from mol.data.multicache import open_caches
    from mol.train.protocols import loso_folds
    from mol.train.trainer import FoldTrainer

    data = open_caches([tiny_synthetic_cache])
    fold = loso_folds(data.videos)[0]
    config = load_config(None, [*FAST, "precision=float16"])
    before = FoldTrainer(fold, data, config, tmp_path, seed=0)
    assert before.scaler.is_enabled()
    before.scaler.scale(torch.ones(()))
    before.scaler.update(new_scale=1024.0)
    before.progress.stale, before.progress.step = 2, 7
    torch.manual_seed(5)
    before.save_resume()
    expected = torch.rand(4)
    after = FoldTrainer(fold, data, config, tmp_path, seed=0)  # reseeds the global generator
    assert after.scaler.get_scale() == 65536.0 and after.progress.step == 0
    after.resume()
    assert after.scaler.get_scale() == 1024.0 and (after.progress.stale, after.progress.step) == (2, 7)
    torch.testing.assert_close(torch.rand(4), expected)


def test_learning_rate_warms_up_linearly_then_decays_to_zero_on_a_cosine():
    from mol.train.step import learning_rate

    config = load_config(None, ["lr=1e-3", "warmup_steps=4", "lr_decay=cosine", "steps=14"])
    rates = [learning_rate(config, s) for s in range(14)]
    assert rates[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert rates[4] == pytest.approx(1e-3) and rates[9] == pytest.approx(5e-4)  # half-way through the decay
    assert all(a > b for a, b in itertools.pairwise(rates[4:])) and rates[-1] < 3e-5
    assert learning_rate(load_config(None, ["lr=1e-3"]), 500) == 1e-3


def test_baseline_head_initialisation_starts_flow_at_zero_and_landmarks_at_the_mean_shape():
    from mol.train.trainer import initial_model

    shape = np.stack([np.linspace(30, 90, 68), np.linspace(40, 100, 68)], axis=1).astype(np.float32)
    x = torch.randn(2, 1, 8, 128, 128)
    with torch.no_grad():
        out = initial_model(load_config(None, ["head_init=baseline"]), 5, seed=0, mean_shape=shape).eval()(x)
        reference = initial_model(load_config(None, []), 5, seed=0).eval()(x)
    assert torch.equal(out.flow, torch.zeros_like(out.flow)) and reference.flow.abs().mean() > 0.01
    points = out.landmarks.unflatten(1, (68, 2)).permute(0, 3, 1, 2)  # (B, 7, 68, 2)
    assert (points - torch.from_numpy(shape)).abs().max() < 1.0  # within a pixel of the mean shape
    assert (reference.landmarks.unflatten(1, (68, 2)).permute(0, 3, 1, 2) - torch.from_numpy(shape)).abs().max() > 5


def test_clip_nme_counts_only_frames_with_a_detected_face():
    from mol.train.evaluation import clip_nme

    true = torch.rand(1, 7, 68, 2) * 60 + 30
    pred = true.clone()
    pred[0, 2] += 1000.0  # a borrowed frame, far off
    found = torch.ones(1, 7, dtype=torch.bool)
    assert clip_nme(pred, true, found)[0] > 100
    found[0, 2] = False
    assert clip_nme(pred, true, found)[0] == 0.0
    assert torch.isnan(clip_nme(pred, true, torch.zeros(1, 7, dtype=torch.bool)))[0]


def test_cuda_random_state_is_saved_and_restored_with_the_cpu_state(monkeypatch):
    """Dropout on a GPU draws from the device's generator: a resume restores it, on that device.
    (Exercised through a stand-in generator where no GPU is present.)"""
    from mol.train.step import random_state, restore_random_state

    device = torch.device("cuda", 1)
    generator = {"state": torch.arange(4, dtype=torch.uint8)}
    seen_devices = []

    def get_state(dev):
        seen_devices.append(dev)
        return generator["state"].clone()

    def set_state(state, dev):
        seen_devices.append(dev)
        generator["state"] = state.clone()

    monkeypatch.setattr(torch.cuda, "get_rng_state", get_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state", set_state)
    saved = random_state(device)
    expected_cpu = torch.rand(3)
    generator["state"] = torch.full((4,), 9, dtype=torch.uint8)  # training draws advance both
    torch.rand(5)
    restore_random_state(saved, device)
    assert torch.equal(generator["state"], torch.arange(4, dtype=torch.uint8))
    torch.testing.assert_close(torch.rand(3), expected_cpu)
    assert seen_devices == [device, device]


def test_shared_f5c_init_starts_block_b_as_a_copy_of_block_a():
    """f5c_init=shared: at the start both frames of a pair go through the same function (so the
    MER head sees their difference); the blocks stay separate parameters that train apart."""
    from mol.train.trainer import initial_model

    r = torch.randn(3, 128, 16, 16)
    shared = initial_model(load_config(None, ["f5c_init=shared"]), 5, seed=0).eval()
    independent = initial_model(load_config(None, []), 5, seed=0).eval()
    with torch.no_grad():
        torch.testing.assert_close(shared.f5c_a(r), shared.f5c_b(r), rtol=0, atol=0)
        assert not torch.allclose(independent.f5c_a(r), independent.f5c_b(r))
    pairs = zip(shared.f5c_a.parameters(), shared.f5c_b.parameters(), strict=True)
    assert all(a.data_ptr() != b.data_ptr() for a, b in pairs)


def test_balanced_classes_gives_the_loader_every_training_clips_label(tiny_synthetic_cache, tmp_path, monkeypatch):
    import mol.train.trainer as trainer
    from mol.train.run import train_run

    seen = {}

    def stop(dataset, *args, labels=None, **kwargs):
        seen["labels"], seen["dataset"] = labels, dataset
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "make_train_loader", stop)
    for balanced in (False, True):
        config = load_config(None, [*FAST, f"balanced_classes={str(balanced).lower()}"])
        with pytest.raises(KeyboardInterrupt):
            train_run([str(tiny_synthetic_cache)], tmp_path / f"run{balanced}", config, folds=["0"], progress=False)
        dataset = seen["dataset"]
        expected = [dataset[i]["label"] for i in range(len(dataset))] if balanced else None
        assert seen["labels"] == expected


FEATURES = ("conv_stack.", "f5c_a.", "f5c_b.")


@pytest.mark.parametrize(
    "layers, frozen, trained",
    [
        ("heads", FEATURES, "mer_head.fc1.weight"),
        ("class_layer", (*FEATURES, "mer_head.conv3d.", "mer_head.fc1."), "mer_head.fc2.weight"),
    ],
)
def test_train_layers_trains_only_the_layers_it_names(tiny_synthetic_cache, tmp_path, layers, frozen, trained):
    from mol.model.checkpoint import load_checkpoint
    from mol.train.run import train_run
    from mol.train.trainer import initial_model

    config = load_config(None, [*FAST, "batch_size=4", "steps=3", f"train_layers={layers}"])
    train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, folds=["0"], progress=False)
    end = load_checkpoint(tmp_path / "run" / "fold_casme2_sub01" / "model.safetensors").state_dict()
    torch.manual_seed(0)  # fold 0's seed: its model starts as this one
    start = initial_model(config, len(end["mer_head.fc2.bias"]), seed=0).state_dict()
    kept = [k for k in start if k.startswith(frozen)]
    assert kept and all(torch.equal(start[k], end[k]) for k in kept)
    assert not torch.equal(start[trained], end[trained])


def test_heads_only_from_the_shipped_weights_freezes_the_pretrained_features():
    from mol.model.pretrained import SHIPPED_FILE, read_pretrained
    from mol.train.trainer import initial_model

    config = load_config(None, ["init=pretrained", "motion_input=diff", "train_layers=heads"])
    model = initial_model(config, 5, seed=0)
    shipped, _, _ = read_pretrained(SHIPPED_FILE)
    features = [k for k in shipped if k.startswith(("conv_stack.", "f5c_a.", "f5c_b."))]
    state = model.state_dict()
    assert features and all(torch.equal(state[k], shipped[k].to(state[k].dtype)) for k in features)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(("conv_stack.", "f5c_a.", "f5c_b.")) for n in frozen)
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith("mer_head."))
