"""Face detection, 68 landmarks and the reference's similarity alignment.

dlib's frontal face detector (one upsample, first face) and its standard 68-point shape
predictor find the face; a similarity transform levels the eyes and scales a box around the
eyes, nose tip and mouth corners to ALIGNED_SIZE px. The model file ships with the
``face-recognition-models`` package; it is located without importing that package (whose
import needs the obsolete ``pkg_resources``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from mol.constants import ALIGN_MODES, ALIGNED_SIZE, LEFT_EYE, NUM_LANDMARKS, RIGHT_EYE
from mol.errors import ConfigError, NoFaceError

BORDER_GREY = 128
BOX_SCALE = 2.5
AlignMode = Literal["per-frame", "onset"]

NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = 30, 48, 54


def shape_predictor_path() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the 68-point landmark model is missing: pip install face-recognition-models (it ships the model file)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise ConfigError(f"{path}: landmark model file missing; reinstall face-recognition-models")
    return path


@lru_cache(maxsize=1)
def _dlib_models():
    import dlib  # imported lazily: only alignment needs it

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_predictor_path()))


def choose_face(boxes: list[tuple[float, float, float, float]], near: np.ndarray | None = None) -> int | None:
    """Index of the face to follow among boxes (left, top, right, bottom): the one whose centre
    is nearest ``near`` (the previous frame's face centre), else the largest; None if none."""
    if not boxes:
        return None
    b = np.asarray(boxes, dtype=np.float64)
    if near is not None:
        centres = (b[:, :2] + b[:, 2:]) / 2
        return int(np.argmin(np.linalg.norm(centres - np.asarray(near), axis=1)))
    return int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))


def detect_landmarks(gray: np.ndarray, upsample: int = 1, near: np.ndarray | None = None) -> np.ndarray | None:
    """68 landmarks (68, 2) as float32 (x, y) of one detected face, or None: with several faces,
    the one nearest ``near`` (the previous face's centre, so a video keeps to one person), or
    the largest."""
    detector, predictor = _dlib_models()
    faces = list(detector(gray, upsample))
    chosen = choose_face([(f.left(), f.top(), f.right(), f.bottom()) for f in faces], near)
    if chosen is None:
        return None
    shape = predictor(gray, faces[chosen])
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(NUM_LANDMARKS)], dtype=np.float32)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return landmarks[LEFT_EYE].mean(axis=0), landmarks[RIGHT_EYE].mean(axis=0)


def similarity_transform(landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """The 2×3 affine matrix of the reference alignment for one frame's landmarks."""
    left, right = eye_centres(landmarks.astype(np.float64))
    dx, dy = right - left
    angle = np.arctan2(dy, dx)
    c, s = np.cos(-angle), np.sin(-angle)
    rotation = np.array([[c, -s], [s, c]])
    keypoints = np.stack([left, right, landmarks[NOSE_TIP], landmarks[MOUTH_LEFT], landmarks[MOUTH_RIGHT]])
    rotated = keypoints @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    centre = (low + high) / 2
    half = 0.5 * BOX_SCALE * float((high - low).max())
    scale = size / (2 * half)
    return np.hstack([scale * rotation, (-scale * (centre - half))[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def warp(gray: np.ndarray, matrix: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    return cv2.warpAffine(
        gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=BORDER_GREY
    )


@dataclass
class Alignment:
    """How a video's frames map to the aligned frame, without the pixels: landmarks (L, 68, 2)
    float32 in aligned pixels, which frames had a detected face (the others borrow the nearest
    frame's transform and landmarks), and each frame's transform."""

    landmarks: np.ndarray
    face_found: np.ndarray
    matrices: np.ndarray  # (L, 2, 3): input pixels → aligned pixels, per frame
    reference: int = -1  # onset alignment: the frame whose transform every frame uses (-1: per frame)

    @property
    def missing_faces(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(~self.face_found)]


@dataclass
class AlignedVideo(Alignment):
    """An :class:`Alignment` with its aligned grayscale frames (L, S, S) uint8."""

    frames: np.ndarray = field(kw_only=True)


def nearest_found(found: np.ndarray) -> np.ndarray:
    """For every frame, the index of the nearest frame with a face (itself if it has one)."""
    have = np.flatnonzero(found)
    idx = np.arange(len(found))
    pos = np.clip(np.searchsorted(have, idx), 1, max(len(have) - 1, 1))
    lower, upper = have[pos - 1], have[np.minimum(pos, len(have) - 1)]
    return np.where(np.abs(idx - lower) <= np.abs(upper - idx), lower, upper)


def detect_track(frames: Iterable[np.ndarray], detect=detect_landmarks, skip: set[int] | frozenset = frozenset()):
    """Landmarks of every frame (None where no face, or for the ``skip`` frames), each frame's
    face chosen nearest the previous frame's: one person is followed through the video."""
    detected, near = [], None
    for i, frame in enumerate(frames):
        points = None if i in skip else detect(frame, near=near)
        if points is not None:
            near = points.mean(axis=0)
        detected.append(points)
    return detected


def fit_alignment(
    frames: Iterable[np.ndarray],
    mode: AlignMode = "per-frame",
    size: int = ALIGNED_SIZE,
    detect=detect_landmarks,
    reference: int | None = None,
    unreadable: set[int] | frozenset = frozenset(),
) -> Alignment:
    """Detect landmarks on every frame (one pass, one frame held at a time) and choose each
    frame's transform to size × size.

    ``per-frame`` (the reference) uses each frame's own transform; ``onset`` applies one frame's
    transform to all frames, so alignment jitter cannot drown a 1-pixel movement: frame
    ``reference`` (the annotated onset) or, without it, the first frame with a face; if that
    frame has no face, the nearest one that has. ``unreadable`` frames (stand-ins for images that
    could not be decoded) are treated as frames without a face. ``detect(frame, near=centre)``
    returns (68, 2) landmarks or None.
    """
    if mode not in ALIGN_MODES:
        raise ConfigError(f"align mode must be one of {ALIGN_MODES}, got {mode!r}")
    detected = detect_track(frames, detect, unreadable)
    found = np.array([d is not None for d in detected])
    if not found.any():
        raise NoFaceError("no face found in any frame")
    source = nearest_found(found)
    raw = np.stack([detected[i] for i in source])  # (L, 68, 2) in input pixels
    if mode == "onset":
        start = int(np.flatnonzero(found)[0]) if reference is None else int(np.clip(reference, 0, len(found) - 1))
        used = int(source[start])
        matrices = np.stack([similarity_transform(raw[used], size)] * len(found))
    else:
        used = -1
        matrices = np.stack([similarity_transform(raw[i], size) for i in range(len(found))])
    landmarks = np.stack([apply_transform(m, p) for m, p in zip(matrices, raw, strict=True)])
    return Alignment(landmarks, found, matrices.astype(np.float64), used)


def warp_frames(
    frames: Iterable[np.ndarray], matrices: np.ndarray, out: MutableMapping | np.ndarray, size: int = ALIGNED_SIZE
) -> None:
    """Warp each frame with its transform into ``out[i]`` (an array or an HDF5 dataset), one
    frame at a time."""
    for i, (frame, matrix) in enumerate(zip(frames, matrices, strict=True)):
        out[i] = warp(frame, matrix, size)


def align_video(
    frames: Iterable[np.ndarray],
    mode: AlignMode = "per-frame",
    size: int = ALIGNED_SIZE,
    detect=detect_landmarks,
    reference: int | None = None,
    unreadable: set[int] | frozenset = frozenset(),
) -> AlignedVideo:
    """:func:`fit_alignment`, then every frame warped to size × size, in memory (size² bytes a
    frame). ``frames`` is read twice, one frame at a time, so a re-iterable source such as
    :class:`mol.data.frames.FrameSource` never holds more than one raw frame; long videos write
    their aligned frames elsewhere with :func:`warp_frames`."""
    alignment = fit_alignment(frames, mode, size, detect, reference, unreadable)
    aligned = np.empty((len(alignment.matrices), size, size), np.uint8)
    warp_frames(frames, alignment.matrices, aligned, size)
    return AlignedVideo(**vars(alignment), frames=aligned)
