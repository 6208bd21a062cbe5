"""Synthetic micro-expressions with exact ground truth, from real face photographs.

Every frame is the subject's neutral face moved by a dense forward displacement field
U_t = Σ_AU a_AU(t) · F_AU + blink(t) + head drift(t), where each action-unit field F_AU is a sum
of Gaussian bumps anchored on the 68 landmarks. A frame is rendered by inverting the forward
map with a fixed-point iteration (the fields are smooth and a few pixels at most, so it
converges to far below a pixel in a few steps) and sampling the neutral image there. Hence:

* landmarks of frame t are exactly L + U_t(L);
* the flow from frame s to frame t at pixel q is exactly p + U_t(p) - q with p = the neutral
  point that lands on q in frame s (exact up to bilinear interpolation of the fields).

The ground truth stored per video is the neutral landmarks and the few basis fields actually
used with their per-frame coefficients, so flow between any two frames can be recomputed.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mol.constants import ALIGNED_SIZE, BROWS, LANDMARK_PARTS, NUM_LANDMARKS, inter_ocular
from mol.errors import ConfigError

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
def _grid(size: int) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([xs, ys], axis=-1)  # (H, W, 2) as (x, y)


def bump_field(size: int, anchors: np.ndarray, directions: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Σ_k d_k · exp(-|p - a_k|² / 2σ_k²), scaled so the largest displacement is 1 px. (H, W, 2)."""
    grid = _grid(size)
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
    grid = _grid(field.shape[0])
    sample = sample_field if precise else _sample_dense
    p = grid.copy()
    for _ in range(iterations):
        p = grid - sample(field, p)
    return p


def render(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """The image moved by the forward displacement field (float32 in, float32 out)."""
    p = inverse_map(field, precise=False)
    return cv2.remap(image, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def exact_flow(field_s: np.ndarray, field_t: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Flow from the frame rendered with field_s to the one rendered with field_t, at ``points``
    (..., 2) of frame s, or at every pixel (H, W, 2) if None."""
    q = _grid(field_s.shape[0]) if points is None else np.asarray(points, np.float32)
    p = q.copy()
    for _ in range(8):  # the neutral point that lands on q in frame s
        p = q - sample_field(field_s, p)
    return p + sample_field(field_t, p) - q


def aligned_ground_truth(
    video: SynthVideo, matrices: np.ndarray, pairs: list[tuple[int, int]], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact flows (P, size, size, 2) and landmarks (T, 68, 2) in aligned coordinates.

    ``matrices`` (T, 2, 3) map generated frames to aligned ones. Aligned pixel a of frame i comes
    from q = M_i⁻¹ a, which moves to q + flow(q) in frame j, i.e. to M_j (q + flow(q)) there.
    """
    grid = _grid(size).astype(np.float64)
    flows = np.zeros((len(pairs), size, size, 2), np.float32)
    for n, (i, j) in enumerate(pairs):
        inverse = cv2.invertAffineTransform(matrices[i])
        q = grid @ inverse[:, :2].T + inverse[:, 2]
        moved = q + exact_flow(video.field(i), video.field(j), q)
        flows[n] = moved @ matrices[j][:, :2].T + matrices[j][:, 2] - grid
    landmarks = np.einsum("tij,tkj->tki", matrices[:, :, :2], video.landmarks) + matrices[:, None, :, 2]
    return flows, landmarks.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Subjects
# ---------------------------------------------------------------------------------------------
FACES_DIR = Path(__file__).with_name("faces")


@dataclass(frozen=True)
class FacePhoto:
    """A photograph of one real person that ships with the installed packages (origins and
    licences: FACES.md beside this module)."""

    name: str
    person: str
    source: str  # a package resource: "skimage:astronaut", "matplotlib:FILE" or "mol:FILE"

    def read(self) -> np.ndarray:
        """The photograph as grayscale uint8."""
        kind, item = self.source.split(":", 1)
        if kind == "skimage":
            from skimage import color, data

            return (color.rgb2gray(getattr(data, item)()) * 255).astype(np.uint8)
        if kind == "matplotlib":
            from matplotlib import cbook

            path = Path(cbook.get_sample_data(item, asfileobj=False))
        else:
            path = FACES_DIR / item
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise FileNotFoundError(f"{path}: face photograph {self.name!r} missing; reinstall mol-mer")
        return gray


# Six different people; a subject of a synthetic dataset is one of them.
FACE_PHOTOS: dict[str, FacePhoto] = {
    photo.name: photo
    for photo in (
        FacePhoto("collins", "Eileen Collins", "skimage:astronaut"),
        FacePhoto("hopper", "Grace Hopper", "matplotlib:grace_hopper.jpg"),
        FacePhoto("biden", "Joe Biden", "mol:biden.jpg"),
        FacePhoto("obama", "Barack Obama", "mol:obama.jpg"),
        FacePhoto("paul", "Aaron Paul", "mol:paul.jpg"),
        FacePhoto("kanade", "Takeo Kanade", "mol:kanade.jpg"),
    )
}


def load_face(source: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale face photo framed to size × size (face box of the alignment, reflected border)
    and its 68 dlib landmarks in that frame. ``source``: a name of FACE_PHOTOS or an image path."""
    from mol.data.align import detect_landmarks, similarity_transform

    if source in FACE_PHOTOS:
        gray = FACE_PHOTOS[source].read()
    else:
        gray = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise ConfigError(f"{source}: unreadable image; give a face photo file or one of {sorted(FACE_PHOTOS)}")
    landmarks = detect_landmarks(gray)
    if landmarks is None:
        raise ConfigError(f"{source}: no face found; give a frontal face photo with --face-image")
    matrix = similarity_transform(landmarks, size)
    framed = cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return framed.astype(np.float32), (landmarks @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def subject_faces(config: SynthConfig) -> list[str]:
    """The face source of each subject, in subject order: the extra photos first, then the
    configured people; a source is reused only when there are more subjects than sources (with
    a warning)."""
    sources = [*config.face_images, *config.people]
    unknown = [name for name in config.people if name not in FACE_PHOTOS]
    if unknown:
        raise ConfigError(f"unknown face photo(s) {unknown}; choose from {sorted(FACE_PHOTOS)} or use --face-image")
    if not sources:
        raise ConfigError("no face photos: name at least one person or give --face-image")
    if config.subjects > len(sources):
        warnings.warn(
            f"{config.subjects} subjects but {len(sources)} face photos: subjects beyond the first "
            f"{len(sources)} reuse a photograph, so some LOSO subjects are the same person",
            stacklevel=2,
        )
    return [sources[s % len(sources)] for s in range(config.subjects)]


@dataclass
class Subject:
    """A neutral identity: image (S, S) float32, landmarks (68, 2), and static photometry."""

    image: np.ndarray
    landmarks: np.ndarray
    gradient: tuple[float, float]
    contrast: float
    noise: float
    blur: float = 0.0  # Gaussian sigma, pixels of the generated frame (0: none)


def make_subject(
    face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, blur: tuple[float, float] = (0.0, 0.0)
) -> Subject:
    """Vary a face: proportions (landmark-anchored smooth warp), pose, lighting, contrast, noise,
    mirroring, optical blur."""
    from mol.data.clips import MIRROR_68

    size = face.shape[0]
    iod = inter_ocular(landmarks)
    parts = ("left eye", "right eye", "nose", "mouth", "jaw")
    groups = [*(LANDMARK_PARTS[name] for name in parts), BROWS]
    anchors, directions, sigmas = [], [], []
    for g in groups:
        centre = landmarks[list(g)].mean(0)
        anchors.append(centre)
        directions.append(rng.normal(0, 1, 2))
        sigmas.append(0.5 * iod)
    proportions = bump_field(size, np.array(anchors), np.array(directions), np.array(sigmas))
    proportions *= rng.uniform(1.0, 0.06 * iod)
    image = render(face, proportions)
    lm = landmarks + sample_field(proportions, landmarks)

    angle, scale = rng.uniform(-6, 6), rng.uniform(0.92, 1.08)
    shift = rng.uniform(-0.04, 0.04, 2) * size
    pose = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    pose[:, 2] += shift
    image = cv2.warpAffine(image, pose, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lm = lm @ pose[:, :2].T + pose[:, 2]
    if rng.random() < 0.5:
        image = image[:, ::-1].copy()
        lm = lm[MIRROR_68] * np.array([-1.0, 1.0]) + np.array([size - 1.0, 0.0])
    return Subject(
        image=image.astype(np.float32),
        landmarks=lm.astype(np.float32),
        gradient=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3))),
        contrast=float(rng.uniform(0.8, 1.2)),
        noise=float(rng.uniform(0.8, 2.0)),
        blur=float(rng.uniform(*blur)) if blur[1] > 0 else 0.0,
    )


# ---------------------------------------------------------------------------------------------
# Videos
# ---------------------------------------------------------------------------------------------
@dataclass
class SynthConfig:
    """Everything that shapes a synthetic dataset (all randomness flows from ``seed``)."""

    scheme: str = "casme2-5"
    subjects: int = 6  # one per built-in photograph: six different people
    clips_per_class: int = 2
    seed: int = 0
    size: int = 256
    amplitude: tuple[float, float] = (0.5, 2.5)  # apex displacement, aligned (128-px face) pixels
    duration: tuple[float, float] = (0.12, 0.32)  # seconds per clip (24-64 frames at 200 fps)
    people: tuple[str, ...] = tuple(FACE_PHOTOS)  # built-in photographs, one person per subject
    face_images: list[str] = field(default_factory=list)  # the user's photographs, before ``people``
    fps: float = 200.0  # CASME II and SAMM: 200; SMIC-HS: 100
    jpeg_quality: int = 90  # frames written as JPEG, as CASME II and SAMM ship them; 0: lossless PNG
    blur: tuple[float, float] = (0.0, 0.0)  # per-subject Gaussian blur sigma range, generated pixels

    def frame_range(self) -> tuple[int, int]:
        """Clip length in frames at this frame rate (at least the 8 frames a clip needs)."""
        return max(8, round(self.duration[0] * self.fps)), max(8, round(self.duration[1] * self.fps))


@dataclass
class SynthVideo:
    subject: int
    name: str
    class_name: str
    emotion: str
    aus: list[str]
    frames: np.ndarray | None  # (T, S, S) uint8 (None when loaded from a ground-truth file)
    landmarks: np.ndarray  # (T, 68, 2) float32, exact
    specs: list[FieldSpec]  # the K basis fields whose combination moves each frame
    coefficients: np.ndarray  # (T, K) float32
    onset: int
    apex: int
    offset: int
    amplitude: float
    size: int

    @property
    def basis(self) -> np.ndarray:
        if getattr(self, "_basis", None) is None:
            self._basis = np.stack([spec.build(self.size) for spec in self.specs])
        return self._basis

    def field(self, t: int) -> np.ndarray:
        """The forward displacement field (S, S, 2) of frame t relative to the neutral face."""
        return np.tensordot(self.coefficients[t], self.basis, axes=1).astype(np.float32)

    def flow(self, s: int, t: int) -> np.ndarray:
        """Exact flow (S, S, 2) from frame s to frame t."""
        return exact_flow(self.field(s), self.field(t))


def _profile(length: int, onset: int, apex: int, offset: int) -> np.ndarray:
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


def make_video(
    subject: Subject,
    subject_index: int,
    name: str,
    class_name: str,
    emotion: str,
    config: SynthConfig,
    rng: np.random.Generator,
) -> SynthVideo:
    from mol.data.align import similarity_transform

    size = subject.image.shape[0]
    shortest, longest = config.frame_range()
    length = int(rng.integers(shortest, longest + 1))
    onset = int(rng.integers(2, max(3, length // 3)))
    apex = onset + int(rng.integers(max(2, length // 8), max(3, length // 4) + 1))
    offset = min(length - 1, apex + int(rng.integers(max(2, length // 8), max(3, length // 3) + 1)))
    choices = others_combinations(config.scheme) if emotion == "others" else EMOTION_AUS[emotion]
    aus = list(choices[int(rng.integers(len(choices)))])
    # aligned pixels per frame pixel, so amplitudes are stated at the aligned face scale
    to_aligned = float(np.linalg.norm(similarity_transform(subject.landmarks, ALIGNED_SIZE)[:, 0]))
    amplitude = float(rng.uniform(*config.amplitude))
    profile = _profile(length, onset, apex, offset)

    specs = [au_spec(au, subject.landmarks) for au in aus]
    weights = rng.uniform(0.7, 1.0, len(aus))
    weights = weights * expression_scale(specs, weights, subject.landmarks, size)
    coeffs = [profile * amplitude * w / to_aligned for w in weights]
    # nuisances, independent of the class: blinks, slow head drift (≤ ~2 aligned px)
    blink = np.zeros(length)
    per_frame = config.fps / 200.0  # blink lengths below are frames at 200 fps
    for _ in range(int(rng.integers(0, 3))):
        dur = max(2, round(per_frame * int(rng.integers(4, 9))))
        start = int(rng.integers(0, max(1, length - dur)))
        blink += _profile(length, start, start + dur // 2, min(length - 1, start + dur)) * rng.uniform(1.0, 3.0)
    specs.append(au_spec("BLINK", subject.landmarks))
    coeffs.append(blink / to_aligned)
    t = np.linspace(0.0, 1.0, length)
    for drift, direction in (("DRIFT_X", (1.0, 0.0)), ("DRIFT_Y", (0.0, 1.0))):
        specs.append(shift_spec(drift, direction))
        target = rng.uniform(-1.5, 1.5)
        coeffs.append((target * t + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t)) / to_aligned)
    coeff_arr = np.stack(coeffs, axis=1).astype(np.float32)
    video = SynthVideo(
        subject_index,
        name,
        class_name,
        emotion,
        aus,
        None,
        np.empty(0),
        specs,
        coeff_arr,
        onset,
        apex,
        offset,
        amplitude,
        size,
    )

    gx, gy = subject.gradient
    grid = _grid(size)
    illumination = 1.0 + gx * (grid[..., 0] / size - 0.5) + gy * (grid[..., 1] / size - 0.5)
    mean = float(subject.image.mean())
    frames = np.empty((length, size, size), np.uint8)
    landmarks = np.empty((length, NUM_LANDMARKS, 2), np.float32)
    for i in range(length):
        u = video.field(i)
        moved = render(subject.image, u)
        gain = 1.0 + rng.normal(0.0, 0.005)  # brightness flicker
        pixel = ((moved - mean) * subject.contrast + mean) * illumination * gain
        if subject.blur > 0:
            pixel = cv2.GaussianBlur(pixel, (0, 0), subject.blur)
        pixel += rng.normal(0.0, subject.noise, pixel.shape)
        frames[i] = np.clip(np.rint(pixel), 0, 255).astype(np.uint8)
        landmarks[i] = subject.landmarks + sample_field(u, subject.landmarks)
    video.frames, video.landmarks = frames, landmarks
    return video


# ---------------------------------------------------------------------------------------------
# Datasets on disk: the CASME II raw layout, a coding sheet, and the exact ground truth
# ---------------------------------------------------------------------------------------------
GROUND_TRUTH_FILE = "ground_truth.h5"
SHEET_FILE = "CASME2-coding-synthetic.xlsx"
MANIFEST_FILE = "manifest.csv"
FRAMES_DIR = "CASME2_RAW_selected"
GT_FORMAT = "mol-synth-ground-truth"
GT_VERSION = 1
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _write_sheet_deterministically(rows: list[list], path: Path) -> None:
    """xlsx with fixed timestamps (openpyxl stamps the time in the zip entries and metadata)."""
    import io
    import re
    import zipfile

    import pandas as pd

    columns = [
        "Subject",
        "Filename",
        "Unnamed: 2",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "Unnamed: 6",
        "Action Units",
        "Estimated Emotion",
    ]
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=columns).to_excel(buffer, index=False, engine="openpyxl")
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", data)
            target.writestr(zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())


def sheet_action_units(aus: list[str]) -> str:
    """The coding sheet's AU cell: "AU6"+"AU12" → "6+12"; unilateral codes keep their side ("R14")."""
    return "+".join(au[2:] if au.startswith("AU") else au for au in aus)


def load_subject_faces(config: SynthConfig) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Check the config and load its face photos: (each subject's face source, framed face and
    landmarks of each source). Raises ConfigError before anything is generated or written."""
    if config.scheme not in SCHEME_EMOTIONS:
        raise ConfigError(f"unknown scheme {config.scheme!r}; choose one of {sorted(SCHEME_EMOTIONS)}")
    if config.subjects < 1 or config.clips_per_class < 1:
        raise ConfigError("--subjects and --clips-per-class must be at least 1")
    sources = subject_faces(config)
    return sources, {source: load_face(source, config.size) for source in dict.fromkeys(sources)}


def iter_videos(config: SynthConfig, loaded=None):
    """Every video of a synthetic dataset, in order, as (subject index, face source, SynthVideo);
    ``loaded``: what :func:`load_subject_faces` returned, if it was called already."""
    sources, faces = loaded or load_subject_faces(config)
    classes = SCHEME_EMOTIONS[config.scheme]
    for s, source in enumerate(sources):
        rng = np.random.default_rng([config.seed, s])
        subject = make_subject(*faces[source], rng, config.blur)
        plan = [(c, k) for c in classes for k in range(config.clips_per_class)]
        order = rng.permutation(len(plan))  # clip numbers do not reveal the class
        for number, index in enumerate(order, start=1):
            class_name, _ = plan[index]
            options = classes[class_name]
            emotion = options[int(rng.integers(len(options)))]
            yield s, source, make_video(subject, s, f"EP{number:02d}_01", class_name, emotion, config, rng)


def _write_frames(folder: Path, frames: np.ndarray, jpeg_quality: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        if jpeg_quality > 0:
            cv2.imwrite(str(folder / f"img{i + 1}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        else:
            cv2.imwrite(str(folder / f"img{i + 1}.png"), frame)


def generate_dataset(out_dir: str | Path, config: SynthConfig, progress: bool = True) -> dict:
    """Write a synthetic dataset that `mol prepare --dataset casme2` reads like real data.

    Layout: OUT/CASME2_RAW_selected/subNN/EPkk_01/img{n}.jpg, OUT/CASME2-coding-synthetic.xlsx,
    OUT/manifest.csv (the same rows with the frame rate, for `--dataset manifest` when the rate is
    not CASME II's 200 fps), OUT/ground_truth.h5 (exact landmarks and the motion of every frame).
    Same config, same bytes.
    """
    import h5py
    import pandas as pd
    from tqdm import tqdm

    loaded = load_subject_faces(config)  # a bad config is refused before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, manifest, summary = [], [], {"videos": 0, "frames": 0, "people": []}
    gt_tmp = out / f".{GROUND_TRUTH_FILE}.tmp"
    total = config.subjects * len(SCHEME_EMOTIONS[config.scheme]) * config.clips_per_class
    try:
        with (
            tqdm(total=total, desc="synth", unit="video", disable=not progress) as bar,
            h5py.File(gt_tmp, "w", track_order=True) as gt,
        ):
            gt.attrs["format"] = GT_FORMAT
            gt.attrs["format_version"] = GT_VERSION
            gt.attrs["config"] = json.dumps(synth_config_dict(config), sort_keys=True)
            for s, source, video in iter_videos(config, loaded):
                subject = f"sub{s + 1:02d}"
                _write_frames(out / FRAMES_DIR / subject / video.name, video.frames, config.jpeg_quality)
                frames = (video.onset + 1, video.apex + 1, video.offset + 1)
                aus = sheet_action_units(video.aus)
                rows.append([s + 1, video.name, None, *frames, None, aus, video.emotion])
                folder = f"{FRAMES_DIR}/{subject}/{video.name}"
                manifest.append([subject, folder, video.emotion, *frames, config.fps, aus])
                group = gt.create_group(f"{subject}/{video.name}")
                _write_ground_truth(group, video)
                group.attrs["face"], group.attrs["fps"] = source, config.fps
                if source not in summary["people"]:
                    summary["people"].append(source)
                summary["videos"] += 1
                summary["frames"] += len(video.frames)
                bar.update()
    except BaseException:
        gt_tmp.unlink(missing_ok=True)  # an interrupted run leaves no half-written ground truth
        raise
    os.replace(gt_tmp, out / GROUND_TRUTH_FILE)
    _write_sheet_deterministically(rows, out / SHEET_FILE)
    columns = ["subject", "video", "label", "onset", "apex", "offset", "fps", "action_units"]
    pd.DataFrame(manifest, columns=columns).to_csv(out / MANIFEST_FILE, index=False)
    return summary


def synth_config_dict(config: SynthConfig) -> dict:
    """The config as plain JSON values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}


def _write_ground_truth(group, video: SynthVideo) -> None:
    def put(name, data):
        group.create_dataset(name, data=data, track_times=False)

    put("landmarks", video.landmarks)
    put("coefficients", video.coefficients)
    width = max(1, max(len(spec.anchors) for spec in video.specs))
    anchors = np.full((len(video.specs), width, 2), np.nan)
    directions = np.full((len(video.specs), width, 2), np.nan)
    sigmas = np.full((len(video.specs), width), np.nan)
    for k, spec in enumerate(video.specs):
        anchors[k, : len(spec.anchors)] = spec.anchors
        directions[k, : len(spec.directions)] = spec.directions
        sigmas[k, : len(spec.sigmas)] = spec.sigmas
    put("basis_anchors", anchors)
    put("basis_directions", directions)
    put("basis_sigmas", sigmas)
    for key, value in {
        "class": video.class_name,
        "emotion": video.emotion,
        "aus": json.dumps(video.aus),
        "basis_names": json.dumps([spec.name for spec in video.specs]),
        "onset": video.onset,
        "apex": video.apex,
        "offset": video.offset,
        "amplitude": video.amplitude,
        "size": video.size,
        "first_frame_number": 1,
    }.items():
        group.attrs[key] = value


class GroundTruth:
    """Reads a synthetic dataset's exact ground truth: landmarks of every frame and the motion
    fields, from which the exact flow between any two frames is recomputed."""

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no synthetic ground truth here (made by `mol synth`)")
        self._file = h5py.File(self.path, "r")
        if self._file.attrs.get("format") != GT_FORMAT or int(self._file.attrs.get("format_version", -1)) != GT_VERSION:
            raise ConfigError(f"{self.path}: not a mol synthetic ground-truth file of version {GT_VERSION}")

    def video_keys(self) -> list[str]:
        """Every video as "subNN/EPkk_01"."""
        return [f"{s}/{v}" for s in self._file for v in self._file[s]]

    def video(self, subject: str, name: str) -> SynthVideo:
        g = self._file[f"{subject}/{name}"]
        names = json.loads(g.attrs["basis_names"])
        specs = []
        for k, spec_name in enumerate(names):
            valid = ~np.isnan(g["basis_sigmas"][k])
            if spec_name.startswith("DRIFT"):
                specs.append(shift_spec(spec_name, tuple(g["basis_directions"][k, 0])))
            else:
                specs.append(
                    FieldSpec(
                        spec_name,
                        g["basis_anchors"][k][valid],
                        g["basis_directions"][k][valid],
                        g["basis_sigmas"][k][valid],
                    )
                )
        a = g.attrs
        return SynthVideo(
            int(subject[3:]) - 1,
            name,
            str(a["class"]),
            str(a["emotion"]),
            json.loads(a["aus"]),
            None,
            g["landmarks"][()],
            specs,
            g["coefficients"][()],
            int(a["onset"]),
            int(a["apex"]),
            int(a["offset"]),
            float(a["amplitude"]),
            int(a["size"]),
        )

    def close(self) -> None:
        self._file.close()
