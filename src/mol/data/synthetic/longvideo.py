"""Long synthetic recordings for spotting, with exact expression intervals and landmarks.

A recording is a face from :mod:`mol.data.synthetic` in a 640×480 frame, for a minute or so.
It carries micro-expressions (at most 0.5 s from onset to offset) and macro-expressions
(0.7-3 s) at known onset, apex and offset frames, and movements that are not expressions:
blinks, talking-like mouth movement (lips and jaw opening at 3-5 Hz for 1-3 s), slow head sway
and sudden head shifts. Expressions never overlap each other, talking or head shifts (so each
annotated interval is one clean event); blinks fall anywhere.
They are written to disk by :mod:`mol.data.synthetic.long_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mol.constants import ALIGNED_SIZE, MICRO_MAX_SECONDS, NUM_LANDMARKS
from mol.data.records import Interval
from mol.data.synthetic.motion import EMOTION_AUS, SCHEME_EMOTIONS, au_spec, others_combinations, render, sample_field
from mol.data.synthetic.video import make_subject


@dataclass
class LongConfig:
    """What shapes one long recording (all randomness flows from the seed it is made with)."""

    fps: float = 30.0
    seconds: float = 60.0
    frame_size: tuple[int, int] = (640, 480)  # width, height
    face_size: int = 256  # side of the canvas the face is rendered on
    face_scale: tuple[float, float] = (0.9, 1.15)  # canvas pixels → frame pixels
    micro_per_minute: float = 6.0
    macro_per_minute: float = 4.0
    blinks_per_minute: float = 12.0
    talking_per_minute: float = 2.0
    shifts_per_minute: float = 2.0
    micro_amplitude: tuple[float, float] = (1.0, 3.0)  # apex displacement, aligned (128-px face) pixels
    macro_amplitude: tuple[float, float] = (3.0, 7.0)
    micro_seconds: tuple[float, float] = (0.2, 0.46)  # onset to offset
    macro_seconds: tuple[float, float] = (0.7, 3.0)
    scheme: str = "casme2-5"  # the classes expressions are drawn from
    jpeg_quality: int = 90
    noise: tuple[float, float] = (0.8, 2.0)  # Gaussian pixel noise sigma


@dataclass
class Event:
    """Something that moves the face: an expression, a blink, talking, or a head shift."""

    kind: str  # micro | macro | blink | talking | shift
    onset: int
    apex: int
    offset: int
    label: str = ""  # the class of an expression
    aus: list[str] = field(default_factory=list)
    amplitude: float = 0.0  # aligned pixels (px for a shift, in frame pixels)
    weights: list[float] = field(default_factory=list)
    frequency: float = 0.0  # talking, Hz
    shift: tuple[float, float] = (0.0, 0.0)  # head shift, frame pixels


def _cosine_profile(t: np.ndarray, onset: int, apex: int, offset: int) -> np.ndarray:
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((t - onset) / max(apex - onset, 1), 0, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((t - apex) / max(offset - apex, 1), 0, 1))
    return np.where(t <= apex, rise, fall) * (t >= onset) * (t <= offset)


def _place(busy: list[tuple[int, int]], length: int, total: int, gap: int, rng: np.random.Generator):
    """A start frame for an event of ``length`` frames clear of ``busy`` ranges by ``gap``, or None."""
    for _ in range(200):
        start = int(rng.integers(gap, max(gap + 1, total - length - gap)))
        if all(start + length + gap <= a or start >= b + gap for a, b in busy):
            return start
    return None


def plan_events(config: LongConfig, rng: np.random.Generator) -> list[Event]:
    """Expressions, talking and head shifts placed without overlapping; blinks anywhere."""
    fps, total = config.fps, round(config.seconds * config.fps)
    minutes = config.seconds / 60.0
    classes = SCHEME_EMOTIONS[config.scheme]
    busy: list[tuple[int, int]] = []
    events: list[Event] = []
    gap = round(0.5 * fps)
    wanted = [("macro", config.macro_per_minute), ("micro", config.micro_per_minute)]
    wanted += [("talking", config.talking_per_minute), ("shift", config.shifts_per_minute)]
    for kind, rate in wanted:
        for _ in range(int(rng.poisson(rate * minutes)) if kind in ("talking", "shift") else round(rate * minutes)):
            seconds = {
                "micro": config.micro_seconds,
                "macro": config.macro_seconds,
                "talking": (1.0, 3.0),
                "shift": (0.3, 1.0),
            }[kind]
            length = max(3, round(rng.uniform(*seconds) * fps))
            if kind == "micro":  # a micro-expression never exceeds the limit, at any frame rate
                length = min(length, int(MICRO_MAX_SECONDS * fps))
            start = _place(busy, length, total, gap, rng)
            if start is None:
                continue
            busy.append((start, start + length - 1))
            offset = start + length - 1
            apex = start + round(rng.uniform(0.3, 0.6) * (length - 1))
            event = Event(kind, start, apex, offset)
            if kind in ("micro", "macro"):
                label = list(classes)[int(rng.integers(len(classes)))]
                emotion = classes[label][int(rng.integers(len(classes[label])))]
                options = others_combinations(config.scheme) if emotion == "others" else EMOTION_AUS[emotion]
                event.label = label
                event.aus = list(options[int(rng.integers(len(options)))])
                event.weights = [float(w) for w in rng.uniform(0.7, 1.0, len(event.aus))]
                amplitude = config.micro_amplitude if kind == "micro" else config.macro_amplitude
                event.amplitude = float(rng.uniform(*amplitude))
            elif kind == "talking":
                event.aus = ["AU25", "AU26"]
                event.amplitude = float(rng.uniform(1.5, 4.0))
                event.frequency = float(rng.uniform(3.0, 5.0))
            else:
                event.shift = (float(rng.uniform(-40, 40)), float(rng.uniform(-20, 20)))
            events.append(event)
    for _ in range(int(rng.poisson(config.blinks_per_minute * minutes))):
        length = max(3, round(rng.uniform(0.1, 0.25) * fps))
        start = int(rng.integers(0, max(1, total - length)))
        blink = Event("blink", start, start + length // 2, start + length - 1, aus=["BLINK"])
        blink.amplitude = float(rng.uniform(2.0, 4.0))
        events.append(blink)
    return sorted(events, key=lambda e: e.onset)


def event_coefficients(event: Event, frames: np.ndarray, to_aligned: float, fps: float) -> dict[str, np.ndarray]:
    """Per-AU coefficients (canvas pixels) of an event over ``frames`` of a ``fps`` recording."""
    if event.kind == "talking":
        phase = 2 * np.pi * event.frequency * (frames - event.onset) / fps  # frequency in Hz
        envelope = _cosine_profile(frames, event.onset, (event.onset + event.offset) // 2, event.offset) ** 0.25
        return {au: event.amplitude * envelope * (0.5 - 0.5 * np.cos(phase)) / to_aligned for au in event.aus}
    profile = _cosine_profile(frames, event.onset, event.apex, event.offset)
    weights = event.weights or [1.0] * len(event.aus)
    return {au: event.amplitude * w * profile / to_aligned for au, w in zip(event.aus, weights, strict=True)}


@dataclass
class LongVideo:
    """One generated recording: its events and exact landmarks; frames are streamed to disk."""

    name: str
    subject: int
    person: str
    fps: float
    num_frames: int
    events: list[Event]
    landmarks: np.ndarray  # (T, 68, 2) float32, frame pixels

    def intervals(self) -> list[Interval]:
        return [
            Interval(e.onset, e.apex, e.offset, e.kind, e.label) for e in self.events if e.kind in ("micro", "macro")
        ]


def _head_pose(config: LongConfig, events: list[Event], rng: np.random.Generator) -> np.ndarray:
    """(T, 3) per-frame (dx, dy, angle°): slow sway plus the smooth shifts of ``events``."""
    total = round(config.seconds * config.fps)
    t = np.arange(total) / config.fps
    pose = np.zeros((total, 3))
    for axis, amplitude in ((0, 6.0), (1, 4.0), (2, 1.5)):
        period = rng.uniform(6.0, 15.0)
        pose[:, axis] = amplitude * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
    frames = np.arange(total)
    for e in events:
        if e.kind == "shift":
            ramp = np.clip((frames - e.onset) / max(e.offset - e.onset, 1), 0, 1)
            step = 0.5 - 0.5 * np.cos(np.pi * ramp)
            pose[:, 0] += e.shift[0] * step
            pose[:, 1] += e.shift[1] * step
    return pose


def _face_alpha(landmarks: np.ndarray, size: int) -> np.ndarray:
    """A soft mask around the face (canvas pixels), so the face blends into the background."""
    mask = np.zeros((size, size), np.float32)
    centre = landmarks.mean(0)
    half = (landmarks.max(0) - landmarks.min(0)) * np.array([0.62, 0.72])
    cv2.ellipse(
        mask, (int(centre[0]), int(centre[1] - 0.1 * half[1])), (int(half[0]), int(half[1] * 1.1)), 0, 0, 360, 1, -1
    )
    return cv2.GaussianBlur(mask, (0, 0), size / 40)


def generate_long_video(
    face: tuple[np.ndarray, np.ndarray],
    config: LongConfig,
    seed: list[int],
    name: str,
    subject_index: int,
    person: str,
    write_frame,
) -> LongVideo:
    """Render one recording frame by frame, handing each (H, W) uint8 frame to ``write_frame(i, frame)``."""
    from mol.data.align import similarity_transform

    rng = np.random.default_rng(seed)
    subject = make_subject(*face, rng, (0.0, 0.8))
    size = config.face_size
    to_aligned = float(np.linalg.norm(similarity_transform(subject.landmarks, ALIGNED_SIZE)[:, 0]))
    events = plan_events(config, rng)
    total = round(config.seconds * config.fps)
    width, height = config.frame_size
    scale = float(rng.uniform(*config.face_scale))
    pose = _head_pose(config, events, rng)
    centre = np.array([width / 2 + rng.uniform(-60, 60), height / 2 + rng.uniform(-30, 30)])
    used = sorted({au for e in events for au in e.aus})
    basis = {au: au_spec(au, subject.landmarks).build(size) for au in used}
    frames = np.arange(total)
    coefficients: dict[str, np.ndarray] = {au: np.zeros(total) for au in used}
    for e in events:
        if e.aus:
            window = frames[e.onset : e.offset + 1]
            for au, c in event_coefficients(e, window, to_aligned, config.fps).items():
                coefficients[au][e.onset : e.offset + 1] += c
    alpha = _face_alpha(subject.landmarks, size)
    background = cv2.GaussianBlur(rng.uniform(60, 180, (height // 8, width // 8)).astype(np.float32), (0, 0), 3)
    background = cv2.resize(background, (width, height), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    gx, gy = subject.gradient
    illumination = 1.0 + gx * (xs / width - 0.5) + gy * (ys / height - 0.5)
    noise_sigma = float(rng.uniform(*config.noise))
    cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2.randn draws from OpenCV's own generator
    landmarks = np.empty((total, NUM_LANDMARKS, 2), np.float32)
    noise = np.empty((height, width), np.float32)
    for i in range(total):
        active = [au for au in used if coefficients[au][i] != 0.0]
        u = sum(coefficients[au][i] * basis[au] for au in active) if active else None
        moved = render(subject.image, u.astype(np.float32)) if u is not None else subject.image
        dx, dy, angle = pose[i]
        matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        matrix[:, 2] += centre + np.array([dx, dy]) - size / 2
        face_frame = cv2.warpAffine(moved, matrix, (width, height), flags=cv2.INTER_LINEAR)
        alpha_frame = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)
        pixel = (background + alpha_frame * (face_frame - background)) * subject.contrast * illumination
        cv2.randn(noise, 0.0, noise_sigma)
        pixel = pixel * (1.0 + rng.normal(0.0, 0.004)) + noise
        write_frame(i, np.clip(pixel + 0.5, 0, 255).astype(np.uint8))
        points = subject.landmarks + (sample_field(u, subject.landmarks) if u is not None else 0.0)
        landmarks[i] = points @ matrix[:, :2].T + matrix[:, 2]
    return LongVideo(name, subject_index, person, config.fps, total, events, landmarks)


# ---------------------------------------------------------------------------------------------
# Writing the owners' layouts
# ---------------------------------------------------------------------------------------------
