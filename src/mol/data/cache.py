"""The prepared-dataset store: one HDF5 file, memory-mappable per video, with a format version
and a record of the options that made it.

Layout::

    /                      attrs: format, format_version, options (JSON), classes (JSON)
    /videos/<key>/frames     (L, S, S) uint8     aligned grayscale frames, one chunk per frame
    /videos/<key>/landmarks  (L, 68, 2) float32  (x, y) in aligned pixels
    /videos/<key>/face_found (L,) bool           False: transform borrowed from the nearest face
    /videos/<key>/flows      (P, S, S, 2) float16 flow from frame i to i + flow_stride, i < P
    /videos/<key>/onset_apex_flows (7, S, S, 2) float16  flow between consecutive frames of the
                             onset-to-apex clip (attr onset_apex_frames: its 8 frame indices)
    /videos/<key>            attrs: dataset, subject, video_id, label, emotion, onset, apex,
                             offset (-1 = unknown), fps, source, flow_stride, onset_apex_frames
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mol.constants import CLIP_FRAMES
from mol.errors import CacheError

FORMAT_NAME = "mol-cache"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class VideoEntry:
    """Per-video metadata read from the cache (arrays stay on disk until asked for)."""

    key: str
    dataset: str
    subject: str
    video_id: str
    label: int
    emotion: str
    num_frames: int
    flow_stride: int
    fps: float
    onset: int
    apex: int
    offset: int
    first_frame: int = -1  # the number of the first frame file; sheets' frame numbers count from it
    onset_apex_frames: tuple[int, ...] = ()  # the onset-to-apex clip's frames (): made by an older mol
    action_units: str | None = None  # the coding sheet's AU cell ("4+L10"); None: made by an older mol


def new_video(
    group: h5py.Group, num_frames: int, num_pairs: int, size: int
) -> tuple[h5py.Dataset, h5py.Dataset, h5py.Dataset]:
    """Empty ``frames``, ``flows`` and ``onset_apex_flows`` datasets of one video, one chunk per
    frame or pair, to be filled one at a time (a long video is never held in memory)."""
    frames = group.create_dataset("frames", (num_frames, size, size), np.uint8, chunks=(1, size, size))
    flow_chunks = (1, size, size, 2) if num_pairs else None
    flows = group.create_dataset("flows", (num_pairs, size, size, 2), np.float16, chunks=flow_chunks)
    shape = (CLIP_FRAMES - 1, size, size, 2)
    onset_apex = group.create_dataset("onset_apex_flows", shape, np.float16, chunks=(1, size, size, 2))
    return frames, flows, onset_apex


def write_video_attrs(group: h5py.Group, landmarks: np.ndarray, face_found: np.ndarray, attrs: dict) -> None:
    group.create_dataset("landmarks", data=landmarks)
    group.create_dataset("face_found", data=face_found)
    for k, v in attrs.items():
        group.attrs[k] = -1 if v is None else v


def _check_header(f: h5py.File, path: Path) -> dict:
    if f.attrs.get("format") != FORMAT_NAME:
        raise CacheError(f"{path}: not a mol cache (no '{FORMAT_NAME}' header); make one with `mol prepare`")
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise CacheError(
            f"{path}: cache format version {version}, this mol reads version {FORMAT_VERSION}; "
            "re-run `mol prepare` to rebuild it"
        )
    return json.loads(f.attrs["options"])


def open_h5(path: Path) -> h5py.File:
    if not path.is_file():
        raise CacheError(f"{path}: cache file not found; make one with `mol prepare`")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise CacheError(f"{path}: unreadable or truncated cache file ({exc}); re-run `mol prepare`") from exc


class Cache:
    """Read access to a prepared store. Opens its HDF5 handle lazily, once per process, so it is
    safe to use from DataLoader workers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open_h5(self.path) as f:
            self.options = _check_header(f, self.path)
            self.classes: list[str] = json.loads(f.attrs["classes"])
            self.videos: list[VideoEntry] = [self._entry(k, f["videos"][k]) for k in f["videos"]]
        self._handle: h5py.File | None = None
        self._pid = -1

    @staticmethod
    def _entry(key: str, g: h5py.Group) -> VideoEntry:
        a = g.attrs
        return VideoEntry(
            key=key,
            dataset=str(a["dataset"]),
            subject=str(a["subject"]),
            video_id=str(a["video_id"]),
            label=int(a["label"]),
            emotion=str(a["emotion"]),
            num_frames=int(g["frames"].shape[0]),
            flow_stride=int(a["flow_stride"]),
            fps=float(a["fps"]),
            onset=int(a["onset"]),
            apex=int(a["apex"]),
            offset=int(a["offset"]),
            first_frame=int(a.get("first_frame_number", -1)),
            onset_apex_frames=tuple(int(i) for i in a.get("onset_apex_frames", ())),
            action_units=str(a["action_units"]) if "action_units" in a else None,
        )

    def _file(self) -> h5py.File:
        if self._handle is None or self._pid != os.getpid():
            self._handle = open_h5(self.path)
            self._pid = os.getpid()
        return self._handle

    def group(self, key: str) -> h5py.Group:
        return self._file()["videos"][key]

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None

    def __getstate__(self) -> dict:  # DataLoader workers re-open their own handle
        state = dict(self.__dict__)
        state["_handle"], state["_pid"] = None, -1
        return state


def create_cache(path: Path, options: dict, classes: list[str], videos) -> None:
    """Write a cache atomically (temp file + rename) from an iterable of (key, group): each
    group, one video as :func:`new_video` and :func:`write_video_attrs` lay it out, in another
    HDF5 file, is copied inside HDF5, chunk by chunk, without passing through memory."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["options"] = json.dumps(options, sort_keys=True)
            f.attrs["classes"] = json.dumps(classes)
            root = f.create_group("videos")
            for key, group in videos:
                root.copy(group, key)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_options(path: Path) -> dict:
    with open_h5(path) as f:
        return _check_header(f, path)
