import json

from mol.cli import main


def test_demo_runs_the_whole_pipeline_and_says_where_outputs_are(tmp_path, capsys):
    out = tmp_path / "demo"
    fast = ["--set=steps=1", "--set=batch_size=2"]
    assert main(["demo", "--out", str(out), "--subjects", "2", "--quiet", *fast]) == 0
    text = capsys.readouterr().out
    for expected in ("metrics.json", "confusion.png", "model.safetensors", "prediction.json", "UF1"):
        assert expected in text
    summary = json.loads((out / "demo.json").read_text())
    probs = summary["prediction"]["probabilities"]
    assert len(probs) == 5 and abs(sum(probs.values()) - 1) < 1e-3
    assert summary["held_out_people"] == ["sub02"]  # of 2 people, the second is tested
    assert summary["video_level"]["n"] == 1 * 5 * 2  # held-out subjects × classes × clips per class
    assert (out / "run" / "confusion.png").stat().st_size > 1000
    # the joint model: each auxiliary head's error beside its trivial baseline, on held-out people
    errors = summary["test_ground_truth_errors"]
    assert all(errors[k] > 0 for k in ("flow_epe_px", "zero_flow_epe_px", "landmark_nme_percent"))
    assert errors["mean_shape_nme_percent"] > 0 and "predicting no motion" in text
    assert summary["prediction"]["flow_epe_px"] > 0
