"""mol compare: the paired bootstrap over subjects, checked on hand-made runs."""

import json

import numpy as np
import pytest
import yaml

from mol.cli import main
from mol.train.compare import (
    bootstrap_indices,
    interval,
    leave_subject_out_priors,
    paired_bootstrap,
    trivial_predictions,
)

CLASSES = ["a", "b"]


def write_run(root, name, correct_subjects, model="mol"):
    """Two subjects with two videos each (one of class a, one of class b); the run predicts
    every video of ``correct_subjects`` right and every other video wrong."""
    run = root / name
    fold = run / "fold_all"
    fold.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": model}))
    (run / "classes.json").write_text(json.dumps(CLASSES))
    (fold / "done.json").write_text(json.dumps({"fold": f"{name}_all", "seconds": 3.0}))
    lines = ["dataset,subject,video,clip_start,label,p_a,p_b,flow_epe,landmark_nme"]
    for subject in ("s1", "s2"):
        for label in (0, 1):
            right = subject in correct_subjects
            p_b = float(label == 1) if right else float(label == 0)
            lines.append(f"d,{subject},{subject}_{label},0,{label},{1 - p_b},{p_b},nan,nan")
    (fold / "predictions.csv").write_text("\n".join(lines) + "\n")
    return run


def test_paired_bootstrap_of_a_hand_made_pair(tmp_path):
    """A is right on subject s1 only, B on both. Resampling two subjects: {s1,s1} gives a
    difference in accuracy of 0, {s1,s2} or {s2,s1} 0.5, {s2,s2} 1; probabilities ¼, ½, ¼."""
    first = write_run(tmp_path, "A", {"s1"})
    second = write_run(tmp_path, "B", {"s1", "s2"}, model="ststnet")
    args = [str(first), str(second), "--out", str(tmp_path / "cmp"), "--resamples", "4000", "--names", "A,B"]
    assert main(["compare", *args]) == 0
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    rows = {row["run"]: row for row in result["rows"] if row["section"] == "all"}
    assert rows["A"]["accuracy"] == 0.5 and rows["B"]["accuracy"] == 1.0
    assert rows["B"]["accuracy_diff"] == pytest.approx(0.5)
    assert rows["B"]["accuracy_diff_ci"] == [0.0, 1.0]
    assert rows["A"]["accuracy_diff_ci"] == [0.0, 0.0] and rows["B"]["model"] == "ststnet"
    for name in ("compare.md", "compare.csv", "compare.png"):
        assert (tmp_path / "cmp" / name).stat().st_size > 100
    assert {"majority class", "stratified guessing"} <= set(rows)


def test_difference_distribution_matches_enumeration():
    labels = np.array([0, 1, 0, 1])
    groups = np.array([0, 0, 1, 1])
    a = np.array([0, 1, 1, 0])  # right on subject 0 only
    b = labels.copy()
    boot = paired_bootstrap(labels, [a, b], groups, 2, resamples=8000, seed=3)
    diff = boot[:, 1, 0] - boot[:, 0, 0]  # accuracy
    shares = [np.mean(np.isclose(diff, v)) for v in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=0.02)
    assert interval(diff) == (0.0, 1.0)


def test_resamples_take_whole_subjects():
    groups = np.array([0, 0, 0, 1, 2, 2])
    for rows in bootstrap_indices(groups, 50, np.random.default_rng(0)):
        drawn = groups[rows]
        assert len(set(drawn)) <= 3 and all((drawn == g).sum() % (groups == g).sum() == 0 for g in set(drawn))


def test_trivial_rows_use_the_other_subjects():
    labels = np.array([0, 0, 1, 1, 1, 1])
    groups = np.array([0, 0, 1, 1, 2, 2])
    priors = leave_subject_out_priors(labels, groups, 2)
    np.testing.assert_allclose(priors[0], [0.0, 1.0])  # subject 0 sees only class 1 elsewhere
    np.testing.assert_allclose(priors[2], [0.5, 0.5])
    majority, guesses = trivial_predictions(labels, groups, 2)
    assert majority.tolist()[:2] == [1, 1]
    assert all(g[0] == 1 for g in guesses)  # probability 1 for class 1


def test_runs_on_different_videos_are_refused(tmp_path):
    first = write_run(tmp_path, "A", {"s1"})
    other = write_run(tmp_path, "B", {"s1"})
    path = other / "fold_all" / "predictions.csv"
    path.write_text(path.read_text().replace("s2_1", "s2_9"))
    assert main(["compare", str(first), str(other), "--out", str(tmp_path / "c")]) == 2
