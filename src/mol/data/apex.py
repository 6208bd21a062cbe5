"""Onset and apex frames of a cached video, and the optical flow between them: the input of the
methods that classify one onset-to-apex flow per video (STSTNet, flow histograms).

Frame numbers in coding sheets are the numbers in the frame files' names; a cache records the
first frame's number, so a sheet's number n is frame n − first of the cached video. Where a
dataset has no apex annotation (SMIC-HS), the apex is taken as the middle frame between onset
and offset, or of the whole clip when those are missing too (SMIC-HS clips are cut to the
expression), as the MEGC 2019 baselines do for SMIC.
"""

from __future__ import annotations

import itertools

import numpy as np

from mol.constants import CLIP_FRAMES, CROP
from mol.constants import EVAL_OFFSET as CROP_OFFSET
from mol.data.cache import Cache, CacheError, VideoEntry
from mol.data.flow import FLOW_METHODS, compute_flow

EXACT_FALLBACK = "tvl1"  # exact synthetic flow exists only between clip frames; estimate instead


def onset_apex_span(
    num_frames: int, first_frame: int, onset: int | None, apex: int | None, offset: int | None
) -> tuple[int, int, str]:
    """(onset index, apex index, how the apex was found) in a video's frames, from a sheet's
    frame numbers (None or negative: not annotated) and the number of the first frame file."""
    last = num_frames - 1

    def index(number: int | None) -> int | None:
        return None if number is None or number < 0 else min(max(number - first_frame, 0), last)

    start = index(onset) or 0
    apex_index, offset_index = index(apex), index(offset)
    if apex_index is not None and apex_index > start:
        return start, apex_index, "annotated apex"
    if offset_index is not None and offset_index > start:
        return start, (start + offset_index + 1) // 2, "middle of the annotated interval"
    return start, (start + last + 1) // 2, "middle of the clip"


def onset_apex_indices(entry: VideoEntry) -> tuple[int, int, str]:
    """(onset index, apex index, how the apex was found) in the cached frames."""
    if entry.first_frame < 0:
        raise CacheError(
            f"{entry.key}: the cache does not record frame numbers (made by an older mol); rerun `mol prepare`"
        )
    return onset_apex_span(entry.num_frames, entry.first_frame, entry.onset, entry.apex, entry.offset)


def onset_apex_frames(onset: int, apex: int) -> list[int]:
    """The 8 frames of an onset-to-apex clip: evenly spaced from the onset to the apex, rounded
    to whole frames; an expression shorter than 8 frames repeats some (their pairs: no motion)."""
    step = (apex - onset) / (CLIP_FRAMES - 1)
    return [onset + int(k * step + 0.5) for k in range(CLIP_FRAMES)]


def onset_apex_pairs(onset: int, apex: int) -> list[tuple[int, int]]:
    """The 7 consecutive frame pairs of the onset-to-apex clip (flow targets)."""
    frames = onset_apex_frames(onset, apex)
    return list(itertools.pairwise(frames))


def flow_method_for(cache: Cache) -> str:
    """The cache's own flow method; for exact synthetic caches, TV-L1 (the reference's)."""
    method = cache.options.get("flow", EXACT_FALLBACK)
    return method if method in FLOW_METHODS else EXACT_FALLBACK


def onset_apex_flow(cache: Cache, entry: VideoEntry, method: str) -> np.ndarray:
    """(2, 128, 128) float32 flow from the onset to the apex frame on the model crop."""
    onset, apex, _ = onset_apex_indices(entry)
    frames = cache.group(entry.key)["frames"]
    flow = compute_flow(frames[onset], frames[apex], method)  # (144, 144, 2) on the aligned frames
    crop = flow[CROP_OFFSET : CROP_OFFSET + CROP, CROP_OFFSET : CROP_OFFSET + CROP]
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32)
