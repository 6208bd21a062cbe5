"""Several caches seen as one list of videos, and the clips of chosen videos across them: the
data of a training run (a LOSO fold over CASME II, SAMM and SMIC reads three caches)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from mol.constants import EVAL_OFFSET, NUM_LANDMARKS
from mol.data.cache import Cache, VideoEntry
from mol.data.clips import ClipDataset
from mol.errors import ConfigError


@dataclass(frozen=True)
class VideoRef:
    """A video of one of the run's caches."""

    cache: int
    index: int
    entry: VideoEntry

    @property
    def subject_id(self) -> str:
        """Subjects are distinct across datasets (CASME II sub01 is not SAMM 006)."""
        return f"{self.entry.dataset}/{self.entry.subject}"


# ---------------------------------------------------------------------------------------------
@dataclass
class RunData:
    caches: list[Cache]
    videos: list[VideoRef]
    classes: list[str]


def open_caches(paths: list[str | Path]) -> RunData:
    if not paths:
        raise ConfigError("give at least one --cache")
    caches = [Cache(p) for p in paths]
    classes = caches[0].classes
    for c in caches[1:]:
        if c.classes != classes:
            raise ConfigError(
                f"{c.path}: classes {c.classes} differ from {caches[0].path}'s {classes}; "
                "prepare every cache of a run with the same --scheme"
            )
    videos = [VideoRef(i, j, e) for i, c in enumerate(caches) for j, e in enumerate(c.videos)]
    return RunData(caches, videos, list(classes))


class MultiCacheClips(Dataset):
    """The clips of chosen videos across caches; items carry their cache index. ``options``
    go to every cache's :class:`ClipDataset` (flip, crop_jitter, normalize, eval_crops, sampling)."""

    def __init__(self, data: RunData, videos: list[VideoRef], train: bool, seed: int, **options) -> None:
        self.parts = []
        for i, cache in enumerate(data.caches):
            indices = [v.index for v in videos if v.cache == i]
            if indices:
                # raw items: compact stored types; to_model_inputs finishes them on the device
                part = ClipDataset(cache, indices, train=train, seed=seed, raw=True, **options)
                self.parts.append((i, part))
        self.offsets = np.cumsum([0] + [len(p) for _, p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def labels(self) -> list[int]:
        """Every item's class label, in item order, without reading any frames."""
        return [label for _, part in self.parts for label in part.labels()]

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """``index``: a clip number, or (epoch, clip number) for that epoch's augmentation."""
        epoch, index = index if isinstance(index, tuple) else (None, index)
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        cache_index, part = self.parts[k]
        local = index - int(self.offsets[k])
        item = part[local if epoch is None else (epoch, local)]
        item["cache"] = cache_index
        return item


def mean_landmark_shape(data: RunData, videos: list[VideoRef]) -> np.ndarray:
    """The mean of the videos' aligned landmarks over all their frames with a detected face,
    (68, 2) in the centre crop's pixels: the trivial landmark predictor a trained head must beat."""
    total, count = np.zeros((NUM_LANDMARKS, 2)), 0
    for v in videos:
        group = data.caches[v.cache].group(v.entry.key)
        found = group["face_found"][()]
        points = group["landmarks"][()][found]
        total += points.sum(0)
        count += len(points)
    if count == 0:
        raise ConfigError("no frame with a detected face among the videos: no mean landmark shape")
    return (total / count - EVAL_OFFSET).astype(np.float32)
