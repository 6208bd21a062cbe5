"""Finding and reading the frames of a video: a folder of numbered images or a video file."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from mol.errors import FrameError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv"})
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a name


def frame_number(path: Path) -> int | None:
    """The frame index in a file name: 'img10.jpg' → 10, '006_05562.jpg' → 5562."""
    m = _NUMBER.search(path.stem)
    return int(m.group(1)) if m else None


def list_frames(folder: Path) -> list[Path]:
    """Image files of a frame folder sorted by their number (img9 before img10).

    Files that are not images (thumbs.db, .txt, hidden files) and images without a number in
    their name are ignored.
    """
    if not folder.is_dir():
        raise FrameError(f"{folder}: frame folder not found")
    frames = [
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    numbered = [(frame_number(p), p) for p in frames]
    return [p for n, p in sorted((n, p) for n, p in numbered if n is not None)]


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def read_gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FrameError(f"{path}: unreadable image (corrupt or not an image)")
    return image


def read_video_gray(path: Path) -> tuple[list[np.ndarray], float]:
    """All frames of a video file as grayscale uint8, and its frame rate (0 if unknown)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FrameError(f"{path}: cannot open as a video (corrupt file or unsupported codec)")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame)
    capture.release()
    if not frames:
        raise FrameError(f"{path}: no frame could be decoded")
    return frames, fps


def read_frames(source: Path) -> list[np.ndarray]:
    """Grayscale uint8 frames of a frame folder or a video file, in order; every image must read."""
    return read_frames_tolerant(source, max_unreadable=0.0)[0]


# A frame folder may hold this share of images that cannot be decoded before its video is skipped.
MAX_UNREADABLE_SHARE = 0.1


def read_frames_tolerant(
    source: Path, max_unreadable: float = MAX_UNREADABLE_SHARE
) -> tuple[list[np.ndarray], list[int]]:
    """Frames of a frame folder or a video file, and the indices of the folder's images that could
    not be decoded. Each of those is stood in for by the nearest readable frame (so the frame count
    and numbering stay the sheet's), to be treated like a frame without a face; past
    ``max_unreadable`` of the frames, the video is refused with a FrameError naming them."""
    if is_video_file(source):
        return read_video_gray(source)[0], []
    if not source.is_dir():
        raise FrameError(f"{source}: neither a frame folder nor a video file")
    paths = list_frames(source)
    if not paths:
        raise FrameError(f"{source}: no numbered image frames in this folder")
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    bad = [i for i, image in enumerate(images) if image is None]
    if len(bad) > max_unreadable * len(paths) or len(bad) == len(paths):
        names = ", ".join(paths[i].name for i in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise FrameError(
            f"{source}: {len(bad)} of {len(paths)} images unreadable ({names}), more than the "
            f"{max_unreadable:.0%} tolerated; re-extract or replace them"
        )
    good = np.array([i for i in range(len(paths)) if images[i] is not None])
    for i in bad:
        images[i] = images[int(good[np.argmin(np.abs(good - i))])].copy()
    return images, bad
