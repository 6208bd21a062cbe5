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
