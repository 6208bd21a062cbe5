"""Procedural faces: an unlimited supply of identities that belong to no real person.

A face is drawn from a hand-made 68-point mean shape (no photograph's landmarks) moved by random
proportions, then painted: a smooth random background, a skin region with random tone, shading,
pores and blotches, dark brows, eyes with lids and irises, a nose, lips, sometimes hair and
glasses. Everything is placed where the landmarks say, so the landmarks are exact, and the face
lies in the aligned frame (ALIGNED_SIZE square) the way `mol prepare` aligns a real face.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mol.constants import ALIGNED_SIZE, BROWS, EYES, LANDMARK_PARTS, NUM_LANDMARKS


def _canonical_shape() -> np.ndarray:
    """The 68 iBUG points of an average frontal face in unit face coordinates (x right in the
    image, y down; eyes near y = -0.25, mouth near y = 0.56). Drawn by hand, not fitted."""
    a = np.linspace(math.pi + 0.15, -0.15, 17)
    jaw = np.stack([0.95 * np.cos(a), 0.05 + 1.0 * np.sin(a)], 1)
    bx = np.linspace(-0.78, -0.16, 5)
    brow_left = np.stack([bx, -0.47 - 0.09 * np.sin(np.linspace(0.3, math.pi - 0.2, 5))], 1)
    brow_right = brow_left[::-1] * [-1, 1]
    nose_bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.12, 4)], 1)
    nostrils = np.array([[-0.18, 0.24], [-0.09, 0.27], [0.0, 0.29], [0.09, 0.27], [0.18, 0.24]])
    eye_left = np.array([[-0.56, -0.24], [-0.46, -0.3], [-0.34, -0.3], [-0.24, -0.23], [-0.34, -0.19], [-0.46, -0.19]])
    eye_right = eye_left[[3, 2, 1, 0, 5, 4]] * [-1, 1]
    mouth_outer = np.array(
        [
            [-0.36, 0.56],
            [-0.22, 0.5],
            [-0.08, 0.47],
            [0.0, 0.48],
            [0.08, 0.47],
            [0.22, 0.5],
            [0.36, 0.56],
            [0.22, 0.64],
            [0.08, 0.67],
            [0.0, 0.675],
            [-0.08, 0.67],
            [-0.22, 0.64],
        ]
    )
    mouth_inner = np.array(
        [[-0.3, 0.56], [-0.1, 0.545], [0.0, 0.55], [0.1, 0.545], [0.3, 0.56], [0.1, 0.575], [0.0, 0.58], [-0.1, 0.575]]
    )
    parts = (jaw, brow_left, brow_right, nose_bridge, nostrils, eye_left, eye_right, mouth_outer, mouth_inner)
    shape = np.concatenate(parts).astype(np.float64)
    assert shape.shape == (NUM_LANDMARKS, 2)
    return shape


CANONICAL_SHAPE = _canonical_shape()
GROUPS = {  # landmark groups that move together when proportions change
    "jaw": LANDMARK_PARTS["jaw"],
    "brows": BROWS,
    "nose": LANDMARK_PARTS["nose"],
    "eyes": EYES,
    "mouth": LANDMARK_PARTS["mouth"],
}


def random_shape(rng: np.random.Generator, size: int = ALIGNED_SIZE) -> np.ndarray:
    """68 landmarks (68, 2) of a new face in the aligned frame: the canonical shape with random
    width and height, eye spacing and size, brow height, nose length, mouth width and height, jaw
    width and chin, small per-point jitter, and a residual pose of a few degrees."""
    s = CANONICAL_SHAPE.copy()
    s[:, 0] *= rng.uniform(0.85, 1.15)
    s[:, 1] *= rng.uniform(0.88, 1.12)
    eyes = list(GROUPS["eyes"])
    for side, idx in ((-1, eyes[:6]), (1, eyes[6:])):
        centre = s[idx].mean(0)
        centre[0] += side * rng.uniform(-0.06, 0.06)
        s[idx] = centre + (s[idx] - s[idx].mean(0)) * [rng.uniform(0.8, 1.25), rng.uniform(0.7, 1.4)]
    brows = list(GROUPS["brows"])
    s[brows, 1] += rng.uniform(-0.06, 0.06)
    s[brows] += rng.normal(0, 0.015, (len(brows), 2))
    nose = list(GROUPS["nose"])
    s[nose[4:], 1] += rng.uniform(-0.06, 0.08)
    s[nose[4:], 0] *= rng.uniform(0.8, 1.3)
    mouth = list(GROUPS["mouth"])
    centre = s[mouth].mean(0)
    centre[1] += rng.uniform(-0.05, 0.07)
    s[mouth] = centre + (s[mouth] - s[mouth].mean(0)) * [rng.uniform(0.8, 1.25), rng.uniform(0.7, 1.5)]
    jaw = list(GROUPS["jaw"])
    lower = s[jaw, 1] > 0.3
    s[jaw, 0] *= np.where(lower, rng.uniform(0.85, 1.12), 1.0)
    s[8, 1] += rng.uniform(-0.06, 0.08)
    s += rng.normal(0, 0.008, s.shape)
    # placed as `mol prepare` aligns a real face, then a residual pose of a degree or two (the
    # benchmark's clips are aligned once, on the onset, so later frames keep small pose changes)
    from mol.data.align import similarity_transform

    matrix = similarity_transform(s, size)
    angle, scale = rng.uniform(-2.0, 2.0), rng.uniform(0.97, 1.03)
    pose = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    pose[:, 2] += rng.uniform(-2.0, 2.0, 2)
    aligned = s @ matrix[:, :2].T + matrix[:, 2]
    return (aligned @ pose[:, :2].T + pose[:, 2]).astype(np.float32)


def smooth_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...] = (4, 8, 16, 32)) -> np.ndarray:
    """Multi-scale random texture (size, size) with zero mean and unit standard deviation."""
    out = np.zeros((size, size), np.float32)
    for k, cells in enumerate(octaves):
        coarse = rng.normal(0, 1, (cells, cells)).astype(np.float32)
        out += cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) * 0.6**k
    return (out - out.mean()) / (out.std() + 1e-6)


def _poly(points: np.ndarray) -> np.ndarray:
    return np.round(points * 4).astype(np.int32)  # 2 fractional bits (cv2's shift=2)


def _fill(canvas: np.ndarray, points: np.ndarray, value: float) -> None:
    cv2.fillPoly(canvas, [_poly(points)], float(value), lineType=cv2.LINE_AA, shift=2)


def _line(canvas: np.ndarray, points: np.ndarray, value: float, thickness: int, closed: bool = False) -> None:
    cv2.polylines(canvas, [_poly(points)], closed, float(value), thickness, lineType=cv2.LINE_AA, shift=2)


def _face_outline(lm: np.ndarray) -> np.ndarray:
    """The jaw line closed over the forehead by an arc above the brows."""
    jaw = lm[0:17]
    left, right = jaw[0], jaw[16]
    brow_top = lm[17:27, 1].min()
    height = (jaw[8, 1] - brow_top) * 0.45
    a = np.linspace(0.0, math.pi, 15)[1:-1]
    centre = (left + right) / 2
    half = (right[0] - left[0]) / 2
    arc = np.stack([centre[0] + half * np.cos(a), min(left[1], right[1]) - height * np.sin(a) * 1.2], 1)
    return np.concatenate([jaw, arc])


def paint_face(landmarks: np.ndarray, rng: np.random.Generator, size: int = ALIGNED_SIZE) -> np.ndarray:
    """A grayscale face (size, size) float32 in 0..255 painted around ``landmarks``."""
    lm = landmarks.astype(np.float64)
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    image, skin = _skin_and_hair(lm, iod, rng, size)
    marks, tones = _facial_features(lm, iod, skin, rng, size)
    image = image * (1 - marks) + tones * marks
    if rng.random() < 0.15:  # glasses: two rims and a bridge
        for idx in (LANDMARK_PARTS["left eye"], LANDMARK_PARTS["right eye"]):
            c = lm[list(idx)].mean(0)
            axes = (int(iod * 0.35), int(iod * 0.25))
            cv2.ellipse(image, (int(c[0]), int(c[1])), axes, 0, 0, 360, rng.uniform(0, 60), 1, cv2.LINE_AA)
    image += rng.uniform(1, 6) * smooth_noise(rng, size, (48, 96, 144))  # fine skin texture
    return np.clip(image, 0, 255).astype(np.float32)


def _skin_and_hair(lm: np.ndarray, iod: float, rng: np.random.Generator, size: int) -> tuple[np.ndarray, float]:
    """The background, the shaded skin of the face's outline and, half the time, hair; and the
    skin's tone."""
    background = rng.uniform(30, 220) + rng.uniform(5, 40) * smooth_noise(rng, size)
    skin = rng.uniform(70, 210)
    image = background.astype(np.float32)
    face = np.zeros((size, size), np.float32)
    _fill(face, _face_outline(lm), 1.0)
    face = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.8, 2.5))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    light = rng.normal(0, 1, 2)
    shading = skin * (1 + rng.uniform(0.05, 0.35) * (light[0] * xs + light[1] * ys) / (np.hypot(*light) + 1e-6))
    centre = lm[27:36].mean(0) / size - 0.5
    roundness = 1 - rng.uniform(0.1, 0.5) * ((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) * 4
    skin_map = shading * roundness + rng.uniform(2, 14) * smooth_noise(rng, size, (8, 24, 48, 72))
    image = image * (1 - face) + skin_map * face
    if rng.random() < 0.5:  # hair over the forehead and sides
        hair = np.zeros((size, size), np.float32)
        top = lm[17:27, 1].min() - rng.uniform(0.1, 0.6) * iod
        _fill(hair, np.array([[0, 0], [size, 0], [size, top], [0, top]], np.float64), 1.0)
        hair = cv2.GaussianBlur(hair * (1 - 0.7 * face), (0, 0), 2.0)
        tone = rng.uniform(10, 120) + 15 * smooth_noise(rng, size, (16, 48))
        image = image * (1 - hair) + tone * hair
    return image, skin


def _facial_features(
    lm: np.ndarray, iod: float, skin: float, rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(marks, tones): where brows, eyes, nose and lips replace the skin (0..1), and their tone."""
    dark = skin * rng.uniform(0.15, 0.6)
    marks = np.zeros((size, size), np.float32)  # 1 where the feature's tone replaces skin
    tones = np.zeros((size, size), np.float32)

    def paint(draw, tone: float) -> None:
        layer = np.zeros((size, size), np.float32)
        draw(layer)
        np.maximum(marks, layer, out=marks)
        tones[layer > 0] = tone

    brow_w = max(1, round(iod * rng.uniform(0.06, 0.16)))
    for idx in (LANDMARK_PARTS["left brow"], LANDMARK_PARTS["right brow"]):
        paint(lambda c, idx=idx: _line(c, lm[list(idx)], 1.0, brow_w), dark)
    eye_white = min(255.0, skin * rng.uniform(1.0, 1.5))
    gaze = rng.uniform(-0.25, 0.25, 2)
    for idx in (LANDMARK_PARTS["left eye"], LANDMARK_PARTS["right eye"]):
        points = lm[list(idx)]
        paint(lambda c, p=points: _fill(c, p, 1.0), eye_white)
        width = float(np.linalg.norm(points[3] - points[0]))
        iris = points.mean(0) + gaze * width * [0.4, 0.15]
        radius = max(1, round(width * rng.uniform(0.18, 0.28)))
        iris_tone = rng.uniform(10, 90)
        paint(lambda c, q=iris, r=radius: cv2.circle(c, tuple(int(v) for v in np.round(q)), r, 1.0, -1), iris_tone)
        paint(lambda c, p=points: _line(c, p, 1.0, 1, closed=True), dark)
    paint(lambda c: _line(c, lm[27:31], 1.0, 1), skin * rng.uniform(0.75, 0.95))
    for k in (31, 35):
        paint(lambda c, k=k: cv2.ellipse(c, (int(lm[k, 0]), int(lm[k, 1])), (2, 1), 0, 0, 360, 1.0, -1), dark)
    paint(lambda c: _line(c, lm[31:36], 1.0, 1), skin * rng.uniform(0.6, 0.9))
    lip = skin * rng.uniform(0.45, 0.95)
    paint(lambda c: _fill(c, lm[48:60], 1.0), lip)
    paint(lambda c: _line(c, lm[60:68], 1.0, 1, closed=True), dark * 0.7)
    marks = cv2.GaussianBlur(marks, (0, 0), rng.uniform(0.4, 1.2))
    tones = cv2.GaussianBlur(tones, (0, 0), 0.6)
    return marks, tones


def random_face(rng: np.random.Generator, size: int = ALIGNED_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A new procedural identity: image (size, size) float32 in 0..255 and landmarks (68, 2)."""
    landmarks = random_shape(rng, size)
    return paint_face(landmarks, rng, size), landmarks
