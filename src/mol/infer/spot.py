"""Spotting: where in a long video the face makes an expression, training-free.

1. **Motion per facial region.** Frames are analysed at about 30 per second (every
   ``round(fps / 30)``-th frame). The face is tracked (:class:`mol.data.track.FaceTracker`) and
   each analysed frame and the one before it are warped with the *same* similarity transform
   to a 128-px face, so alignment jitter adds no motion. DIS optical flow between the two gives
   each region's mean motion (brows, mouth corners, upper lip, nose sides, cheeks: the eyes are
   left out, so blinks do not count) minus the head's rigid motion, a similarity fitted to the
   flow over the face. Summed over time, these are each region's positions relative to the head.
2. **Motion that comes and goes.** A region's signal is its distance from the midpoint of its
   positions ±span earlier and later (0.4 s for micro-, 2 s for macro-expressions), so a drift
   or a lasting head turn gives none; the frame's signal is the largest over regions.
3. **Peaks to intervals.** A peak above the threshold (median + k·MAD of the video's own
   signal, and at least ``min_motion`` aligned pixels) becomes an interval reaching out to where
   the region's motion, detrended over ±span, falls below ``boundary`` of its peak. Intervals up
   to 0.5 s are micro-expressions; a peak where the upper eyelids move down more than ``blink_ratio``
   times the region's motion is a blink and dropped.

The signals of a video are saved (``signals/<video>.npz``), so settings are tuned on a dev set
without recomputing flow. A trivial baseline rides along: the mean absolute frame difference of
the aligned face, through the same peak-to-interval step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from mol.constants import MICRO_MAX_SECONDS, NUM_LANDMARKS
from mol.data.records import Interval
from mol.data.track import FaceTracker
from mol.errors import NoFaceError
from mol.files import atomic_write

ANALYSIS_RATE = 30.0  # analysed frames per second of video
FACE_SIZE = 128  # side of the aligned face the flow is computed on
# template of the aligned face: eye centres and the nose bridge's top at these positions
_EYES_Y, _EYES_DX = 0.36, 0.19
STABLE_POINTS = [27, 28, 29, 30, 31, 35, 36, 39, 42, 45]  # nose and eye corners: no expression moves them much
REGIONS: dict[str, list[int]] = {
    "left brow": [17, 18, 19, 20, 21],
    "right brow": [22, 23, 24, 25, 26],
    "left mouth corner": [48],
    "right mouth corner": [54],
    "upper lip": [50, 51, 52],
    "nose sides": [31, 35],
    "left cheek": [1, 2],
    "right cheek": [14, 15],
}
EYELIDS = [37, 38, 43, 44]  # upper lids: a blink moves them down; measured only to veto blinks


@dataclass(frozen=True)
class SpotSettings:
    """Everything that turns signals into intervals; chosen on dev data (``mol spot --tune``)."""

    micro_threshold: float = 8.0  # robust noise units (MAD) above the video's median signal
    macro_threshold: float = 4.0
    micro_span_seconds: float = 0.4  # a peak is measured against the positions this long before and after
    macro_span_seconds: float = 2.0
    boundary: float = 0.2  # an interval reaches out to where the motion falls below this share of its peak
    min_motion: float = 0.2  # aligned pixels: a quieter peak is noise, whatever the video's own noise level
    blink_ratio: float = 0.6  # dropped when the upper lids move down more than this × the peak's motion
    smooth_seconds: float = 0.07
    micro_max_seconds: float = MICRO_MAX_SECONDS
    signal: str = "regions"  # "regions" (the spotter) or "difference" (the trivial baseline)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Signals:
    """What the front-end measured on one video, at the analysed frames."""

    frames: np.ndarray  # (N,) indices of the analysed frames in the video
    # (N, R + 1, 2) cumulative region positions relative to the head, aligned pixels; the last
    # row is the upper eyelids (blink veto only)
    positions: np.ndarray
    difference: np.ndarray  # (N,) mean |aligned frame - previous analysed frame|, grey levels
    face_found: np.ndarray  # (N,) bool
    landmarks: np.ndarray  # (N, 68, 2) float32, frame pixels (NaN where no face)
    fps: float
    num_frames: int
    seconds: float = 0.0  # front-end time

    def save(self, path: Path) -> None:
        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:  # a file object: np.savez would append ".npz" to a name
                np.savez_compressed(f, **self.__dict__)

        atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> Signals:
        with np.load(path) as data:
            values = {k: data[k] for k in data.files}
        for k in ("fps", "seconds"):
            values[k] = float(values[k])
        values["num_frames"] = int(values["num_frames"])
        return cls(**values)

    @property
    def rate(self) -> float:
        """Analysed frames per second of video."""
        step = self.frames[1] - self.frames[0] if len(self.frames) > 1 else 1
        return self.fps / step

    def faceless_stretches(self) -> list[tuple[int, int]]:
        """(first, last) video frame of every run of analysed frames where no face was found;
        ``last`` is the last video frame before the next analysed frame with a face."""
        stretches, start = [], None
        for k, found in enumerate(self.face_found):
            if not found and start is None:
                start = int(self.frames[k])
            elif found and start is not None:
                stretches.append((start, int(self.frames[k]) - 1))
                start = None
        if start is not None:
            stretches.append((start, self.num_frames - 1))
        return stretches

    def require_face(self, source: object) -> None:
        """Refuse a video where no analysed frame shows a face: spotting it finds nothing, and
        that would read as a real negative result."""
        if len(self.face_found) and not self.face_found.any():
            raise NoFaceError(
                f"{source}: no face was found in any of its {self.num_frames} frames; give a video of one "
                "frontal face (it is tracked from the first frame where one is detected)"
            )


def analysis_step(fps: float) -> int:
    return max(1, round(fps / ANALYSIS_RATE)) if fps and fps > 0 else 1


def template_points(landmarks: np.ndarray) -> np.ndarray:
    """Where ``landmarks``' stable points go in the aligned face: their own shape, levelled and
    scaled so the eye centres sit at fixed positions."""
    from mol.data.align import eye_centres

    left, right = eye_centres(landmarks.astype(np.float64))
    target = np.array(
        [[FACE_SIZE * (0.5 - _EYES_DX), FACE_SIZE * _EYES_Y], [FACE_SIZE * (0.5 + _EYES_DX), FACE_SIZE * _EYES_Y]]
    )
    matrix, _ = cv2.estimateAffinePartial2D(np.stack([left, right]), target)
    return landmarks[STABLE_POINTS] @ matrix[:, :2].T + matrix[:, 2]


def region_masks(aligned_landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, S, S) float weights of each region (discs around its landmarks) and the face mask."""
    from mol.constants import inter_ocular

    radius = 0.18 * float(inter_ocular(aligned_landmarks))
    ys, xs = np.mgrid[0:FACE_SIZE, 0:FACE_SIZE]
    masks = []
    for idx in [*REGIONS.values(), EYELIDS]:
        m = np.zeros((FACE_SIZE, FACE_SIZE), bool)
        for x, y in aligned_landmarks[idx]:
            m |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
        masks.append(m / max(m.sum(), 1))
    hull = cv2.convexHull(np.round(aligned_landmarks).astype(np.int32))
    face = np.zeros((FACE_SIZE, FACE_SIZE), np.uint8)
    cv2.fillConvexPoly(face, hull, 1)
    return np.stack(masks).astype(np.float32), face.astype(bool)


def head_motion(flow: np.ndarray, face: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face's rigid motion (a similarity: shift, rotation, scale, fitted by least squares to
    the flow over the face, every 4th pixel) evaluated at ``points`` (R, 2) → (R, 2)."""
    ys, xs = np.nonzero(face[::4, ::4])
    xs, ys = xs * 4.0 - FACE_SIZE / 2, ys * 4.0 - FACE_SIZE / 2
    u, v = flow[ys.astype(int) + FACE_SIZE // 2, xs.astype(int) + FACE_SIZE // 2].T
    ones, zeros = np.ones_like(xs), np.zeros_like(xs)
    design = np.concatenate([np.stack([xs, -ys, ones, zeros], 1), np.stack([ys, xs, zeros, ones], 1)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, np.concatenate([u, v]), rcond=None)
    px, py = points[:, 0] - FACE_SIZE / 2, points[:, 1] - FACE_SIZE / 2
    return np.stack([a * px - b * py + tx, b * px + a * py + ty], axis=1)


class RegionMotion:
    """Per analysed frame: region motion relative to the head, from two warps and one DIS flow."""

    def __init__(self) -> None:
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.template: np.ndarray | None = None  # stable points' aligned positions (fixed per video)
        self.masks: np.ndarray | None = None
        self.face: np.ndarray | None = None
        self.centroids: np.ndarray | None = None  # (R + 1, 2) where each region's head motion is taken

    def __call__(self, previous: np.ndarray, current: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
        """(R, 2) region motion minus the head's, and the mean absolute difference of the face."""
        if self.template is None:
            self.template = template_points(points)
            matrix, _ = cv2.estimateAffinePartial2D(points[STABLE_POINTS], self.template)
            aligned = points @ matrix[:, :2].T + matrix[:, 2]
            self.masks, self.face = region_masks(aligned)
            ys, xs = np.mgrid[0:FACE_SIZE, 0:FACE_SIZE]
            self.centroids = np.stack([(self.masks * xs).sum((1, 2)), (self.masks * ys).sum((1, 2))], axis=1)
        matrix, _ = cv2.estimateAffinePartial2D(points[STABLE_POINTS], self.template)
        size = (FACE_SIZE, FACE_SIZE)
        a = cv2.warpAffine(previous, matrix, size, flags=cv2.INTER_LINEAR)
        b = cv2.warpAffine(current, matrix, size, flags=cv2.INTER_LINEAR)
        flow = self.flow.calc(a, b, None)
        motion = np.einsum("rhw,hwc->rc", self.masks, flow) - head_motion(flow, self.face, self.centroids)
        difference = float(np.abs(a.astype(np.int16) - b)[self.face].mean())
        return motion.astype(np.float32), difference


def measure(frames: Iterable[np.ndarray], fps: float, num_frames: int, progress=None) -> Signals:
    """Run the front-end over every ``analysis_step(fps)``-th frame of ``frames`` (an iterable of
    grayscale frames, or of None for frames to skip undecoded)."""
    step = analysis_step(fps)
    tracker, motion = FaceTracker(), RegionMotion()
    indices, velocities, differences, found, landmarks = [], [], [], [], []
    previous = None
    clock = time.perf_counter()
    for i, frame in enumerate(frames):
        if i % step or frame is None:
            continue
        points = tracker(frame)
        indices.append(i)
        found.append(points is not None)
        landmarks.append(points if points is not None else np.full((NUM_LANDMARKS, 2), np.nan, np.float32))
        if points is not None and previous is not None:
            v, d = motion(previous, frame, points)
        else:
            v, d = np.zeros((len(REGIONS) + 1, 2), np.float32), 0.0
        velocities.append(v)
        differences.append(d)
        previous = frame
        if progress is not None:
            progress(step)
    return Signals(
        frames=np.asarray(indices, np.int64),
        positions=np.cumsum(np.asarray(velocities, np.float32).reshape(-1, len(REGIONS) + 1, 2), axis=0),
        difference=np.asarray(differences, np.float32),
        face_found=np.asarray(found, bool),
        landmarks=np.asarray(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 2),
        fps=float(fps),
        num_frames=int(num_frames),
        seconds=time.perf_counter() - clock,
    )


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Moving average along the first axis (edges padded with their values)."""
    if window <= 1:
        return x
    pad = [(window // 2, window - 1 - window // 2)] + [(0, 0)] * (x.ndim - 1)
    view = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="edge"), window, axis=0)
    return view.mean(axis=-1)


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    """x[t + k] with the ends held."""
    idx = np.clip(np.arange(len(x)) + k, 0, len(x) - 1)
    return x[idx]


def curvature(x: np.ndarray, k: int) -> np.ndarray:
    """|x(t) - (x(t - k) + x(t + k)) / 2|: motion that comes and goes within ±k samples; a
    steady drift or a lasting head turn gives none. x (N, R, 2) → (N, R)."""
    return np.linalg.norm(x - (_shifted(x, -k) + _shifted(x, k)) / 2, axis=-1)


def expression_signal(signals: Signals, settings: SpotSettings, span_seconds: float) -> np.ndarray:
    """(N, R) each region's motion that comes and goes within ±span (aligned pixels); for the
    baseline (N, 1), the frame difference against its values span before and after."""
    rate = signals.rate
    k = max(1, round(span_seconds * rate))
    window = max(1, round(settings.smooth_seconds * rate))
    if settings.signal == "difference":
        d = np.cumsum(_smooth(signals.difference.astype(np.float64), window))[:, None, None]
        return curvature(np.concatenate([d, np.zeros_like(d)], axis=-1), k)
    x = _smooth(signals.positions[:, : len(REGIONS)].astype(np.float64), window)
    out = curvature(x, k)
    out[~signals.face_found] = 0.0
    return out


def _robust_threshold(signal: np.ndarray, units: float) -> float:
    """median + units × MAD of the signal."""
    median = float(np.median(signal))
    mad = float(np.median(np.abs(signal - median))) or 1e-6
    return median + units * mad


def _peaks(signal: np.ndarray, threshold: float, k: int) -> list[int]:
    """Local maxima above ``threshold``, strongest first, none within k of a stronger one."""
    order = np.argsort(-signal)
    taken: list[int] = []
    for i in order:
        if signal[i] <= threshold:
            break
        if all(abs(i - j) > k for j in taken):
            taken.append(int(i))
    return sorted(taken)


def _detrended(x: np.ndarray, start: int, end: int) -> np.ndarray:
    """x[start..end] (M, 2) minus the straight line through its two ends → (M, 2)."""
    seg = x[start : end + 1].astype(np.float64)
    w = np.linspace(0.0, 1.0, len(seg))[:, None]
    return seg - ((1 - w) * seg[0] + w * seg[-1])


def _bounds(profile: np.ndarray, centre: int, k: int, boundary: float) -> tuple[int, int] | None:
    """Onset and offset (indices into ``profile``) around ``centre``: where the detrended motion
    falls below ``boundary`` of its value there. None when that motion is largest far from the
    centre: the peak is then an echo of a motion at the window's edge (seen from its other
    side), not a motion of its own."""
    if abs(int(np.argmax(profile)) - centre) > k // 2:
        return None
    floor = boundary * profile[centre]
    a = centre
    while a > 0 and profile[a - 1] > floor:
        a -= 1
    b = centre
    while b + 1 < len(profile) and profile[b + 1] > floor:
        b += 1
    return a, b


def scale_signal(signals: Signals, settings: SpotSettings, kind: str) -> tuple[np.ndarray, float, int]:
    """(per-region signal (N, R), the threshold a peak must pass, half-window k in analysed
    frames) of the micro or macro scale: what the spotter looks at, and what a report shows."""
    span = settings.micro_span_seconds if kind == "micro" else settings.macro_span_seconds
    units = settings.micro_threshold if kind == "micro" else settings.macro_threshold
    per_region = expression_signal(signals, settings, span)
    threshold = _robust_threshold(per_region.max(axis=1), units)
    if settings.signal == "regions":
        threshold = max(threshold, settings.min_motion)
    return per_region, threshold, max(1, round(span * signals.rate))


def intervals_at_scale(signals: Signals, settings: SpotSettings, kind: str) -> list[Interval]:
    per_region, threshold, k = scale_signal(signals, settings, kind)
    signal = per_region.max(axis=1)
    found = []
    for peak in _peaks(signal, threshold, k):
        region = int(np.argmax(per_region[peak]))
        if settings.signal == "regions":
            start, end = max(0, peak - k), min(len(signal) - 1, peak + k)
            profile = np.linalg.norm(_detrended(signals.positions[:, region], start, end), axis=-1)
            lids_down = _detrended(signals.positions[:, -1], start, end)[peak - start, 1]
            if lids_down > settings.blink_ratio * profile[peak - start]:
                continue  # a blink: the upper lids moved down more than this region moved
            bounds = _bounds(profile, peak - start, k, settings.boundary)
            if bounds is None:
                continue
            a, b = start + bounds[0], start + bounds[1]
        else:
            a, b = max(0, peak - k // 2), min(len(signal) - 1, peak + k // 2)
        onset, offset = int(signals.frames[a]), int(signals.frames[b])
        seconds = (offset - onset + 1) / signals.fps
        if (seconds <= settings.micro_max_seconds) == (kind == "micro"):
            found.append(
                Interval(onset, int(signals.frames[peak]), offset, kind, score=float(signal[peak] / threshold))
            )
    return found


def spot(signals: Signals, settings: SpotSettings | None = None) -> list[Interval]:
    """Micro- and macro-expression intervals of one video, in time order. A micro-expression
    candidate overlapping a macro-expression is part of it and dropped."""
    settings = settings or SpotSettings()
    if len(signals.frames) < 3:
        return []
    macro = intervals_at_scale(signals, settings, "macro")
    micro = [
        m
        for m in intervals_at_scale(signals, settings, "micro")
        if all(m.offset < M.onset or m.onset > M.offset for M in macro)
    ]
    return sorted(macro + micro, key=lambda i: i.onset)


def skipping_frames(source, step: int) -> Iterator[np.ndarray | None]:
    """The frames of a :class:`mol.data.frames.FrameSource`, decoding only every ``step``-th
    image of a frame folder (the others are None)."""
    paths = getattr(source, "paths", None)
    if paths is None:
        yield from source
        return
    bad = set(source.unreadable)
    for i, path in enumerate(paths):
        if i % step or i in bad:
            yield None
        else:
            yield cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
