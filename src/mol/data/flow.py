"""Ground-truth optical flow between aligned frames: TV-L1 (the reference), DIS, Farnebäck."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from mol.constants import FLOW_METHODS
from mol.errors import ConfigError


def _tvl1(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    if not hasattr(cv2, "optflow"):
        raise ConfigError("TV-L1 needs opencv-contrib (pip install 'opencv-contrib-python-headless<5')")
    return cv2.optflow.DualTVL1OpticalFlow_create().calc(prev, nxt, None)


def _dis(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(prev, nxt, None)


def _farneback(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 15, 3, 5, 1.2, 0)


_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "tvl1": _tvl1,
    "dis": _dis,
    "farneback": _farneback,
}


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "tvl1") -> np.ndarray:
    """Flow (H, W, 2) float32 from uint8 frame ``prev`` to ``nxt``; [..., 0] = x, [..., 1] = y."""
    if method not in _METHODS:
        raise ConfigError(f"flow method must be one of {FLOW_METHODS}, got {method!r}")
    return _METHODS[method](prev, nxt).astype(np.float32)


def clip_stride(num_frames: int, clip_frames: int = 8) -> int:
    """The reference's frame stride floor(L / T) (0 when the video is too short)."""
    return num_frames // clip_frames


def needed_pairs(num_frames: int, clip_frames: int = 8) -> list[tuple[int, int]]:
    """Every (i, i + s) frame pair some clip uses: clip j takes frames j, j+s, …, j+(T-1)s for
    j < s, so its pairs start at i = j + k·s, k < T-1, i.e. every i < (T-1)·s."""
    s = clip_stride(num_frames, clip_frames)
    return [(i, i + s) for i in range((clip_frames - 1) * s)]


def reference_flow_calls(num_frames: int, clip_frames: int = 8, crops: int = 5) -> int:
    """TV-L1 calls the reference procedure makes for one video: every clip, every pair, every
    one of its random crops."""
    return clip_stride(num_frames, clip_frames) * (clip_frames - 1) * crops
