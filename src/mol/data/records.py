"""What a dataset reader produces: one record per video, and the rows it had to skip."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video: where its frames are and what is known about it."""

    dataset: str
    subject: str
    video_id: str
    emotion: str  # as annotated (lower case)
    source: Path  # a frame folder or a video file
    fps: float = math.nan
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    action_units: str = ""

    @property
    def key(self) -> str:
        """A name unique within a dataset, usable as an HDF5 group name."""
        return f"{self.dataset}__{self.subject}__{self.video_id}".replace("/", "_")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["source"] = str(self.source)
        return d


@dataclass(frozen=True)
class Skipped:
    """A video or sheet row that was not used, and why."""

    item: str
    reason: str


@dataclass
class ReadResult:
    records: list[VideoRecord]
    skipped: list[Skipped]


@dataclass(frozen=True)
class Interval:
    """An expression in a long video: onset, apex and offset frame indices (0-based, offset
    inclusive), its kind ("micro" or "macro"), a class label if known, and a spotter's score."""

    onset: int
    apex: int
    offset: int
    kind: str
    label: str = ""
    score: float = math.nan

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1

    def iou(self, other: Interval) -> float:
        """Intersection over union of the two frame ranges (both ends inclusive)."""
        inter = min(self.offset, other.offset) - max(self.onset, other.onset) + 1
        if inter <= 0:
            return 0.0
        return inter / (self.length + other.length - inter)

    def to_dict(self) -> dict:
        d = asdict(self)
        if math.isnan(self.score):
            d["score"] = None
        return d


@dataclass(frozen=True)
class LongVideoRecord:
    """A long recording with its annotated expressions (for spotting)."""

    dataset: str
    subject: str
    video_id: str
    source: Path  # a frame folder or a video file
    fps: float
    intervals: tuple[Interval, ...]
    first_frame: int = 1  # the file number of frame index 0 (sheets count in file numbers)

    @property
    def key(self) -> str:
        return f"{self.dataset}__{self.subject}__{self.video_id}".replace("/", "_")


@dataclass
class LongReadResult:
    records: list[LongVideoRecord]
    skipped: list[Skipped]
