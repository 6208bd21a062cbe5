"""`mol train`, `mol evaluate`, `mol aggregate` end to end on a tiny synthetic set."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from mol.cli import main
from mol.train.config import load_config
from mol.train.metrics import classification_metrics, confusion_matrix
from mol.train.run import train_run

FAST = ["loss_flow=0", "loss_landmark=0", "batch_size=4", "steps=3", "precision=float32", "checkpoint_every=1"]


@pytest.fixture(scope="module")
def cache(tiny_synthetic_cache):
    return tiny_synthetic_cache


def test_train_writes_results_consistent_with_predictions(cache, tmp_path):
    results = train_run([str(cache)], tmp_path / "run", load_config("synthetic-demo", FAST), progress=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.json", "folds.csv", "per_dataset.csv", "confusion.png", "curves.png"):
        assert (run / name).is_file(), name
    folds = sorted(p.name for p in run.glob("fold_*"))
    assert folds == ["fold_casme2_sub01", "fold_casme2_sub02", "fold_casme2_sub03"]
    assert all((run / f / "model.safetensors").is_file() and not (run / f / "resume.pt").exists() for f in folds)
    table = pd.concat(pd.read_csv(run / f / "predictions.csv") for f in folds)
    probs = table[[c for c in table.columns if c.startswith("p_")]].to_numpy()
    expected = classification_metrics(confusion_matrix(table["label"], probs.argmax(1), 5))
    assert results["clip_level"]["uf1"] == pytest.approx(expected["uf1"])
    assert results["video_level"]["n"] == 15 and results["oracle"] is None
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["clip_level"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert "last step" in saved["model_selection"][0]
    events = list((run / folds[0] / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100


def test_joint_objective_trains_all_heads_and_reports_their_errors(cache, tmp_path):
    config = load_config(
        "synthetic-demo", ["batch_size=2", "steps=1", "precision=float32", "loss_flow=10", "loss_landmark=0.1"]
    )
    results = train_run([str(cache)], tmp_path / "joint", config, folds=["0"], progress=False)
    errors = results["test_ground_truth_errors"]
    assert errors["flow_epe_px"] > 0 and errors["landmark_nme_percent"] > 0
    # the trivial baselines beside them, recomputed here from the cache: fold 0 tests sub01
    from mol.data.cache import Cache
    from mol.data.clips import ClipDataset

    c = Cache(cache)
    tested = [i for i, v in enumerate(c.videos) if v.subject == "sub01"]
    clips = ClipDataset(c, tested)
    zero = np.mean([float(clips[i]["flow"].norm(dim=0).mean()) for i in range(len(clips))])
    assert errors["zero_flow_epe_px"] == pytest.approx(zero, rel=1e-4)
    trained = [v for v in c.videos if v.subject != "sub01"]
    shape = np.concatenate([c.group(v.key)["landmarks"][()] for v in trained]).mean(0) - 8
    nme = []
    for i in range(len(clips)):
        true = clips[i]["landmarks"].numpy().T.reshape(7, 68, 2)
        iod = np.linalg.norm(true[:, 36:42].mean(1) - true[:, 42:48].mean(1), axis=1)
        nme.append((np.linalg.norm(shape - true, axis=2).mean(1) / iod).mean() * 100)
    assert errors["mean_shape_nme_percent"] == pytest.approx(np.mean(nme), rel=1e-4)


def test_killed_run_resumes_to_the_same_result(cache, tmp_path, monkeypatch):
    config = load_config("synthetic-demo", [*FAST, "steps=4"])
    reference = train_run([str(cache)], tmp_path / "whole", config, folds=["0"], progress=False)

    import mol.train.step as step

    real, calls = step.joint_loss, []

    def dies_at_step_three(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(step, "joint_loss", dies_at_step_three)
    with pytest.raises(KeyboardInterrupt):
        train_run([str(cache)], tmp_path / "killed", config, folds=["0"], progress=False)
    assert (tmp_path / "killed" / "fold_casme2_sub01" / "resume.pt").is_file()
    monkeypatch.setattr(step, "joint_loss", real)
    resumed = train_run([str(cache)], tmp_path / "killed", config, folds=["0"], progress=False)
    a = pd.read_csv(tmp_path / "whole" / "fold_casme2_sub01" / "predictions.csv")
    b = pd.read_csv(tmp_path / "killed" / "fold_casme2_sub01" / "predictions.csv")
    np.testing.assert_allclose(a.filter(regex="^p_").to_numpy(), b.filter(regex="^p_").to_numpy(), atol=1e-5)
    assert resumed["clip_level"] == reference["clip_level"]


def test_folds_split_over_runs_aggregate_to_the_single_run(cache, tmp_path, capsys):
    args = ["train", "--cache", str(cache), "--config", "synthetic-demo", "--quiet", *[f"--set={s}" for s in FAST]]
    assert main([*args, "--out", str(tmp_path / "all")]) == 0
    assert main([*args, "--out", str(tmp_path / "a"), "--folds", "0"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--folds", "casme2_sub02,2"]) == 0
    capsys.readouterr()
    assert main(["aggregate", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "metrics.json").read_text())
    single = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert merged["video_level"]["confusion"] == single["video_level"]["confusion"]
    assert main(["evaluate", str(tmp_path / "all")]) == 0
    assert "UF1" in capsys.readouterr().out
    # the same run directory with another configuration is refused
    assert main([*args, "--out", str(tmp_path / "all"), "--set", "lr=0.01"]) == 2
    assert "another configuration" in capsys.readouterr().err
    # a run made before a setting existed resumes when that setting is at its default
    saved = yaml.safe_load((tmp_path / "all" / "config.yaml").read_text())
    del saved["log_every"]
    (tmp_path / "all" / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    assert main([*args, "--out", str(tmp_path / "all")]) == 0
    assert main([*args, "--out", str(tmp_path / "all"), "--set", "log_every=5"]) == 2
    assert "log_every" in capsys.readouterr().err


def test_validation_selection_and_labelled_oracle(cache, tmp_path):
    config = load_config("synthetic-demo", [*FAST, "val_subjects=1", "eval_every=1", "report_oracle=true"])
    results = train_run([str(cache)], tmp_path / "sel", config, folds=["0"], progress=False)
    assert results["model_selection"] == ["validation UF1"]
    assert "OPTIMISTIC" in results["oracle"]["note"]
    assert "OPTIMISTIC" in (tmp_path / "sel" / "results.txt").read_text()


def test_missing_or_foreign_cache_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--cache", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "none.h5" in err and "\n" not in err
    fake = tmp_path / "fake.h5"
    fake.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    assert main(["train", "--cache", str(fake), "--out", str(tmp_path / "r")]) == 2
    assert "fake.h5" in capsys.readouterr().err


@pytest.mark.parametrize("early_stopping", [False, True])
def test_data_parallel_with_torchrun_on_cpu(cache, tmp_path, early_stopping):
    """With patience, rank 0 alone validates; every rank must stop with it (it used to hang)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    stopping = ["val_subjects=1", "eval_every=1", "patience=1", "steps=6"] if early_stopping else []
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(29517 + early_stopping),
        "-m",
        "mol",
        "train",
        "--cache",
        str(cache),
        "--out",
        str(tmp_path / "ddp"),
        "--config",
        "synthetic-demo",
        "--folds",
        "0",
        "--quiet",
        *[f"--set={s}" for s in [*FAST, *stopping]],
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    done = json.loads((tmp_path / "ddp" / "fold_casme2_sub01" / "done.json").read_text())
    if early_stopping:
        assert done["steps"] < 6 and done["selection"] == "validation UF1"
    assert json.loads((tmp_path / "ddp" / "metrics.json").read_text())["clip_level"]["n"] > 0


def test_loader_workers_give_the_same_training_as_the_main_process(cache, tmp_path):
    augmenting = [*FAST, "crop_jitter=4", "flip=true", "batch_size=8", "steps=5"]  # 3 batches an epoch: two epochs
    runs = {}
    for workers in (0, 2):
        config = load_config("synthetic-demo", [*augmenting, f"workers={workers}"])
        train_run([str(cache)], tmp_path / f"w{workers}", config, folds=["0"], progress=False)
        runs[workers] = pd.read_csv(tmp_path / f"w{workers}" / "fold_casme2_sub01" / "predictions.csv")
    np.testing.assert_allclose(
        runs[0].filter(regex="^p_").to_numpy(), runs[2].filter(regex="^p_").to_numpy(), atol=1e-6
    )
