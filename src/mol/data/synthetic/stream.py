"""An endless stream of fresh training clips for pre-training: no clip is ever drawn twice.

Each clip is 8 aligned frames of a new identity (a procedural face, or a photograph varied in
proportions, pose and lighting) moved by randomly drawn action units (several at once, any
intensity, random onset/apex/offset within the clip), with the benchmark's nuisances (blinks,
head drift, sensor noise, JPEG, blur). Its targets belong to no dataset's class scheme: which
action units moved (multi-label), the exact flow of one frame pair, the exact landmarks.

Frames are rendered straight into the aligned frame (ALIGNED_SIZE square, as `mol prepare`
writes it) and centre-cropped to the network's CROP, so amplitudes are aligned pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mol.constants import (
    ALIGNED_SIZE,
    CLIP_FRAMES,
    CROP,
    EVAL_OFFSET,
    FRAME_PAIRS,
    IDENTITY_SOURCES,
    NUM_LANDMARKS,
)
from mol.data.synthetic.motion import (
    ACTION_UNITS,
    EMOTION_AUS,
    FieldSpec,
    au_spec,
    exact_flow,
    expression_scale,
    render,
    sample_field,
    shift_spec,
    warp_onto_shape,
)
from mol.data.synthetic.photos import ALL_PHOTOS
from mol.data.synthetic.procedural import random_face
from mol.data.synthetic.video import make_subject
from mol.errors import ConfigError

# the multi-label target: every action unit of the generator but the blink (a nuisance)
STREAM_AUS: tuple[str, ...] = tuple(name for name in ACTION_UNITS if name != "BLINK")
BENCHMARK_AMPLITUDE = (0.5, 2.5)  # apex displacement of the benchmark's micro-expressions, aligned px
LARGE_AMPLITUDE = (4.0, 8.0)  # where pre-training starts: motions MOL sees from scratch
# with head motion on: two more targets after the action units, whether the whole head moved
# right (x) and down (y) over the clip
HEAD_TARGETS: tuple[str, ...] = ("HEAD_RIGHT", "HEAD_DOWN")
# how far a morphed photograph goes towards its procedural partner: never past halfway, so the
# photograph's skin, shading and features still dominate
MORPH_WEIGHT = (0.2, 0.5)


def stream_targets(head_motion: bool) -> tuple[str, ...]:
    """The names of the multi-label target's columns, in order: the action units, then with
    ``head_motion`` the head's direction."""
    return STREAM_AUS + (HEAD_TARGETS if head_motion else ())


@dataclass(frozen=True)
class StreamConfig:
    """What the stream draws. ``people``: photographs (names of the built-in ones) that may serve
    as identities; ``identities``: procedural faces only, photographs only, both (``photo_share``
    of the clips photographs), or textures (a random smooth texture in place of a procedural face,
    moving as the face would)."""

    identities: str = "procedural"
    people: tuple[str, ...] = ()
    photo_share: float = 0.5  # with identities 'mixed': the share of clips whose face is a photograph
    max_aus: int = 3
    null_share: float = 0.1  # clips where no action unit moves (all-zero target)
    jpeg_share: float = 0.5  # clips stored as JPEG (quality 60-95), as the datasets ship frames
    # False: the head drifts by at most 1.5 px, a nuisance. True: it moves as far as the action
    # units (the clip's amplitude range, either way on each axis), starting off-centre, and its
    # direction is a target: the easiest motion to see
    head_motion: bool = False
    # share of clips whose face is blended with a random smooth texture (weight 0.3-1: at 1 only
    # the texture is left, moving as the face would): appearance a network cannot lean on
    texture_share: float = 0.0
    # True (with head_motion): the head's motion alone, no action units, blinks or photometry: the
    # capability check's kind of clip, a first stage that gets the raw input off its plateau
    plain_motion: bool = False
    sharp_textures: bool = False  # SHARP_TEXTURE instead of SMOOTH_TEXTURE for the random textures
    # share of photograph clips whose face is morphed with a new procedural face (MORPH_WEIGHT of
    # the way towards it): a person the pool does not hold, still mostly a photograph
    morph_share: float = 0.0

    @property
    def targets(self) -> tuple[str, ...]:
        """The names of the multi-label target's columns."""
        return stream_targets(self.head_motion)

    def __post_init__(self) -> None:
        if self.identities not in IDENTITY_SOURCES:
            raise ConfigError(f"identities must be one of {IDENTITY_SOURCES}, got {self.identities!r}")
        unknown = [p for p in self.people if p not in ALL_PHOTOS]
        if unknown:
            raise ConfigError(f"unknown face photo(s) {unknown}; choose from {sorted(ALL_PHOTOS)}")
        if not 0.0 <= self.texture_share <= 1.0:
            raise ConfigError(f"texture_share must lie in [0, 1], got {self.texture_share}")
        if not 0.0 <= self.morph_share <= 1.0:
            raise ConfigError(f"morph_share must lie in [0, 1], got {self.morph_share}")
        if not 0.0 <= self.photo_share <= 1.0:
            raise ConfigError(f"photo_share must lie in [0, 1], got {self.photo_share}")
        if self.photo_share != StreamConfig.photo_share and self.identities != "mixed":
            raise ConfigError("photo_share splits a mixed pool; it needs identities 'mixed'")
        if self.morph_share > 0 and self.identities not in ("photos", "mixed"):
            raise ConfigError("morph_share morphs photographs; it needs identities 'photos' or 'mixed'")
        if self.identities == "textures" and self.texture_share > 0:
            raise ConfigError("texture_share blends faces with textures; identities='textures' has no face to blend")
        if self.plain_motion and not self.head_motion:
            raise ConfigError("plain_motion needs head_motion: the head's motion is then the only one")
        if self.identities in ("photos", "mixed") and not self.people:
            raise ConfigError(f"identities={self.identities!r} needs at least one photograph in people")


def amplitude_range(step: int, curriculum_steps: int) -> tuple[float, float]:
    """The apex amplitudes drawn at ``step``: LARGE_AMPLITUDE for ``curriculum_steps`` steps, then
    both bounds move linearly to BENCHMARK_AMPLITUDE over as many steps, and stay there.
    ``curriculum_steps`` 0: the benchmark's range from the start."""
    if curriculum_steps <= 0:
        return BENCHMARK_AMPLITUDE
    t = min(max(step - curriculum_steps, 0) / curriculum_steps, 1.0)
    low = LARGE_AMPLITUDE[0] + t * (BENCHMARK_AMPLITUDE[0] - LARGE_AMPLITUDE[0])
    high = LARGE_AMPLITUDE[1] + t * (BENCHMARK_AMPLITUDE[1] - LARGE_AMPLITUDE[1])
    return (low, high)


# ---------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------
@dataclass
class Identity:
    """A neutral face in the aligned frame: image (S, S) float32 0..255, landmarks (68, 2)."""

    image: np.ndarray
    landmarks: np.ndarray


class PhotoFaces:
    """The built-in photographs framed in the aligned frame, each detected once. ``cache``: a
    folder where framed photos are kept as .npz (read there when present, so machines without
    the face detector can use them)."""

    def __init__(self, people: tuple[str, ...], cache: str | Path | None = None) -> None:
        self.people, self.cache = people, Path(cache) if cache else None
        self._faces: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def face(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._faces:
            self._faces[name] = self._load(name)
        return self._faces[name]

    def _load(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        path = self.cache / f"{name}.npz" if self.cache else None
        if path is not None and path.is_file():
            with np.load(path) as data:
                return data["image"], data["landmarks"]
        from mol.data.synthetic.photos import load_face

        image, landmarks = load_face(name, ALIGNED_SIZE)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, image=image, landmarks=landmarks)
        return image, landmarks


def photo_identity(photos: PhotoFaces, name: str, rng: np.random.Generator) -> Identity:
    """The built-in photograph ``name``, varied (see :func:`varied_face`)."""
    return varied_face(*photos.face(name), rng)


def morph_faces(
    face: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray], weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """A third face between two (image, landmarks) faces: both warped onto the shape ``weight`` of
    the way from the first's to the other's, then cross-dissolved with the same weight."""
    (image, landmarks), (other_image, other_landmarks) = face, other
    shape = (1 - weight) * np.asarray(landmarks, np.float32) + weight * np.asarray(other_landmarks, np.float32)
    warped, other_warped = warp_onto_shape([(image, landmarks), (other_image, other_landmarks)], shape)
    return ((1 - weight) * warped + weight * other_warped).astype(np.float32), shape.astype(np.float32)


def varied_face(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> Identity:
    """A face varied as `mol synth` varies a subject (proportions, pose, lighting, mirror)."""
    subject = make_subject(image, landmarks, rng)
    size = subject.image.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    gx, gy = subject.gradient
    mean = float(subject.image.mean())
    image = ((subject.image - mean) * subject.contrast + mean) * (1 + gx * xs + gy * ys)
    return Identity(np.clip(image, 0, 255).astype(np.float32), subject.landmarks)


def draw_identity(config: StreamConfig, photos: PhotoFaces, rng: np.random.Generator) -> Identity:
    use_photo = config.identities == "photos" or (config.identities == "mixed" and rng.random() < config.photo_share)
    if use_photo:
        face = photos.face(config.people[int(rng.integers(len(config.people)))])
        if config.morph_share > 0 and rng.random() < config.morph_share:
            face = morph_faces(face, random_face(rng), rng.uniform(*MORPH_WEIGHT))
        identity = varied_face(*face, rng)
    else:
        identity = Identity(*random_face(rng))
    if config.identities == "textures":
        # no face at all: a texture moved by a face's action units and head, so only motion tells
        # what moved (the capability check's kind of stimulus)
        return Identity(smooth_texture(len(identity.image), rng, config.sharp_textures), identity.landmarks)
    if config.texture_share > 0 and rng.random() < config.texture_share:
        weight = rng.uniform(0.3, 1.0)
        identity = Identity(
            (1 - weight) * identity.image + weight * smooth_texture(len(identity.image), rng, config.sharp_textures),
            identity.landmarks,
        )
    return identity


# blur σ (px) and contrast (grey levels per noise sd) of the random textures: smooth, or sharp (the
# capability check's kind: a 5-px box blur, sd 0.6 of the half range), whose motion shows more
SMOOTH_TEXTURE = ((1.0, 4.0), (30.0, 70.0))
SHARP_TEXTURE = ((1.0, 1.5), (60.0, 90.0))


def smooth_texture(size: int, rng: np.random.Generator, sharp: bool = False) -> np.ndarray:
    """A random smooth grey texture (size, size) float32 in 0..255: noise blurred at a random scale."""
    (sigmas, contrasts) = SHARP_TEXTURE if sharp else SMOOTH_TEXTURE
    sigma = rng.uniform(*sigmas)
    noise = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    noise /= noise.std() + 1e-6
    return np.clip(128 + rng.uniform(*contrasts) * noise, 0, 255).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Motion
# ---------------------------------------------------------------------------------------------
def draw_action_units(config: StreamConfig, rng: np.random.Generator) -> list[str]:
    """Half the time an emotion's combination (the co-occurrences of real expressions), else
    1..max_aus distinct action units at random; none at all with probability ``null_share``."""
    if rng.random() < config.null_share:
        return []
    if rng.random() < 0.5:
        combos = [c for emotion in EMOTION_AUS.values() for c in emotion]
        return list(combos[int(rng.integers(len(combos)))])
    count = int(rng.integers(1, config.max_aus + 1))
    return [STREAM_AUS[i] for i in rng.choice(len(STREAM_AUS), count, replace=False)]


def clip_profile(rng: np.random.Generator) -> np.ndarray:
    """Intensity (8,) at the clip's frames: a raised-cosine rise from a random onset to the apex
    and fall to the offset, in frame units of the clip (the offset may fall after its last frame)."""
    t = np.arange(CLIP_FRAMES, dtype=np.float64)
    onset = rng.uniform(-0.5, 3.0)
    apex = onset + rng.uniform(0.8, 3.0)
    offset = apex + rng.uniform(0.8, 4.0)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - onset) / (apex - onset), 0, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - apex) / (offset - apex), 0, 1))
    return np.where(t <= apex, rise, fall)


@dataclass
class ClipMotion:
    """The basis fields (K, S, S, 2) and their coefficients (8, K) moving a clip's frames."""

    aus: list[str]
    basis: np.ndarray
    coefficients: np.ndarray
    head: tuple[float, float] = (0.0, 0.0)  # the head's displacement over the clip (x, y), px

    def field(self, frame: int) -> np.ndarray:
        return np.tensordot(self.coefficients[frame], self.basis, axes=1).astype(np.float32)


def draw_motion(
    identity: Identity, config: StreamConfig, amplitude: tuple[float, float], rng: np.random.Generator
) -> ClipMotion:
    """Action units at a random apex amplitude (aligned px) plus blinks and head drift."""
    size = identity.image.shape[0]
    aus = [] if config.plain_motion else draw_action_units(config, rng)
    specs: list[FieldSpec] = []
    coefficients = []
    if aus:
        specs = [au_spec(au, identity.landmarks) for au in aus]
        weights = rng.uniform(0.4, 1.0, len(aus))
        weights = weights * expression_scale(specs, weights, identity.landmarks, size)
        profile = clip_profile(rng) * rng.uniform(*amplitude)
        coefficients = [profile * w for w in weights]
    if not config.plain_motion and rng.random() < 0.4:  # a blink, independent of the expression
        specs.append(au_spec("BLINK", identity.landmarks))
        centre, width = rng.uniform(0, CLIP_FRAMES - 1), rng.uniform(0.5, 1.5)
        t = np.arange(CLIP_FRAMES)
        coefficients.append(np.exp(-0.5 * ((t - centre) / width) ** 2) * rng.uniform(1.0, 3.0))
    t = np.linspace(0.0, 1.0, CLIP_FRAMES)
    head = []
    for name, direction in (("DRIFT_X", (1.0, 0.0)), ("DRIFT_Y", (0.0, 1.0))):
        specs.append(shift_spec(name, direction))
        travel = rng.uniform(*amplitude) * rng.choice((-1.0, 1.0)) if config.head_motion else rng.uniform(-1.5, 1.5)
        drift = travel * t + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 6))
        # a moving head also starts off-centre, by up to 1.5 × the largest travel: where the
        # face ends up then says nothing of which way it went, only the motion does
        start = rng.uniform(-1.5, 1.5) * amplitude[1] if config.head_motion else 0.0
        coefficients.append(drift - drift[0] + start)
        head.append(float(drift[-1] - drift[0]))
    basis = np.stack([spec.build(size) for spec in specs])
    return ClipMotion(aus, basis, np.stack(coefficients, axis=1).astype(np.float32), (head[0], head[1]))


# ---------------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------------
def photometry(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float frames (T, S, S) → uint8 with a contrast and gamma change, flicker, blur, sensor
    noise and JPEG, drawn once per clip."""
    contrast, gamma = rng.uniform(0.6, 1.3), rng.uniform(0.7, 1.4)
    mean = float(frames.mean())
    x = np.clip((frames - mean) * contrast + mean, 0, 255)
    x = 255.0 * (x / 255.0) ** gamma
    blur = rng.uniform(0.0, 1.2) if rng.random() < 0.5 else 0.0
    noise = rng.uniform(0.3, 3.0)
    quality = int(rng.integers(60, 96)) if rng.random() < 0.5 else 0
    out = np.empty(frames.shape, np.uint8)
    for i, frame in enumerate(x):
        frame = frame * (1.0 + rng.normal(0.0, 0.005))
        if blur > 0.3:
            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        frame = np.clip(np.rint(frame + rng.normal(0.0, noise, frame.shape)), 0, 255).astype(np.uint8)
        if quality:
            frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 0)
        out[i] = frame
    return out


def crop_grid() -> np.ndarray:
    """The network's input pixels (CROP, CROP, 2) as (x, y) in the aligned frame."""
    ys, xs = np.mgrid[0:CROP, 0:CROP].astype(np.float32) + EVAL_OFFSET
    return np.stack([xs, ys], axis=-1)


def make_clip(
    config: StreamConfig,
    photos: PhotoFaces,
    amplitude: tuple[float, float],
    pair: int,
    rng: np.random.Generator,
    identity: Identity | None = None,
) -> dict[str, np.ndarray]:
    """One fresh clip: ``clip`` (8, CROP, CROP) uint8, ``aus`` (len(config.targets),) float32 0/1,
    ``flow`` (2, CROP, CROP) float32, the exact flow of frame pair ``pair`` (frame pair → pair+1)
    in crop pixels, channel 0 = x, and ``landmarks`` (8, 68, 2) float32 in crop pixels."""
    identity = identity or draw_identity(config, photos, rng)
    motion = draw_motion(identity, config, amplitude, rng)
    fields = [motion.field(i) for i in range(CLIP_FRAMES)]
    frames = np.stack([render(identity.image, u) for u in fields])
    stored = np.clip(np.rint(frames), 0, 255).astype(np.uint8) if config.plain_motion else photometry(frames, rng)
    clip = stored[:, EVAL_OFFSET : EVAL_OFFSET + CROP, EVAL_OFFSET : EVAL_OFFSET + CROP]
    flow = exact_flow(fields[pair], fields[pair + 1], crop_grid())
    landmarks = np.stack([identity.landmarks + sample_field(u, identity.landmarks) for u in fields]) - EVAL_OFFSET
    target = np.zeros(len(config.targets), np.float32)
    for au in motion.aus:
        target[STREAM_AUS.index(au)] = 1.0
    if config.head_motion:
        target[len(STREAM_AUS) :] = np.array(motion.head) > 0
    return {
        "clip": np.ascontiguousarray(clip),
        "aus": target,
        "flow": np.ascontiguousarray(flow.transpose(2, 0, 1)),
        "landmarks": landmarks.astype(np.float32),
    }


def make_batch(
    config: StreamConfig,
    photos: PhotoFaces,
    size: int,
    amplitude: tuple[float, float],
    rng: np.random.Generator,
    identities: list[Identity] | None = None,
) -> dict[str, np.ndarray]:
    """``size`` clips stacked, all supervising the flow of one random frame pair (``pair``)."""
    pair = int(rng.integers(FRAME_PAIRS))
    clips = [
        make_clip(config, photos, amplitude, pair, rng, identities[i % len(identities)] if identities else None)
        for i in range(size)
    ]
    batch = {key: np.stack([c[key] for c in clips]) for key in clips[0]}
    batch["pair"] = np.array(pair)
    return batch


def batch_stream(
    config: StreamConfig,
    photos: PhotoFaces,
    batch_size: int,
    seed: int,
    start_step: int,
    curriculum_steps: int,
    stride: int = 1,
    offset: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """Batches for steps start_step + offset, + stride, …: batch n draws from its own generator
    seeded by (seed, n), so a resumed run and any number of loader workers draw the same clips."""
    step = start_step + offset
    while True:
        rng = np.random.default_rng([seed, step])
        batch = make_batch(config, photos, batch_size, amplitude_range(step, curriculum_steps), rng)
        batch["step"] = np.array(step)
        yield batch
        step += stride


def identity_set(
    kind: str, count: int, seed: int, photos: PhotoFaces | None = None, people: tuple[str, ...] = ()
) -> list[Identity]:
    """Fixed identities for measuring transfer: ``count`` procedural faces from a seed the
    training stream never uses, or varied photographs of ``people``."""
    rng = np.random.default_rng([seed, 7_777_777])
    if kind == "procedural":
        return [Identity(*random_face(rng)) for _ in range(count)]
    assert photos is not None
    return [photo_identity(photos, people[i % len(people)], rng) for i in range(count)]


def mean_shape_of(identities: list[Identity]) -> np.ndarray:
    """(68, 2) mean landmarks in crop pixels: the trivial landmark predictor's output."""
    shape = np.mean([i.landmarks for i in identities], axis=0) - EVAL_OFFSET
    assert shape.shape == (NUM_LANDMARKS, 2)
    return shape.astype(np.float32)
