import pytest

from mol.data.cache import VideoEntry
from mol.data.multicache import VideoRef
from mol.train.protocols import cross_dataset_fold, loso_folds


def refs(spec):
    out = []
    for i, (dataset, subject) in enumerate(spec):
        entry = VideoEntry(f"k{i}", dataset, subject, f"v{i}", 0, "x", 16, 2, 200.0, -1, -1, -1)
        out.append(VideoRef(0, i, entry))
    return out


VIDEOS = refs(
    [("casme2", "sub01"), ("casme2", "sub01"), ("casme2", "sub02"), ("samm", "sub01"), ("samm", "006"), ("samm", "007")]
)


def test_loso_never_trains_or_validates_on_the_test_subject():
    folds = loso_folds(VIDEOS, val_subjects=1, seed=3)
    assert [f.name for f in folds] == ["casme2_sub01", "casme2_sub02", "samm_006", "samm_007", "samm_sub01"]
    for fold in folds:
        test_subjects = {v.subject_id for v in fold.test}
        assert len(test_subjects) == 1
        assert not test_subjects & {v.subject_id for v in fold.train + fold.val}
        assert len({v.subject_id for v in fold.val}) == 1
        assert not {v.subject_id for v in fold.val} & {v.subject_id for v in fold.train}
        assert len(fold.train) + len(fold.val) + len(fold.test) == len(VIDEOS)
    # the same subject name in two datasets is two subjects
    assert sum(len(f.test) for f in folds if f.name.endswith("sub01")) == 3


def test_cross_dataset_fold():
    (fold,) = cross_dataset_fold(VIDEOS, ["casme2"], ["samm"])
    assert {v.entry.dataset for v in fold.train} == {"casme2"} and {v.entry.dataset for v in fold.test} == {"samm"}
    with pytest.raises(ValueError, match="disjoint"):
        cross_dataset_fold(VIDEOS, ["casme2"], ["casme2"])


def test_too_few_subjects():
    with pytest.raises(ValueError, match="at least 2"):
        loso_folds(refs([("casme2", "sub01")]))
    with pytest.raises(ValueError, match="leaves no training subject"):
        loso_folds(refs([("a", "1"), ("a", "2")]), val_subjects=1)


def test_composite_counts_against_megc2019():
    from mol.train.protocols import MEGC2019_COMPOSITE, composite_counts

    spec = []
    for dataset, (samples, subjects) in MEGC2019_COMPOSITE.items():
        spec += [(dataset, f"s{i % subjects}") for i in range(samples)]
    lines, differences = composite_counts(refs(spec))
    assert differences == [] and len(lines) == 3 and "casme2: 145 samples, 24 subjects" in lines[0]
    _, differences = composite_counts(refs(spec[:-1]))  # one SAMM sample missing
    assert differences == ["samm: 132 samples, 28 subjects (MEGC 2019: 133, 28)"]
    assert sum(s for s, _ in MEGC2019_COMPOSITE.values()) == 442
    assert sum(n for _, n in MEGC2019_COMPOSITE.values()) == 68


def test_holdout_tests_the_named_subjects_and_trains_on_the_others():
    from mol.train.protocols import holdout_fold

    videos = refs([("casme2", "sub01"), ("casme2", "sub02"), ("casme2", "sub03"), ("samm", "sub03")])
    (fold,) = holdout_fold(videos, ["sub02", "samm/sub03"])
    assert {v.subject_id for v in fold.test} == {"casme2/sub02", "samm/sub03"}
    assert {v.subject_id for v in fold.train} == {"casme2/sub01", "casme2/sub03"}
    with pytest.raises(ValueError, match="leave no test"):
        holdout_fold(videos, ["sub09"])
    with pytest.raises(ValueError, match="needs test_subjects"):
        holdout_fold(videos, [])
