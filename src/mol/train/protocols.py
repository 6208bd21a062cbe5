"""Evaluation protocols as explicit fold lists over the videos of one or more caches.

A fold names its test videos and its training videos; model selection, when asked for, uses
validation videos taken from the training subjects only, never from the test subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mol.data.multicache import VideoRef
from mol.errors import ConfigError


@dataclass
class Fold:
    name: str
    train: list[VideoRef]
    test: list[VideoRef]
    val: list[VideoRef] = field(default_factory=list)


def _split_validation(train: list[VideoRef], k: int, seed: int) -> tuple[list[VideoRef], list[VideoRef]]:
    if k <= 0:
        return train, []
    subjects = sorted({v.subject_id for v in train})
    if k >= len(subjects):
        raise ConfigError(f"val_subjects={k} leaves no training subject (only {len(subjects)} available)")
    held = set(np.random.default_rng(seed).choice(subjects, size=k, replace=False).tolist())
    return [v for v in train if v.subject_id not in held], [v for v in train if v.subject_id in held]


def _safe(name: str) -> str:
    return name.replace("/", "_")


def loso_folds(videos: list[VideoRef], val_subjects: int = 0, seed: int = 0) -> list[Fold]:
    """Leave one subject out, over all videos given (one dataset, or the composite of several)."""
    subjects = sorted({v.subject_id for v in videos})
    if len(subjects) < 2:
        raise ConfigError(f"LOSO needs at least 2 subjects, found {len(subjects)}")
    folds = []
    for i, subject in enumerate(subjects):
        train = [v for v in videos if v.subject_id != subject]
        train, val = _split_validation(train, val_subjects, seed + i)
        folds.append(Fold(_safe(subject), train, [v for v in videos if v.subject_id == subject], val))
    return folds


def cross_dataset_fold(
    videos: list[VideoRef], train_sets: list[str], test_sets: list[str], val_subjects: int = 0, seed: int = 0
) -> list[Fold]:
    """Train on the videos of some datasets, test on others (one fold)."""
    if not train_sets or not test_sets or set(train_sets) & set(test_sets):
        raise ConfigError("cross protocol needs disjoint, non-empty cross_train and cross_test dataset lists")
    train = [v for v in videos if v.entry.dataset in train_sets]
    test = [v for v in videos if v.entry.dataset in test_sets]
    if not train or not test:
        found = sorted({v.entry.dataset for v in videos})
        raise ConfigError(f"cross protocol: datasets {train_sets} → {test_sets}, but the caches hold {found}")
    train, val = _split_validation(train, val_subjects, seed)
    return [Fold(f"{'+'.join(train_sets)}_to_{'+'.join(test_sets)}", train, test, val)]


def holdout_fold(videos: list[VideoRef], test_subjects: list[str], val_subjects: int = 0, seed: int = 0) -> list[Fold]:
    """One fold: the named subjects are tested, every other subject trains. A name is a subject
    (``sub03``) or, where datasets share subject names, dataset/subject (``casme2/sub03``)."""
    if not test_subjects:
        raise ConfigError("holdout protocol needs test_subjects (e.g. --set test_subjects=sub03,sub04)")

    def tested(v: VideoRef) -> bool:
        return v.entry.subject in test_subjects or v.subject_id in test_subjects

    test = [v for v in videos if tested(v)]
    train = [v for v in videos if not tested(v)]
    if not test or not train:
        found = sorted({v.subject_id for v in videos})
        raise ConfigError(
            f"holdout protocol: test_subjects {test_subjects} leave no test or no training videos of {found}"
        )
    train, val = _split_validation(train, val_subjects, seed)
    return [Fold(_safe("+".join(test_subjects)), train, test, val)]


# The MEGC 2019 composite as published: (samples, subjects) per dataset of the negative /
# positive / surprise scheme; 442 samples of 68 subjects in all.
MEGC2019_COMPOSITE: dict[str, tuple[int, int]] = {"smic": (164, 16), "casme2": (145, 24), "samm": (133, 28)}


def composite_counts(videos: list[VideoRef]) -> tuple[list[str], list[str]]:
    """(one summary line per dataset, one warning per difference from MEGC 2019's composite)."""
    lines, differences = [], []
    datasets = sorted({v.entry.dataset for v in videos} | set(MEGC2019_COMPOSITE))
    for name in datasets:
        mine = [v for v in videos if v.entry.dataset == name]
        samples, subjects = len(mine), len({v.entry.subject for v in mine})
        expected = MEGC2019_COMPOSITE.get(name)
        lines.append(
            f"{name}: {samples} samples, {subjects} subjects"
            + (f" (MEGC 2019: {expected[0]}, {expected[1]})" if expected else " (not part of MEGC 2019)")
        )
        if expected != (samples, subjects):
            differences.append(lines[-1])
    return lines, differences
