"""Action units as dense motion fields on the 68 landmarks, and the exact flow they imply."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mol.constants import inter_ocular

# ---------------------------------------------------------------------------------------------
# Action units: anchors (landmark indices) and unit directions in face coordinates
# (x to the subject's left side of the image = +x, y down = +y). A direction is per anchor.
# ---------------------------------------------------------------------------------------------
UP, DOWN, LEFT, RIGHT = (0.0, -1.0), (0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)


def _mix(*parts: tuple[float, float]) -> tuple[float, float]:
    x, y = sum(p[0] for p in parts), sum(p[1] for p in parts)
    n = math.hypot(x, y) or 1.0
    return (x / n, y / n)


# name → list of (landmark index, direction, relative radius)
ACTION_UNITS: dict[str, list[tuple[int, tuple[float, float], float]]] = {
    "AU1": [(i, UP, 0.35) for i in (20, 21, 22, 23)],  # inner brow raiser
    "AU2": [(i, UP, 0.35) for i in (17, 18, 25, 26)],  # outer brow raiser
    "AU4": [
        (19, _mix(DOWN, RIGHT), 0.35),
        (20, _mix(DOWN, RIGHT), 0.35),
        (21, _mix(DOWN, RIGHT), 0.3),
        (22, _mix(DOWN, LEFT), 0.3),
        (23, _mix(DOWN, LEFT), 0.35),
        (24, _mix(DOWN, LEFT), 0.35),
    ],  # brow lowerer
    "AU5": [(i, UP, 0.22) for i in (37, 38, 43, 44)],  # upper lid raiser
    "AU6": [(i, UP, 0.45) for i in (1, 2, 14, 15, 40, 41, 46, 47)],  # cheek raiser
    "AU7": [(i, UP, 0.2) for i in (40, 41, 46, 47)],  # lid tightener
    "AU9": [(i, UP, 0.3) for i in (27, 28, 31, 35)],  # nose wrinkler
    "AU10": [(i, UP, 0.3) for i in (50, 51, 52)],  # upper lip raiser
    "AU12": [(48, _mix(UP, LEFT), 0.35), (54, _mix(UP, RIGHT), 0.35)],  # lip corner puller
    "AU14": [(48, LEFT, 0.3), (54, RIGHT, 0.3)],  # dimpler
    "AU15": [(48, DOWN, 0.35), (54, DOWN, 0.35)],  # lip corner depressor
    "AU17": [(i, UP, 0.4) for i in (7, 8, 9, 57)],  # chin raiser
    "AU20": [(48, _mix(LEFT, DOWN), 0.3), (54, _mix(RIGHT, DOWN), 0.3)],  # lip stretcher
    "AU25": [(i, DOWN, 0.25) for i in (56, 57, 58, 65, 66, 67)],  # lips part
    "AU26": [(i, DOWN, 0.5) for i in (6, 7, 8, 9, 10, 57)],  # jaw drop
    "R14": [(54, RIGHT, 0.3)],  # unilateral dimpler (contempt)
    "BLINK": [(i, DOWN, 0.18) for i in (37, 38, 43, 44)],  # upper lids close (nuisance)
}

# Emotions as AU combinations (FACS conventions); "others" uses AUs outside the emotion codes.
EMOTION_AUS: dict[str, list[list[str]]] = {
    "happiness": [["AU6", "AU12"], ["AU12"], ["AU6", "AU12", "AU10"]],
    "surprise": [["AU1", "AU2", "AU5", "AU26"], ["AU1", "AU2"], ["AU1", "AU2", "AU5"]],
    "disgust": [["AU9", "AU10"], ["AU4", "AU9"], ["AU9", "AU10", "AU17"]],
    "repression": [["AU14", "AU17"], ["AU15", "AU17"], ["AU14"]],
    "anger": [["AU4", "AU7"], ["AU4", "AU7", "AU17"], ["AU4"]],
    "contempt": [["R14"], ["R14", "AU7"]],
    "sadness": [["AU1", "AU4", "AU15"], ["AU15", "AU17"]],
    "fear": [["AU1", "AU2", "AU4", "AU5", "AU20"], ["AU20", "AU5"]],
}
# "others" moves AUs that no other class of the scheme uses (see others_combinations)
OTHERS_CANDIDATES = [["AU25"], ["AU20"], ["AU7"], ["AU7", "AU25"], ["AU20", "AU25"], ["AU26", "AU25"]]


def others_combinations(scheme: str) -> list[list[str]]:
    """AU combinations for "others" that share no AU with the scheme's other emotions."""
    used = {
        au
        for emotions in SCHEME_EMOTIONS[scheme].values()
        for emotion in emotions
        if emotion != "others"
        for combo in EMOTION_AUS[emotion]
        for au in combo
    }
    return [combo for combo in OTHERS_CANDIDATES if not used & set(combo)]


# For each scheme: class → the emotions written to the coding sheet for it (they map onto that
# class through the scheme's own table when `mol prepare` reads the sheet).
SCHEME_EMOTIONS: dict[str, dict[str, list[str]]] = {
    "casme2-5": {c: [c] for c in ("surprise", "happiness", "disgust", "repression", "others")},
    "samm-5": {
        "surprise": ["surprise"],
        "happiness": ["happiness"],
        "anger": ["anger"],
        "contempt": ["contempt"],
        "others": ["others"],
    },
    "megc-3": {"surprise": ["surprise"], "positive": ["happiness"], "negative": ["disgust", "repression"]},
}


# ---------------------------------------------------------------------------------------------
# Fields and rendering
# ---------------------------------------------------------------------------------------------
def pixel_grid(size: int) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([xs, ys], axis=-1)  # (H, W, 2) as (x, y)


def bump_field(size: int, anchors: np.ndarray, directions: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Σ_k d_k · exp(-|p - a_k|² / 2σ_k²), scaled so the largest displacement is 1 px. (H, W, 2)."""
    grid = pixel_grid(size)
    field = np.zeros((size, size, 2), dtype=np.float64)
    for a, d, s in zip(anchors, directions, sigmas, strict=True):
        w = np.exp(-((grid - a) ** 2).sum(-1) / (2.0 * s * s))
        field += w[..., None] * d
    peak = np.sqrt((field**2).sum(-1)).max()
    return (field / peak if peak > 0 else field).astype(np.float32)


def sample_field(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (H, W, C) field at points (..., 2) given as (x, y), clamped to the
    border. Computed in float64 (OpenCV's remap rounds coordinates to 1/32 px, too coarse for
    ground truth)."""
    h, w = field.shape[:2]
    pts = np.asarray(points, dtype=np.float64)
    x = np.clip(pts[..., 0], 0.0, w - 1.0)
    y = np.clip(pts[..., 1], 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    f = field.astype(np.float64, copy=False)
    top = f[y0, x0] * (1 - fx) + f[y0, x0 + 1] * fx
    bottom = f[y0 + 1, x0] * (1 - fx) + f[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _sample_dense(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Fast bilinear samples at a dense (H, W, 2) grid of points with OpenCV (coordinates rounded
    to 1/32 px: good for rendering, not for ground truth)."""
    return cv2.remap(field, points[..., 0], points[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inverse_map(field: np.ndarray, iterations: int = 8, precise: bool = True) -> np.ndarray:
    """The neutral point p landing on each pixel q, i.e. p + U(p) = q, by fixed-point iteration
    (a contraction: the fields are smooth and move a few pixels at most)."""
    grid = pixel_grid(field.shape[0])
    sample = sample_field if precise else _sample_dense
    p = grid.copy()
    for _ in range(iterations):
        p = grid - sample(field, p)
    return p


def render(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """The image moved by the forward displacement field (float32 in, float32 out)."""
    p = inverse_map(field, precise=False)
    return cv2.remap(image, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _frame_anchors(size: int) -> np.ndarray:
    """The corners and edge midpoints of a size × size frame, (8, 2) as (x, y)."""
    e = size - 1.0
    return np.array([[0, 0], [e / 2, 0], [e, 0], [0, e / 2], [e, e / 2], [0, e], [e / 2, e], [e, e]], np.float64)


def _tps_kernel(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Thin-plate spline kernel r² log r² between points (N, 2) and centres (M, 2): (N, M)."""
    r2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-12)), 0.0)


def warp_onto_shape(faces: list[tuple[np.ndarray, np.ndarray]], target: np.ndarray) -> list[np.ndarray]:
    """Each face, (image (H, W), landmarks (K, 2)), warped so that its landmarks land on ``target``
    (K, 2): a thin-plate spline through the target, with the frame's corners and edge midpoints held
    still. The spline's basis depends on the target alone, so all the faces share one solve."""
    size = faces[0][0].shape[0]
    fixed = _frame_anchors(size)
    centres = np.concatenate([np.asarray(target, np.float64), fixed])
    n = len(centres)
    affine = np.concatenate([np.ones((n, 1)), centres], axis=1)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n], system[:n, n:], system[n:, :n] = _tps_kernel(centres, centres), affine, affine.T
    # backward maps: where each output pixel reads each image, an (x, y) column pair per face
    values = np.concatenate([np.concatenate([np.asarray(lm, np.float64), fixed]) - centres for _, lm in faces], axis=1)
    coefficients = np.linalg.solve(system, np.concatenate([values, np.zeros((3, values.shape[1]))]))
    grid = pixel_grid(size).reshape(-1, 2).astype(np.float64)
    basis = np.concatenate([_tps_kernel(grid, centres), np.ones((len(grid), 1)), grid], axis=1)
    offsets = basis @ coefficients
    warped = []
    for k, (image, _) in enumerate(faces):
        source = (grid + offsets[:, 2 * k : 2 * k + 2]).reshape(size, size, 2).astype(np.float32)
        warped.append(
            cv2.remap(
                image.astype(np.float32),
                source[..., 0],
                source[..., 1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    return warped


def exact_flow(field_s: np.ndarray, field_t: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Flow from the frame rendered with field_s to the one rendered with field_t, at ``points``
    (..., 2) of frame s, or at every pixel (H, W, 2) if None."""
    q = pixel_grid(field_s.shape[0]) if points is None else np.asarray(points, np.float32)
    p = q.copy()
    for _ in range(8):  # the neutral point that lands on q in frame s
        p = q - sample_field(field_s, p)
    return p + sample_field(field_t, p) - q


def intensity_profile(length: int, onset: int, apex: int, offset: int) -> np.ndarray:
    t = np.arange(length, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - onset) / max(apex - onset, 1), 0, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - apex) / max(offset - apex, 1), 0, 1))
    return np.where(t <= apex, rise, fall) * (t >= onset) * (t <= offset)


@dataclass(frozen=True)
class FieldSpec:
    """A basis motion field: Gaussian bumps (anchors, directions, sigmas), or a constant shift."""

    name: str
    anchors: np.ndarray  # (A, 2); empty for a constant field
    directions: np.ndarray  # (A, 2), or (1, 2) for a constant field
    sigmas: np.ndarray  # (A,)

    def build(self, size: int) -> np.ndarray:
        if len(self.anchors) == 0:
            return np.broadcast_to(self.directions[0].astype(np.float32), (size, size, 2)).copy()
        return bump_field(size, self.anchors, self.directions, self.sigmas)


def au_spec(name: str, landmarks: np.ndarray) -> FieldSpec:
    iod = inter_ocular(landmarks)
    spec = ACTION_UNITS[name]
    return FieldSpec(
        name,
        np.array([landmarks[i] for i, _, _ in spec], dtype=np.float64),
        np.array([d for _, d, _ in spec], dtype=np.float64),
        np.array([r * iod for _, _, r in spec], dtype=np.float64),
    )


def shift_spec(name: str, direction: tuple[float, float]) -> FieldSpec:
    return FieldSpec(name, np.zeros((0, 2)), np.array([direction], dtype=np.float64), np.zeros(0))


REFERENCE_EXTENT = 0.3  # mean |motion| over the face / peak |motion| of a typical AU combination
EXTENT_EQUALISATION = 0.5  # 0: peaks equal across combinations; 1: total motion equal


def face_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: inside the convex hull of the 68 landmarks."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 1)
    return mask.astype(bool)


def expression_scale(specs: list[FieldSpec], weights: np.ndarray, landmarks: np.ndarray, size: int) -> float:
    """The factor that gives the weighted sum of AU fields a peak displacement of 1, times
    (REFERENCE_EXTENT / extent) ** EXTENT_EQUALISATION.

    Without the second factor, a broad combination (a smile with cheek raise) moves several times
    more of the face than a local one (lips parting) at the same peak, and the total amount of
    motion alone would tell the classes apart. Equalising it halfway keeps peaks within about
    0.7-1.6 times the drawn amplitude.
    """
    field = sum(w * spec.build(size) for w, spec in zip(weights, specs, strict=True))
    magnitude = np.linalg.norm(field, axis=-1)
    peak = float(magnitude.max())
    extent = float(magnitude[face_mask(landmarks, size)].mean()) / peak
    return (REFERENCE_EXTENT / extent) ** EXTENT_EQUALISATION / peak
