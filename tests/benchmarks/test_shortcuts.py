"""The synthetic data carries its class in the facial motion and nowhere else: every probe but the
flow stays within the chance bound across held-out people, and the flow probe is far above it."""

import numpy as np
import pytest
from shortcuts import PROBES, chance_bound, leave_one_group_out_accuracy, run_probes

from mol.data.synthetic.benchmark import PARTS, part_config

SHORT = {"size": 160, "duration": (0.12, 0.16), "clips_per_class": 3}


@pytest.fixture(scope="module")
def probes():
    """Both benchmark parts' people (6), 3 clips per class each: 90 held-out clips."""
    return {row["probe"]: row for row in run_probes([part_config(part, **SHORT) for part in PARTS])}


@pytest.mark.parametrize("probe", ["apex_frame", "image_statistics", "timing", "motion_amount"])
def test_no_shortcut_beyond_chance(probes, probe):
    row = probes[probe]
    assert row["people"] == 6 and row["clips"] == 90
    assert row["accuracy"] <= row["bound_p001"], row


def test_motion_carries_the_class(probes):
    row = probes["onset_apex_flow"]
    assert row["accuracy"] >= 0.8 > row["bound_p001"], row
    assert set(probes) == set(PROBES)


def test_chance_bound():
    assert chance_bound(100, 5) == pytest.approx(0.33)  # binomial(100, 0.2) exceeds 33 with p < 0.001
    assert chance_bound(10_000, 5) == pytest.approx(0.2, abs=0.02)
    assert chance_bound(40, 5) > chance_bound(400, 5) > 0.2


def test_probe_detects_a_planted_shortcut():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 20)
    groups = np.tile(np.arange(4), 25)
    noise = rng.normal(size=(100, 6))
    leaky = noise.copy()
    leaky[:, 0] += 4 * labels  # the class written into one feature
    assert leave_one_group_out_accuracy(leaky, labels, groups) > 0.6
    assert leave_one_group_out_accuracy(noise, labels, groups) < chance_bound(100, 5)
