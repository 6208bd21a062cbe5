"""One held-out person's videos from a run, by either spelling of the subject."""

import pandas as pd
import pytest
from seed_comparison import only_subject

from mol.train.compare import RunVideos


def run() -> RunVideos:
    table = pd.DataFrame(
        {
            "dataset": ["casme2", "casme2", "samm", "casme2"],
            "subject": ["sub01", "sub02", "sub02", "sub02"],
            "video": ["a", "b", "c", "d"],
            "label": [0, 1, 2, 3],
            "pred": [0, 1, 2, 0],
        }
    )
    return RunVideos("r", "mol", table, ["a", "b", "c", "d"], 0.0)


def test_dataset_and_subject_keeps_that_person_only():
    assert only_subject(run(), "casme2/sub02").table["video"].tolist() == ["b", "d"]


def test_bare_subject_keeps_it_in_every_dataset():
    assert only_subject(run(), "sub02").table["video"].tolist() == ["b", "c", "d"]


def test_unknown_subject_is_refused():
    with pytest.raises(SystemExit, match="sub09"):
        only_subject(run(), "sub09")


def test_differences_are_paired_seed_by_seed_and_shown(monkeypatch):
    import seed_comparison

    labels = [0, 1, 2, 0, 1, 2]
    predictions = {
        "ref-s0": [0, 1, 2, 1, 2, 0],  # 3 of 6 right
        "ref-s1": [0, 1, 2, 0, 2, 0],  # 4 of 6
        "new-s0": [0, 1, 2, 0, 1, 2],  # 6 of 6: +1 accuracy over its own seed's reference
        "new-s1": [0, 1, 2, 1, 2, 0],  # 3 of 6: below its seed's reference
    }

    def fake_run(path):
        table = pd.DataFrame(
            {
                "dataset": "casme2",
                "subject": ["sub01", "sub02", "sub03"] * 2,
                "video": list("abcdef"),
                "label": labels,
                "pred": predictions[path.name],
            }
        )
        return RunVideos(path.name, "mol", table, ["x", "y", "z"], 0.0)

    monkeypatch.setattr(seed_comparison, "load_run_videos", fake_run)
    groups = seed_comparison.parse_groups(["ref=ref-s0,ref-s1", "new=new-s0,new-s1"])
    result = seed_comparison.compare_seeds(groups, resamples=50, seed=0)
    new = result["recipes"][1]
    by_seed = new["delta_accuracy_by_seed"]
    assert by_seed == pytest.approx([3 / 6, -1 / 6])
    assert new["delta_accuracy"] == pytest.approx(sum(by_seed) / 2)
    assert "delta_uf1_by_seed" not in result["recipes"][0]  # the reference has no difference
    text = seed_comparison.markdown(result)
    shown = ", ".join(f"{d:+.3f}" for d in new["delta_uf1_by_seed"])
    assert f"| {shown} |" in text
