"""A cheap face front-end for long videos: detect now and then, track the 68 landmarks between.

dlib's face detector costs ~70 ms or more on a 640×480 frame; its landmark predictor ~1-2 ms
given a box. :class:`FaceTracker` runs the detector on a downscaled frame every
``detect_every`` frames, and whenever the face is lost or its landmarks jump by more than
``max_jump`` inter-ocular distances in one frame; in between, the detector's last box is
carried along by the face's motion.
"""

from __future__ import annotations

import cv2
import numpy as np

from mol.constants import NUM_LANDMARKS, inter_ocular
from mol.data.align import _dlib_models, choose_face

MIN_DOWNSCALED_SIDE = 200  # px: the detector runs on a downscaled frame only if it keeps this much


class FaceTracker:
    """Call it on successive grayscale frames; it returns (68, 2) float32 landmarks or None.

    Between detections the detector's box is carried along by the face's motion, measured with
    pyramidal Lucas-Kanade flow at the previous landmarks (median shift, spread ratio for
    scale), so the predictor always sees a box like the detector's and its errors do not
    compound. ``detections`` counts the detector runs, so the saving is measurable."""

    def __init__(self, detect_every: int = 30, detect_scale: float = 0.5, max_jump: float = 0.25) -> None:
        self.detect_every = max(1, detect_every)
        self.detect_scale = detect_scale
        self.max_jump = max_jump
        self.previous: np.ndarray | None = None
        self.previous_gray: np.ndarray | None = None
        self.box: np.ndarray | None = None  # (left, top, right, bottom), full-resolution pixels
        self.since_detection = 0
        self.detections = 0

    def _predict(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        import dlib

        _, predictor = _dlib_models()
        rect = dlib.rectangle(*(round(float(v)) for v in box))
        shape = predictor(gray, rect)
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(NUM_LANDMARKS)], dtype=np.float32)

    def _find_box(self, gray: np.ndarray) -> np.ndarray | None:
        """The detector's box: located on the downscaled frame, then re-detected at full
        resolution in a crop around it (the box of a small frame is too coarse for the predictor)."""
        detector, _ = _dlib_models()
        # a small frame is searched whole: downscaled, its face may be below the detector's reach
        s = self.detect_scale if min(gray.shape) * self.detect_scale >= MIN_DOWNSCALED_SIDE else 1.0
        small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1 else gray
        faces = list(detector(small, 0 if s >= 0.5 else 1))
        near = None if self.previous is None else self.previous.mean(0) * s
        chosen = choose_face([(f.left(), f.top(), f.right(), f.bottom()) for f in faces], near)
        if chosen is None:
            return None
        f = faces[chosen]
        box = np.array([f.left(), f.top(), f.right(), f.bottom()], dtype=np.float64) / s
        if s == 1:
            return box
        margin = 0.5 * (box[2] - box[0])
        x0, y0 = (max(0, int(v - margin)) for v in box[:2])
        x1, y1 = int(box[2] + margin), int(box[3] + margin)
        crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
        fine = list(detector(crop, 0))
        if not fine:
            return box
        g = fine[int(np.argmax([r.area() for r in fine]))]
        return np.array([g.left() + x0, g.top() + y0, g.right() + x0, g.bottom() + y0], dtype=np.float64)

    def _carry_box(self, gray: np.ndarray) -> np.ndarray | None:
        """The box moved by the face's motion since the previous frame, or None if lost."""
        points = self.previous.reshape(-1, 1, 2)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(self.previous_gray, gray, points, None, winSize=(21, 21))
        ok = status.ravel() == 1
        if ok.sum() < NUM_LANDMARKS // 2:
            return None
        old, new = points[ok, 0].astype(np.float64), moved[ok, 0].astype(np.float64)
        shift = np.median(new - old, axis=0)
        spread = np.linalg.norm(new - new.mean(0), axis=1).mean() / max(
            np.linalg.norm(old - old.mean(0), axis=1).mean(), 1e-6
        )
        centre = (self.box[:2] + self.box[2:]) / 2 + shift
        half = (self.box[2:] - self.box[:2]) / 2 * spread
        return np.concatenate([centre - half, centre + half])

    def __call__(self, gray: np.ndarray) -> np.ndarray | None:
        carried = None
        if self.previous is not None:
            carried = self._carry_box(gray)
        box = carried
        if carried is None or self.since_detection >= self.detect_every:
            self.detections += 1
            box = self._find_box(gray)
            self.since_detection = 0
            box = carried if box is None else box  # the detector misses faces it found before: keep carrying
        self.since_detection += 1
        points = None if box is None else self._predict(gray, box)
        if points is not None and self.previous is not None:
            jump = float(np.linalg.norm(points - self.previous, axis=1).mean())
            if jump > self.max_jump * float(inter_ocular(self.previous)):
                self.since_detection = self.detect_every  # detect again on the next frame
        self.previous, self.previous_gray, self.box = points, gray, box
        return points
