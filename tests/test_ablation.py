"""`mol ablate`: three runs that differ only in the auxiliary loss weights, one table."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from mol.cli import main

FAST = ["--set=steps=1", "--set=batch_size=2", "--set=precision=float32"]


def test_ablation_trains_each_variant_and_seed_on_the_same_folds_and_tabulates_them(
    tiny_synthetic_cache, tmp_path, capsys
):
    out = tmp_path / "ablation"
    args = ["ablate", "--cache", str(tiny_synthetic_cache), "--out", str(out), "--folds", "0", "--quiet", *FAST]
    assert main([*args, "--seeds", "2", "--variants", "mer,mer_flow_landmarks"]) == 0
    text = capsys.readouterr().out
    assert "MER + flow + landmarks" in text and "ablation.json" in text

    variants = ("mer", "mer_flow_landmarks")
    varied = ("loss_mer", "loss_flow", "loss_landmark", "seed")
    rest, weights, seeds = {}, {}, {}
    for v in variants:
        for s in (0, 1):
            config = yaml.safe_load((out / v / f"seed_{s}" / "config.yaml").read_text())
            rest[(v, s)] = {k: x for k, x in config.items() if k not in varied}
            weights[(v, s)] = (config["loss_mer"], config["loss_flow"], config["loss_landmark"])
            seeds[(v, s)] = config["seed"]
    assert {v: weights[(v, 1)] for v in variants} == {"mer": (1.0, 0.0, 0.0), "mer_flow_landmarks": (1.0, 10.0, 0.1)}
    assert len({str(r) for r in rest.values()}) == 1  # nothing else differs between runs
    assert all(seeds[(v, s)] == s for v, s in seeds)

    summary = json.loads((out / "ablation.json").read_text())
    rows = {r["variant"]: r for r in summary["variants"]}
    uf1 = {
        (v, s): json.loads((out / v / f"seed_{s}" / "metrics.json").read_text())["video_level"]["uf1"]
        for v in variants
        for s in (0, 1)
    }
    for name, row in rows.items():
        assert row["seeds"] == 2
        assert row["video_uf1_mean"] == pytest.approx(np.mean([uf1[(name, 0)], uf1[(name, 1)]]), abs=1e-4)
        assert row["video_uf1_sd"] == pytest.approx(np.std([uf1[(name, 0)], uf1[(name, 1)]], ddof=1), abs=1e-4)
    assert rows["mer"]["diff_uf1"] is None
    for name in ("mer_flow_landmarks",):
        paired = np.mean([uf1[(name, s)] - uf1[("mer", s)] for s in (0, 1)])
        assert rows[name]["diff_uf1"] == pytest.approx(paired, abs=1e-4)
        low, high = rows[name]["diff_uf1_ci"]
        assert low <= high
    # each variant reports the errors of exactly the heads it trains, beside their trivial baselines
    assert rows["mer"]["flow_epe_px_mean"] is None and rows["mer"]["landmark_nme_percent_mean"] is None
    assert (
        rows["mer_flow_landmarks"]["landmark_nme_percent_mean"] > 0
        and rows["mer_flow_landmarks"]["mean_shape_nme_percent_mean"] > 0
    )
    assert list(pd.read_csv(out / "ablation.csv")["variant"]) == list(variants)
    assert len(pd.read_csv(out / "ablation_seeds.csv")) == 4
    assert (out / "ablation.png").stat().st_size > 1000 and "ΔUF1" in (out / "ablation.md").read_text()

    # rerunning keeps the finished runs; the table still covers every finished run
    done = out / "mer" / "seed_0" / "fold_casme2_sub01" / "done.json"
    stamp = done.stat().st_mtime_ns
    assert main([*args, "--variants", "mer"]) == 0
    assert done.stat().st_mtime_ns == stamp
    again = json.loads((out / "ablation.json").read_text())["variants"]
    assert again == summary["variants"]


def test_ablation_rejects_an_unknown_variant(tiny_synthetic_cache, tmp_path, capsys):
    args = ["ablate", "--cache", str(tiny_synthetic_cache), "--out", str(tmp_path), "--variants", "mer,landmarks"]
    assert main(args) == 2
    assert "unknown variant" in capsys.readouterr().err
