"""Onset and apex frames of a cached video, and the optical flow between them: the input of the
methods that classify one onset-to-apex flow per video (STSTNet, flow histograms).

Frame numbers in coding sheets are the numbers in the frame files' names; a cache records the
first frame's number, so a sheet's number n is frame n − first of the cached video. Where a
dataset has no apex annotation (SMIC-HS), the apex is taken as the middle frame between onset
and offset, or of the whole clip when those are missing too (SMIC-HS clips are cut to the
expression), as the MEGC 2019 baselines do for SMIC.
"""

from __future__ import annotations

import numpy as np

from mol.constants import CROP
from mol.constants import EVAL_OFFSET as CROP_OFFSET
from mol.data.cache import Cache, CacheError, VideoEntry
from mol.data.flow import FLOW_METHODS, compute_flow

EXACT_FALLBACK = "tvl1"  # exact synthetic flow exists only between clip frames; estimate instead


def onset_apex_indices(entry: VideoEntry) -> tuple[int, int, str]:
    """(onset index, apex index, how the apex was found) in the cached frames."""
    if entry.first_frame < 0:
        raise CacheError(
            f"{entry.key}: the cache does not record frame numbers (made by an older mol); rerun `mol prepare`"
        )
    last = entry.num_frames - 1

    def index(number: int) -> int | None:
        return None if number < 0 else min(max(number - entry.first_frame, 0), last)

    onset, apex, offset = index(entry.onset), index(entry.apex), index(entry.offset)
    start = 0 if onset is None else onset
    if apex is not None and apex > start:
        return start, apex, "annotated apex"
    if offset is not None and offset > start:
        return start, (start + offset + 1) // 2, "middle of the annotated interval"
    return start, (start + last + 1) // 2, "middle of the clip"


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
