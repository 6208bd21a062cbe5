"""Synthetic subjects and their videos: a neutral face moved by action-unit fields."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from mol.constants import ALIGNED_SIZE, BROWS, LANDMARK_PARTS, NUM_LANDMARKS, inter_ocular
from mol.data.synthetic.motion import (
    EMOTION_AUS,
    FieldSpec,
    au_spec,
    bump_field,
    exact_flow,
    expression_scale,
    intensity_profile,
    others_combinations,
    pixel_grid,
    render,
    sample_field,
    shift_spec,
)
from mol.data.synthetic.photos import FACE_PHOTOS
from mol.errors import ConfigError


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
    profile = intensity_profile(length, onset, apex, offset)

    specs = [au_spec(au, subject.landmarks) for au in aus]
    weights = rng.uniform(0.7, 1.0, len(aus))
    weights = weights * expression_scale(specs, weights, subject.landmarks, size)
    coeffs = [profile * amplitude * w / to_aligned for w in weights]
    nuisance_specs, nuisance_coeffs = _nuisances(subject, length, config.fps, to_aligned, rng)
    specs, coeffs = specs + nuisance_specs, coeffs + nuisance_coeffs
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
    video.frames, video.landmarks = _render_frames(subject, video, length, rng)
    return video


def _nuisances(
    subject: Subject, length: int, fps: float, to_aligned: float, rng: np.random.Generator
) -> tuple[list[FieldSpec], list[np.ndarray]]:
    """Motion independent of the class: 0-2 blinks and a slow head drift (≤ ~2 aligned px),
    as basis fields and their per-frame coefficients (frame pixels)."""
    blink = np.zeros(length)
    per_frame = fps / 200.0  # blink lengths below are frames at 200 fps
    for _ in range(int(rng.integers(0, 3))):
        dur = max(2, round(per_frame * int(rng.integers(4, 9))))
        start = int(rng.integers(0, max(1, length - dur)))
        shape = intensity_profile(length, start, start + dur // 2, min(length - 1, start + dur))
        blink += shape * rng.uniform(1.0, 3.0)
    specs, coeffs = [au_spec("BLINK", subject.landmarks)], [blink / to_aligned]
    t = np.linspace(0.0, 1.0, length)
    for drift, direction in (("DRIFT_X", (1.0, 0.0)), ("DRIFT_Y", (0.0, 1.0))):
        specs.append(shift_spec(drift, direction))
        target = rng.uniform(-1.5, 1.5)
        coeffs.append((target * t + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t)) / to_aligned)
    return specs, coeffs


def _render_frames(
    subject: Subject, video: SynthVideo, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Every frame (T, S, S) uint8, with the subject's shading, blur, flicker and sensor noise,
    and its exact landmarks (T, 68, 2)."""
    size = subject.image.shape[0]
    gx, gy = subject.gradient
    grid = pixel_grid(size)
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
    return frames, landmarks
