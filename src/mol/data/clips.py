"""Training and evaluation clips from a prepared cache, as a torch Dataset.

A video of L frames gives s = floor(L / 8) clips; clip j takes frames j, j+s, …, j+7s (the
reference's sampling). With ``sampling="onset_apex"`` a video gives one clip instead, its 8 frames
evenly spaced from the annotated onset to the apex, with the flows the cache stores for them. Training
crops 128×128 at a random offset in 0..16 shared by all frames of a clip; evaluation crops at
offset 8. Landmarks are shifted by the crop offset of that one sample (never accumulated), and
the optional horizontal flip mirrors frames, flow (negating its x component) and landmarks
(permuting the 68 indices left ↔ right).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from mol.constants import CLIP_FRAMES, CLIP_SAMPLINGS, CROP, EVAL_OFFSET, NUM_LANDMARKS, PIXEL_NORMALIZATIONS
from mol.data.cache import Cache
from mol.errors import CacheError, ConfigError

MODEL_INPUTS = ("clip", "flow", "landmarks")  # the item entries to_model_inputs finishes

# Pixel normalisation: a fixed function of uint8 values, the same in training and inference.
PIXEL_MEAN = 127.5
PIXEL_SCALE = 127.5


def normalize_frames(
    frames: np.ndarray | torch.Tensor, mean: float = PIXEL_MEAN, scale: float = PIXEL_SCALE
) -> torch.Tensor:
    """uint8 pixels → float32 (x - mean) / scale; by default [-1, 1]: (x - 127.5) / 127.5."""
    t = torch.as_tensor(frames)
    return (t.float() - mean) / scale


def _moments(frames: np.ndarray) -> np.ndarray:
    values = np.asarray(frames, dtype=np.float64)
    return np.array([values.size, values.sum(), (values**2).sum()])


def _mean_std(moments: np.ndarray) -> tuple[float, float]:
    n, total, squares = moments
    mean = total / n
    return float(mean), float(max(np.sqrt(max(squares / n - mean**2, 0.0)), 1.0))  # a flat image: 1


def pixel_statistics(frames: np.ndarray | Iterable[np.ndarray]) -> tuple[float, float]:
    """(mean, standard deviation) of uint8 frames, an array or one frame at a time: a subject's
    or a video's normalisation."""
    return _mean_std(sum((_moments(f) for f in frames), np.zeros(3)))


# per cache object: the train, validation and test datasets of a run share one computation
_SUBJECT_STATISTICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def subject_pixel_statistics(cache: Cache) -> dict[tuple[str, str], tuple[float, float]]:
    """(mean, standard deviation) of all cached frames of each (dataset, subject): the reference
    normalises each stored array, one per subject, by its own statistics. Uses no labels.
    Computed once per Cache object (it reads every frame)."""
    if cache not in _SUBJECT_STATISTICS:
        sums: dict[tuple[str, str], np.ndarray] = {}
        for entry in cache.videos:
            key = (entry.dataset, entry.subject)
            sums[key] = sums.get(key, 0) + _moments(cache.group(entry.key)["frames"][:])
        _SUBJECT_STATISTICS[cache] = {key: _mean_std(m) for key, m in sums.items()}
    return _SUBJECT_STATISTICS[cache]


def _mirror_permutation() -> np.ndarray:
    """Index map of the 68-point scheme under a left-right mirror."""
    pairs = [(i, 16 - i) for i in range(8)]  # jaw 0..16
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]  # mouth
    perm = np.arange(NUM_LANDMARKS)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


MIRROR_68 = _mirror_permutation()


@dataclass(frozen=True)
class ClipRef:
    video: int  # index into Cache.videos
    frames: tuple[int, ...]  # the clip's 8 frame indices
    flows: tuple[int, ...]  # its 7 pairs' indices into the stored flows (``flows`` or ``onset_apex_flows``)
    onset_apex: bool = False  # flows stored in ``onset_apex_flows``

    @property
    def start(self) -> int:
        return self.frames[0]


def clip_refs(cache: Cache, video_indices: Sequence[int] | None = None, sampling: str = "strided") -> list[ClipRef]:
    """Every clip of the videos: ⌊L/8⌋ strided clips each, or one onset-to-apex clip each."""
    if sampling not in CLIP_SAMPLINGS:
        raise ConfigError(f"clip sampling must be one of {CLIP_SAMPLINGS}, got {sampling!r}")
    refs = []
    for i in video_indices if video_indices is not None else range(len(cache.videos)):
        entry = cache.videos[i]
        if sampling == "onset_apex":
            if not entry.onset_apex_frames:
                raise CacheError(
                    f"{cache.path}: video {entry.key} has no onset-to-apex clip (the cache was made by an "
                    "older mol); run `mol prepare` again into a new cache file"
                )
            pairs = tuple(range(CLIP_FRAMES - 1))
            refs.append(ClipRef(i, entry.onset_apex_frames, pairs, onset_apex=True))
            continue
        s = entry.num_frames // CLIP_FRAMES
        for j in range(s):
            frames = tuple(j + k * s for k in range(CLIP_FRAMES))
            refs.append(ClipRef(i, frames, frames[:-1]))  # flows[i] is the flow from frame i to i + s
    return refs


def _rows(stored, indices: Sequence[int]) -> np.ndarray:
    """``stored[indices]`` for increasing indices that may repeat (h5py's list indexing refuses
    repeats): one read of the span, then a selection in memory."""
    return stored[indices[0] : indices[-1] + 1][np.subtract(indices, indices[0])]


class ClipDataset(Dataset):
    """Items: dict(clip (1, 8, 128, 128) float32, label, flow (2, 128, 128, 7) float32,
    landmarks (136, 7) float32 for frames 1..7, video index, clip start).

    With ``raw=True`` items keep the stored types and layout (frames (8, 128, 128) uint8,
    flows (7, 128, 128, 2) float16, landmarks (7, 68, 2) float32), a quarter of the bytes to
    collate, pin and copy; :func:`to_model_inputs` then finishes a batch on its device.

    An index is a clip number or an (epoch, clip number) pair; the pair lets a sampler
    choose each epoch's augmentation, so persistent loader workers need no notice of it.
    """

    def __init__(
        self,
        cache: Cache | str,
        video_indices: Sequence[int] | None = None,
        train: bool = False,
        flip: bool = False,
        seed: int = 0,
        crop_jitter: int = EVAL_OFFSET,
        raw: bool = False,
        normalize: str = "fixed",
        eval_crops: int = 1,
        sampling: str = "strided",
    ) -> None:
        """``crop_jitter`` j: training crops start at a random offset in [8 - j, 8 + j] (both axes,
        shared by the clip's frames); the reference's 0..16 is j = 8, and j = 0 always crops the
        centre like evaluation (faster to learn on short schedules).

        ``normalize``: "fixed" ((x - 127.5) / 127.5) or "subject" (by the statistics of the
        subject's frames, the reference's). ``eval_crops`` n > 1 (evaluation only): every clip
        is seen n times, each at a random offset in 0..16 seeded by (seed, clip, crop), as the
        reference's test sets of 5 random crops per clip; n = 1 is the centre crop. ``sampling``:
        one of CLIP_SAMPLINGS (see the module's docstring)."""
        self.cache = cache if isinstance(cache, Cache) else Cache(cache)
        self.refs = clip_refs(self.cache, video_indices, sampling)
        self.train = train
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self.raw = raw
        margin = self.cache.options["size"] - CROP
        if margin < 0:
            raise ConfigError(f"{self.cache.path}: aligned size {self.cache.options['size']} is below the crop {CROP}")
        if not 0 <= crop_jitter <= min(EVAL_OFFSET, margin - EVAL_OFFSET):
            raise ConfigError(
                f"crop_jitter must be within 0..{min(EVAL_OFFSET, margin - EVAL_OFFSET)}, got {crop_jitter}"
            )
        self.crop_jitter = crop_jitter
        if normalize not in PIXEL_NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {PIXEL_NORMALIZATIONS}, got {normalize!r}")
        self.pixel_stats = subject_pixel_statistics(self.cache) if normalize == "subject" else None
        if eval_crops < 1:
            raise ConfigError(f"eval_crops must be ≥ 1, got {eval_crops}")
        self.eval_crops = 1 if train else eval_crops

    def __len__(self) -> int:
        return len(self.refs) * self.eval_crops

    def labels(self) -> list[int]:
        """Every item's class label, without reading any frames."""
        return [self.cache.videos[self.refs[i // self.eval_crops].video].label for i in range(len(self))]

    def set_epoch(self, epoch: int) -> None:
        """Changes the random crops and flips of plain integer indices, deterministically per
        (seed, epoch, index)."""
        self.epoch = epoch

    def _augmentation(self, index: int, epoch: int | None = None) -> tuple[int, int, bool]:
        if not self.train and self.eval_crops > 1:
            rng = np.random.default_rng((self.seed, index))  # index: clip · eval_crops + crop
            ox, oy = (int(v) for v in rng.integers(0, 2 * EVAL_OFFSET + 1, size=2))
            return ox, oy, False
        if not self.train:
            return EVAL_OFFSET, EVAL_OFFSET, False
        rng = np.random.default_rng((self.seed, self.epoch if epoch is None else epoch, index))
        j = self.crop_jitter
        ox, oy = (int(v) for v in rng.integers(EVAL_OFFSET - j, EVAL_OFFSET + j + 1, size=2))
        return ox, oy, bool(self.flip and rng.random() < 0.5)

    def __getitem__(self, index: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        epoch, index = index if isinstance(index, tuple) else (None, index)
        ref = self.refs[index // self.eval_crops]
        entry = self.cache.videos[ref.video]
        group = self.cache.group(entry.key)
        ox, oy, flip = self._augmentation(index, epoch)
        ys, xs = slice(oy, oy + CROP), slice(ox, ox + CROP)
        # one hyperslab read per frame: h5py's list indexing is ~10x slower for the same bytes
        stored_frames = group["frames"]
        stored_flows = group["onset_apex_flows" if ref.onset_apex else "flows"]
        frames = np.stack([stored_frames[i, ys, xs] for i in ref.frames])  # (8, 128, 128) uint8
        flows = np.stack([stored_flows[i, ys, xs] for i in ref.flows])  # (7, 128, 128, 2) float16
        landmarks = _rows(group["landmarks"], ref.frames[1:]) - np.array([ox, oy], dtype=np.float32)  # frames 1..7
        # frames without a detected face borrowed a neighbour's landmarks: no target for them
        detected = _rows(group["face_found"], ref.frames[1:])
        if flip:
            frames = frames[:, :, ::-1]
            flows = flows[:, :, ::-1] * np.array([-1.0, 1.0], dtype=flows.dtype)
            landmarks = landmarks[:, MIRROR_68] * np.array([-1.0, 1.0], dtype=np.float32) + np.array(
                [CROP - 1, 0.0], dtype=np.float32
            )
        item = {
            "clip": torch.from_numpy(np.ascontiguousarray(frames)),
            "label": entry.label,
            "flow": torch.from_numpy(np.ascontiguousarray(flows)),
            "landmarks": torch.from_numpy(np.ascontiguousarray(landmarks, dtype=np.float32)),
            "landmark_mask": torch.from_numpy(np.asarray(detected, dtype=bool)),
            "video": ref.video,
            "start": ref.start,
            **self._pixel_normalization(entry),
        }
        if self.raw:
            return item
        one = {k: item[k][None] for k in MODEL_INPUTS} | {k: [item[k]] for k in ("pixel_mean", "pixel_scale")}
        finished = to_model_inputs(one)  # a batch of one
        return {**item, **{k: finished[k][0] for k in MODEL_INPUTS}}

    def _pixel_normalization(self, entry) -> dict[str, float]:
        mean, scale = (
            (PIXEL_MEAN, PIXEL_SCALE) if self.pixel_stats is None else self.pixel_stats[(entry.dataset, entry.subject)]
        )
        return {"pixel_mean": mean, "pixel_scale": scale}


def to_model_inputs(batch: dict, device: torch.device | str | None = None) -> dict:
    """A collated batch of raw items (see :class:`ClipDataset`) → model inputs on ``device``:
    clip (B, 1, 8, 128, 128) float32 in [-1, 1], flow (B, 2, 128, 128, 7) float32, landmarks
    (B, 136, 7) float32. The compact stored types travel to the device; the widening and
    transposes run there."""
    on_device = (*MODEL_INPUTS, "label", "landmark_mask")  # clip identifiers (video, start, cache) stay on the host
    out = {
        k: (v.to(device, non_blocking=True) if k in on_device and device is not None else v) for k, v in batch.items()
    }
    if "pixel_mean" in out:  # per-item statistics (see ClipDataset's normalize)
        shape = (-1, 1, 1, 1)
        mean = torch.as_tensor(out["pixel_mean"], dtype=torch.float32).to(out["clip"].device).view(shape)
        scale = torch.as_tensor(out["pixel_scale"], dtype=torch.float32).to(out["clip"].device).view(shape)
        out["clip"] = normalize_frames(out["clip"], mean, scale)[:, None]
    else:
        out["clip"] = normalize_frames(out["clip"])[:, None]
    out["flow"] = out["flow"].float().permute(0, 4, 2, 3, 1).contiguous()  # (B, pair, y, x, c) → (B, c, y, x, pair)
    lm = out["landmarks"]
    out["landmarks"] = lm.reshape(lm.shape[0], CLIP_FRAMES - 1, 2 * NUM_LANDMARKS).transpose(1, 2).contiguous()
    return out
