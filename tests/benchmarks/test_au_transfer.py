"""The per-action-unit transfer measure: its AUC is the pairwise ranking probability, and the
balanced accuracy and AUC read the right columns."""

import numpy as np
import pytest
from au_transfer import per_unit, roc_auc

from mol.data.synthetic.stream import STREAM_AUS


def pairwise_auc(scores, positive):
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_is_the_pairwise_ranking_probability(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    positive = rng.random(40) < 0.4
    assert roc_auc(scores, positive) == pytest.approx(pairwise_auc(scores, positive))


def test_auc_separates_and_needs_both_kinds():
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    assert roc_auc(scores, np.array([False, False, True, True])) == 1.0
    assert roc_auc(scores, np.array([True, True, False, False])) == 0.0
    assert np.isnan(roc_auc(scores, np.ones(4, bool)))


def test_per_unit_reads_each_action_unit_alone():
    clips = 20
    truth = np.zeros((clips, len(STREAM_AUS)), np.float32)
    truth[:10, 0] = 1  # the first unit: present in half, detected perfectly
    truth[::2, 1] = 1  # the second: present in half, its output says nothing (constant 0.7)
    probs = np.full_like(truth, 0.7)
    probs[:, 0] = truth[:, 0] * 0.9 + 0.05
    rows = {row["au"]: row for row in per_unit(probs, truth)}
    first, second = rows[STREAM_AUS[0]], rows[STREAM_AUS[1]]
    assert (first["balanced_accuracy"], first["auc"], first["positives"]) == (1.0, 1.0, 10)
    assert (second["balanced_accuracy"], second["auc"]) == (0.5, 0.5)
    assert np.isnan(rows[STREAM_AUS[2]]["auc"])  # never present


def test_amplitude_is_read_as_a_range_and_checked():
    from au_transfer import parse_amplitude

    assert parse_amplitude("0.5,1") == (0.5, 1.0)
    for bad in ("1", "2,1", "0,1", "a,b"):
        with pytest.raises(SystemExit, match="--amplitude"):
            parse_amplitude(bad)
