"""Finding and reading the frames of a video: a folder of numbered images or a video file."""

from __future__ import annotations

import re
from collections.abc import Iterator
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


# A frame folder may hold this share of images that cannot be decoded before its video is skipped.
MAX_UNREADABLE_SHARE = 0.1


class FrameSource:
    """The grayscale frames of a video file or frame folder, decoded one at a time on each pass
    (``iter(source)``), so that no more than one raw frame is held: a 10-minute 1080p video is
    ~37 GB decoded at once. ``unreadable``: indices of folder images that could not be decoded,
    each stood in for by its nearest readable frame; past ``max_unreadable`` of the frames, the
    video is refused with a FrameError naming them."""

    def __init__(self, source: Path, max_unreadable: float = MAX_UNREADABLE_SHARE) -> None:
        self.source = Path(source)
        self.fps = 0.0
        self.unreadable: list[int] = []
        if is_video_file(self.source):
            capture = cv2.VideoCapture(str(self.source))
            if not capture.isOpened():
                raise FrameError(f"{self.source}: cannot open as a video (corrupt file or unsupported codec)")
            self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            capture.release()
            self.paths: list[Path] | None = None
            self.length = sum(1 for _ in self._decode_video())  # containers' frame counts are unreliable
            if self.length == 0:
                raise FrameError(f"{self.source}: no frame could be decoded")
            return
        if not self.source.is_dir():
            raise FrameError(f"{self.source}: neither a frame folder nor a video file")
        self.paths = list_frames(self.source)
        if not self.paths:
            raise FrameError(f"{self.source}: no numbered image frames in this folder")
        self.unreadable = [i for i, p in enumerate(self.paths) if cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) is None]
        _check_unreadable(self.source, self.paths, self.unreadable, max_unreadable)
        self.length = len(self.paths)

    def __len__(self) -> int:
        return self.length

    def _decode_video(self) -> Iterator[np.ndarray]:
        capture = cv2.VideoCapture(str(self.source))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        finally:
            capture.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.paths is None:
            yield from self._decode_video()
            return
        bad = set(self.unreadable)
        good = np.array([i for i in range(len(self.paths)) if i not in bad])
        for i, path in enumerate(self.paths):
            if i in bad:
                path = self.paths[int(good[np.argmin(np.abs(good - i))])]
            yield cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def _check_unreadable(source: Path, paths: list[Path], bad: list[int], max_unreadable: float) -> None:
    if len(bad) > max_unreadable * len(paths) or len(bad) == len(paths):
        names = ", ".join(paths[i].name for i in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise FrameError(
            f"{source}: {len(bad)} of {len(paths)} images unreadable ({names}), more than the "
            f"{max_unreadable:.0%} tolerated; re-extract or replace them"
        )


def read_frames(source: Path, max_unreadable: float = 0.0) -> list[np.ndarray]:
    """All frames of a frame folder or a video file, in memory, in order (for short clips and
    tests; long videos go through :class:`FrameSource`). By default every image must read."""
    return list(FrameSource(source, max_unreadable))
