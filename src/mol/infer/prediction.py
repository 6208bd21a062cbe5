"""What `mol predict` found, as a typed object that writes itself as JSON (the schema of
predictions.json), and the measure of where the face moved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mol.constants import BROWS, EYES, LANDMARK_PARTS
from mol.data.records import Interval
from mol.infer.spot_view import SpotTrace
from mol.infer.windows import SparseFrames, Window

# facial regions for "where the face moved": landmark indices of the 68-point scheme
REGIONS: dict[str, list[int]] = {
    "brows": list(BROWS),
    "eyes": list(EYES),
    "nose": list(LANDMARK_PARTS["nose"]),
    "mouth corners": [48, 54, 60, 64],
    "chin": [*range(6, 11), 57, 58, 59],
}


def region_motion(flow: np.ndarray, points: np.ndarray, radius: float = 6.0) -> dict[str, float]:
    """Mean flow magnitude (px per frame pair) within ``radius`` of each region's landmarks.
    flow (P, 2, H, W); points (68, 2) in the same pixels."""
    magnitude = np.linalg.norm(flow.astype(np.float32), axis=1).mean(0)
    h, w = magnitude.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = {}
    for name, idx in REGIONS.items():
        mask = np.zeros((h, w), bool)
        for x, y in points[idx]:
            mask |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
        out[name] = round(float(magnitude[mask].mean()), 4) if mask.any() else None
    return out


@dataclass
class Prediction:
    """Everything `mol predict` found, as a typed object (see :func:`predict`)."""

    input: str
    fps: float
    classes: list[str]
    model_config: dict
    num_frames: int
    frames_without_face: list[int]
    windows: list[Window]
    aligned: SparseFrames = field(repr=False)  # the best window's aligned frames, (144, 144) uint8 each
    landmarks: np.ndarray = field(repr=False)  # (L, 68, 2) detected, aligned pixels
    best_window: int | None = None  # the window shown in detail
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went
    training: dict | None = None  # the checkpoint's training record (heads, data, preprocessing)
    hidden_heads: list[str] = field(default_factory=list)  # untrained, or no better than trivial on held-out people
    notes: list[str] = field(default_factory=list)  # what a reader must know before reading the results
    mode: str = "windows"  # "spot": windows are the spotted micro-expressions; "windows": sliding windows
    spotted: list[Interval] = field(default_factory=list)  # every spotted interval (spot mode)
    model_name: str = "mol"  # the registered model that classified (mol, ststnet, flow-hist)
    trace: SpotTrace | None = field(default=None, repr=False)  # spot mode: what the spotter saw
    # spot mode: the face at onset, apex and offset of each spotted interval (by its index), 96 px
    thumbnails: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def flow(self) -> np.ndarray | None:
        """(7, 2, 128, 128) predicted flow of the best window."""
        return None if self.best_window is None else self.windows[self.best_window].flow

    @property
    def predicted_landmarks(self) -> np.ndarray | None:
        """(7, 68, 2) predicted landmarks of the best window, crop pixels."""
        return None if self.best_window is None else self.windows[self.best_window].predicted_landmarks

    @property
    def saliency(self) -> np.ndarray | None:
        """(16, 16) F5C saliency of the best window."""
        return None if self.best_window is None else self.windows[self.best_window].saliency

    def time_of(self, frame: int) -> float:
        return frame / self.fps if self.fps > 0 else math.nan

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "fps": self.fps,
            "classes": self.classes,
            "model": self.model_name,
            "model_config": self.model_config,
            "num_frames": self.num_frames,
            "frames_without_face": [{"frame": f, "time_s": self.time_of(f)} for f in self.frames_without_face],
            "best_window": self.best_window,
            "seconds": self.seconds,
            "training": self.training,
            "hidden_heads": self.hidden_heads,
            "notes": self.notes,
            "mode": self.mode,
            "spot_signal": None if self.trace is None else self.trace.to_dict(self.fps),
            "spotted": [
                {**i.to_dict(), "onset_s": self.time_of(i.onset), "offset_s": self.time_of(i.offset)}
                for i in self.spotted
            ],
            "windows": [
                {
                    "predicted_landmarks": None
                    if w.predicted_landmarks is None
                    else np.round(w.predicted_landmarks, 2).tolist(),
                    "index": w.index,
                    "start_frame": w.start,
                    "end_frame": w.end,
                    "start_s": self.time_of(w.start),
                    "end_s": self.time_of(w.end),
                    "sampled_frames": w.frames,
                    "complete": w.complete,
                    "probabilities": None
                    if w.probabilities is None
                    else dict(zip(self.classes, w.probabilities, strict=True)),
                    "top_class": w.top_class,
                    "region_motion_px": w.region_motion,
                }
                for w in self.windows
            ],
        }
