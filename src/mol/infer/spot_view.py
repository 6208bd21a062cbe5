"""What the spotter saw, kept for a person to read in `mol predict`'s report: each region's
motion over time with the threshold a peak must pass, and the face at the onset, apex and offset
of every spotted interval."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mol.data.records import Interval
from mol.infer.spot import REGIONS, Signals, SpotSettings, scale_signal

THUMBNAIL = 96  # px, side of a face thumbnail


@dataclass
class SpotTrace:
    """The micro-expression scale's signal: per region (N, R) at the analysed frames (N,), in
    aligned pixels, and the threshold a peak must pass to be spotted."""

    frames: np.ndarray
    regions: list[str]
    signal: np.ndarray
    threshold: float

    def to_dict(self, fps: float) -> dict:
        return {
            "time_s": np.round(self.frames / fps, 4).tolist() if fps > 0 else self.frames.tolist(),
            "threshold_px": round(self.threshold, 4),
            "regions": {r: np.round(self.signal[:, k], 4).tolist() for k, r in enumerate(self.regions)},
        }


def spot_trace(signals: Signals, settings: SpotSettings | None) -> SpotTrace:
    per_region, threshold, _ = scale_signal(signals, settings or SpotSettings(), "micro")
    names = list(REGIONS) if per_region.shape[1] == len(REGIONS) else ["frame difference"]
    return SpotTrace(signals.frames.copy(), names, per_region[:, : len(names)].astype(np.float32), threshold)


def face_box(signals: Signals, frame: int) -> np.ndarray | None:
    """(x0, y0, x1, y1) around the face at the analysed frame nearest ``frame`` that has one."""
    found = np.flatnonzero(signals.face_found)
    if len(found) == 0:
        return None
    k = found[np.argmin(np.abs(signals.frames[found] - frame))]
    points = signals.landmarks[k]
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    side = 1.3 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * side  # the brows' top lies above landmark 19/24
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def thumbnail(frame: np.ndarray, box: np.ndarray | None) -> np.ndarray:
    """A THUMBNAIL-px grey crop of ``frame`` (the whole frame without a box)."""
    if box is not None:
        h, w = frame.shape[:2]
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(w, int(box[2])), min(h, int(box[3]))
        if x1 > x0 + 4 and y1 > y0 + 4:
            frame = frame[y0:y1, x0:x1]
    return cv2.resize(frame, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)


def thumbnail_frames(spotted: list[Interval]) -> set[int]:
    """The frames :func:`interval_thumbnails` needs: onset, apex and offset of every interval."""
    return {f for i in spotted for f in (i.onset, i.apex, i.offset)}


def interval_thumbnails(
    raw: dict[int, np.ndarray], signals: Signals, spotted: list[Interval]
) -> dict[int, list[np.ndarray]]:
    """For each spotted interval (its index in ``spotted``): the face at onset, apex, offset,
    from ``raw`` (frame number → decoded frame, holding :func:`thumbnail_frames`)."""
    return {
        n: [thumbnail(raw[f], face_box(signals, f)) for f in (i.onset, i.apex, i.offset) if raw.get(f) is not None]
        for n, i in enumerate(spotted)
    }
