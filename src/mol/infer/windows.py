"""The windows `mol predict` classifies, and where their frames come from.

A window is a stretch of video and the 8 frames sampled from it: a spotted micro-expression
(spot mode: sampled from its interval as a training clip is from its video) or one of the
sliding windows (windows mode). Frames are decoded, aligned and held only as the windows need
them, so memory does not grow with the video's length.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mol.constants import ALIGNED_SIZE, CLIP_FRAMES
from mol.data.align import NoFaceError, align_video, detect_landmarks, warp
from mol.data.apex import onset_apex_frames
from mol.data.frames import FrameError, FrameSource, is_video_file
from mol.data.records import Interval
from mol.errors import ConfigError


@dataclass
class Window:
    index: int
    start: int  # first frame of the window
    end: int  # last frame of the window (inclusive)
    frames: list[int]  # the 8 sampled frames
    complete: bool  # every sampled frame had a face
    probabilities: list[float] | None = None
    top_class: str | None = None
    flow: np.ndarray | None = field(default=None, repr=False)  # (7, 2, 128, 128) float16
    predicted_landmarks: np.ndarray | None = field(default=None, repr=False)  # (7, 68, 2), crop pixels
    saliency: np.ndarray | None = field(default=None, repr=False)  # (16, 16) mean |F5C-B activation|
    region_motion: dict[str, float] | None = None  # mean predicted motion (px) per face region


def span_value(text: str | int) -> tuple[float, bool]:
    """'48' → (48, False): frames; '0.25s' → (0.25, True): seconds. Zero, negative and other text
    are refused, naming what to give."""
    text = str(text).strip().lower()
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*s", text)
    if m and float(m.group(1)) > 0:
        return float(m.group(1)), True
    if text.isdigit() and int(text) >= 1:
        return int(text), False
    raise ConfigError(f"{text!r} is not a span: give frames (a whole number, at least 1: 48) or seconds (0.25s)")


def parse_span(text: str | int | None, fps: float, default_frames: int, option: str = "--window") -> int:
    """'48' (frames) or '0.25s' (seconds, needs a known frame rate) → frames."""
    if text is None:
        return default_frames
    value, in_seconds = span_value(text)
    if not in_seconds:
        return int(value)
    if not fps or fps <= 0 or math.isnan(fps):
        raise ConfigError(f"{option} {text}: a span in seconds needs the frame rate; give --fps or a span in frames")
    return max(1, round(value * fps))


def read_input(path: Path) -> tuple[FrameSource, float]:
    """The input's frames, decoded one at a time when iterated, and its frame rate (NaN for a
    folder of frames)."""
    if not path.exists():
        raise FrameError(f"{path}: no such file or folder")
    if not (is_video_file(path) or path.is_dir()):
        raise FrameError(f"{path}: neither a video file (mp4, avi, mov, …) nor a folder of frames")
    source = FrameSource(path)
    return source, (source.fps if is_video_file(path) else math.nan)


def plan_windows(num_frames: int, span: int, stride: int, face: np.ndarray) -> list[Window]:
    if span < CLIP_FRAMES:
        raise ConfigError(f"a window must span at least {CLIP_FRAMES} frames, got {span}")
    if num_frames < span:
        whole = f"; --window {num_frames} classifies it whole, as one window" if num_frames >= CLIP_FRAMES else ""
        raise ConfigError(f"the video has {num_frames} frames, fewer than one window of {span}{whole}")
    step = span // CLIP_FRAMES
    windows = []
    for i, start in enumerate(range(0, num_frames - span + 1, max(1, stride))):
        frames = [start + k * step for k in range(CLIP_FRAMES)]
        windows.append(Window(i, start, start + span - 1, frames, bool(face[frames].all())))
    return windows


class SparseFrames:
    """Per-frame arrays for a few frames of a long video, indexed like the full (L, ...) array
    by frame number (an int, a list of them, or a tuple starting with either)."""

    def __init__(self, items: dict[int, np.ndarray]) -> None:
        self.items = items

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, (list, np.ndarray)):
            out = np.stack([self.items[int(f)] for f in first])
            return out[(slice(None), *rest)] if rest else out
        out = self.items[int(first)]
        return out[rest] if rest else out


def window_clips(
    frames: Iterable[np.ndarray], matrices: np.ndarray, windows: list[Window]
) -> Iterator[tuple[Window, np.ndarray]]:
    """(window, its 8 aligned frames (8, S, S) uint8) for windows in order of their last frame,
    from one pass over ``frames``: a frame is warped when first needed and dropped once no
    pending window needs it, so at most the frames of overlapping windows are held."""
    uses = Counter(f for w in windows for f in w.frames)
    pending = deque(sorted(windows, key=lambda w: w.frames[-1]))
    held: dict[int, np.ndarray] = {}
    for i, (frame, matrix) in enumerate(zip(frames, matrices, strict=False)):  # may stop early
        if not pending:
            return
        if uses[i]:
            held[i] = warp(frame, matrix, ALIGNED_SIZE)
        while pending and pending[0].frames[-1] <= i:
            w = pending.popleft()
            yield w, np.stack([held[f] for f in w.frames])
            for f in w.frames:
                uses[f] -= 1
                if not uses[f]:
                    del held[f]


def aligned_frames_of(frames: Iterable[np.ndarray], matrices: np.ndarray, wanted: set[int]) -> Iterator[np.ndarray]:
    """The ``wanted`` frames aligned, in order, one at a time (one pass, nothing held)."""
    last = max(wanted, default=-1)
    for i, (frame, matrix) in enumerate(zip(frames, matrices, strict=False)):  # may stop early
        if i > last:
            return
        if i in wanted:
            yield warp(frame, matrix, ALIGNED_SIZE)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` consecutive items (the last one shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def clip_frames_of(interval: Interval, num_frames: int, sampling: str = "strided") -> list[int]:
    """8 frames sampled from an interval as a training clip is from its video: strided (stride
    ⌊length/8⌋ from the onset; an interval shorter than 8 frames is widened around its centre)
    or, for a model trained on onset-to-apex clips, evenly from the onset to the apex."""
    if sampling == "onset_apex":
        return onset_apex_frames(interval.onset, max(interval.apex, interval.onset))
    onset, offset = interval.onset, interval.offset
    if offset - onset + 1 < CLIP_FRAMES:
        onset = max(0, min(num_frames - CLIP_FRAMES, (onset + offset) // 2 - CLIP_FRAMES // 2))
        offset = onset + CLIP_FRAMES - 1
    step = (offset - onset + 1) // CLIP_FRAMES
    return [onset + k * step for k in range(CLIP_FRAMES)]


def read_selected(source: FrameSource, wanted: set[int]) -> dict[int, np.ndarray]:
    """Only the ``wanted`` frames of a source, decoded in one pass (frame folders: only those files)."""
    import cv2

    if source.paths is not None:
        return {i: cv2.imread(str(source.paths[i]), cv2.IMREAD_GRAYSCALE) for i in sorted(wanted)}
    selected: dict[int, np.ndarray] = {}
    last = max(wanted, default=-1)
    for i, frame in enumerate(source):
        if i > last:
            break  # nothing wanted after this: stop decoding
        if i in wanted:
            selected[i] = frame
    return selected


def spot_video(source: FrameSource, fps: float, settings=None):
    """The spotter's signals of the video and the intervals it found; a video without any face
    is refused."""
    from mol.infer.spot import spot
    from mol.infer.spot_run import measure_frames

    signals = measure_frames(source, fps)
    signals.require_face(source.source)
    return signals, spot(signals, settings)


def spotted_windows(micro: list[Interval], num_frames: int, sampling: str = "strided") -> list[Window]:
    """One window per spotted micro-expression, its 8 frames sampled from its interval as
    ``sampling`` says (see :func:`clip_frames_of`)."""
    return [Window(n, i.onset, i.offset, clip_frames_of(i, num_frames, sampling), True) for n, i in enumerate(micro)]


def align_windows(windows: list[Window], raw: dict[int, np.ndarray], align: str) -> tuple[SparseFrames, SparseFrames]:
    """Align each window's frames from ``raw`` (frame number → decoded frame); a window with a
    frame without a face is marked incomplete. Returns (aligned frames, landmarks)."""
    aligned: dict[int, np.ndarray] = {}
    landmarks: dict[int, np.ndarray] = {}
    for w in windows:
        try:
            clip = align_video([raw[f] for f in w.frames], align, ALIGNED_SIZE, detect=detect_landmarks)
        except NoFaceError:
            w.complete = False
            continue
        w.complete = bool(clip.face_found.all())
        for k, f in enumerate(w.frames):
            aligned[f], landmarks[f] = clip.frames[k], clip.landmarks[k]
    return SparseFrames(aligned), SparseFrames(landmarks)
