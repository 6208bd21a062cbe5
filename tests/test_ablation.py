"""`mol ablate`: three runs that differ only in the auxiliary loss weights, one table."""

import json

import pandas as pd
import pytest
import yaml

from mol.cli import main

FAST = ["--set=steps=1", "--set=batch_size=2", "--set=precision=float32"]


def test_ablation_trains_each_variant_on_the_same_folds_and_tabulates_them(tiny_synthetic_cache, tmp_path, capsys):
    out = tmp_path / "ablation"
    args = ["ablate", "--cache", str(tiny_synthetic_cache), "--out", str(out), "--folds", "0", "--quiet", *FAST]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "MER + flow + landmarks" in text and "ablation.json" in text

    configs = {
        v: yaml.safe_load((out / v / "config.yaml").read_text()) for v in ("mer", "mer_flow", "mer_flow_landmarks")
    }
    weights = {v: (c.pop("loss_mer"), c.pop("loss_flow"), c.pop("loss_landmark")) for v, c in configs.items()}
    assert weights == {"mer": (1.0, 0.0, 0.0), "mer_flow": (1.0, 10.0, 0.0), "mer_flow_landmarks": (1.0, 10.0, 0.1)}
    assert configs["mer"] == configs["mer_flow"] == configs["mer_flow_landmarks"]  # nothing else differs

    summary = json.loads((out / "ablation.json").read_text())
    rows = {r["variant"]: r for r in summary["variants"]}
    for name, row in rows.items():
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert row["video_uar"] == pytest.approx(metrics["video_level"]["uar"], abs=1e-4)
        assert row["folds"] == 1 and row["videos"] == 5  # the same held-out subject for every variant
    # each variant reports the errors of exactly the heads it trains
    assert rows["mer"]["test_flow_epe_px"] is None and rows["mer"]["test_landmark_nme_percent"] is None
    assert rows["mer_flow"]["test_flow_epe_px"] > 0 and rows["mer_flow"]["test_landmark_nme_percent"] is None
    assert rows["mer_flow_landmarks"]["test_landmark_nme_percent"] > 0
    assert list(pd.read_csv(out / "ablation.csv")["variant"]) == ["mer", "mer_flow", "mer_flow_landmarks"]
    assert (out / "ablation.png").stat().st_size > 1000

    # rerunning keeps the finished runs; the table still covers every finished variant
    done = out / "mer" / "fold_casme2_sub01" / "done.json"
    stamp = done.stat().st_mtime_ns
    assert main([*args, "--variants", "mer"]) == 0
    assert done.stat().st_mtime_ns == stamp
    again = json.loads((out / "ablation.json").read_text())["variants"]
    assert again == summary["variants"]


def test_ablation_rejects_an_unknown_variant(tiny_synthetic_cache, tmp_path, capsys):
    args = ["ablate", "--cache", str(tiny_synthetic_cache), "--out", str(tmp_path), "--variants", "mer,landmarks"]
    assert main(args) == 2
    assert "unknown variant" in capsys.readouterr().err
