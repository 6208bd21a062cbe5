"""Readers for the datasets as their owners ship them, a class-folder layout and a CSV
manifest. Each returns VideoRecords plus the rows it skipped and why; none needs the data to be
re-sorted by hand."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mol.constants import DATASET_LAYOUTS
from mol.data.frames import IMAGE_SUFFIXES, is_video_file, list_frames
from mol.data.records import ReadResult, Skipped, VideoRecord
from mol.errors import DatasetError

DATASET_FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0}


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _frame_index(value: object) -> int | None:
    """A sheet cell holding a frame number, or None for blanks, '/' and other non-numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


def find_sheet(root: Path, pattern: str) -> Path:
    candidates = sorted(p for p in root.rglob("*.xls*") if re.search(pattern, p.name, re.IGNORECASE))
    if not candidates:
        raise DatasetError(f"{root}: no annotation sheet matching {pattern!r} found; pass it with --sheet")
    return candidates[0]


def read_sheet(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a sheet whose header row may follow preamble rows; columns keyed by normalised name."""
    if not path.is_file():
        raise DatasetError(f"{path}: annotation sheet not found")
    try:
        raw = (
            pd.read_excel(path, header=None, dtype=object) if path.suffix != ".csv" else pd.read_csv(path, header=None)
        )
    except Exception as exc:  # openpyxl and pandas raise many types for broken files
        raise DatasetError(f"{path}: cannot read the annotation sheet ({exc})") from exc
    want = {_norm(c) for c in required}
    for i, row in raw.iterrows():
        names = {_norm(v) for v in row.tolist() if isinstance(v, str)}
        if want <= names:
            table = raw.iloc[i + 1 :].copy()
            table.columns = [_norm(v) if isinstance(v, str) else f"col{j}" for j, v in enumerate(row.tolist())]
            return table.dropna(how="all")
    raise DatasetError(f"{path}: no header row with the columns {', '.join(required)}")


def _video_source(folder: Path) -> Path | None:
    """A sheet row's frame folder, or a video file of the same name beside it (EP02_01f.mp4)."""
    if folder.is_dir():
        return folder
    if folder.parent.is_dir():
        for candidate in sorted(folder.parent.glob(f"{folder.name}.*")):
            if is_video_file(candidate):
                return candidate
    return None


def _first_dir(*candidates: Path) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


def _sheet_records(
    dataset: str, sheet: Path, table: pd.DataFrame, frames_root: Path, subject_format: str
) -> ReadResult:
    """One record per sheet row whose frames exist at frames_root/<subject>/<filename>."""
    records, skipped = [], []
    for _, row in table.iterrows():
        subject_number = _frame_index(row.get("subject"))
        video = str(row.get("filename", "")).strip()
        if subject_number is None or not video:
            skipped.append(Skipped(f"{sheet.name} row {row.name}", "no subject or filename"))
            continue
        subject = subject_format.format(subject_number)
        expected = frames_root / subject / video
        source = _video_source(expected)
        if source is None:
            skipped.append(Skipped(f"{subject}/{video}", f"frame folder missing: {expected}"))
            continue
        records.append(
            VideoRecord(
                dataset=dataset,
                subject=subject,
                video_id=video,
                emotion=str(row.get("estimatedemotion", "")).strip().lower(),
                source=source,
                fps=DATASET_FPS[dataset],
                onset=_frame_index(row.get("onsetframe")),
                apex=_frame_index(row.get("apexframe")),
                offset=_frame_index(row.get("offsetframe")),
                action_units=str(row.get("actionunits", "") or ""),
            )
        )
    return ReadResult(records, skipped)


# CASME II's coding sheet as its owners ship it (`mol synth` writes the same), and the columns
# the reader needs of it
CASME2_SHEET_COLUMNS = (
    "Subject",
    "Filename",
    "Unnamed: 2",
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    "Unnamed: 6",
    "Action Units",
    "Estimated Emotion",
)
CASME2_NEEDED = ("Subject", "Filename", "OnsetFrame", "Estimated Emotion")


def read_casme2(root: Path, sheet: Path | None = None) -> ReadResult:
    """CASME II: the coding sheet plus CASME2_RAW_selected/subXX/EPxx/imgN.jpg (or Cropped/…)."""
    sheet = sheet or find_sheet(root, r"casme2.*cod|cod.*casme")
    table = read_sheet(sheet, CASME2_NEEDED)
    frames_root = _first_dir(root / "CASME2_RAW_selected", root / "CASME2-RAW", root / "CASME2_RAW", root / "Cropped")
    return _sheet_records("casme2", sheet, table, frames_root or root, "sub{:02d}")


def read_samm(root: Path, sheet: Path | None = None) -> ReadResult:
    """SAMM: SAMM_Micro_FACS_Codes_v2.xlsx (header after preamble rows) plus SAMM/006/006_1_2/*.jpg."""
    sheet = sheet or find_sheet(root, r"samm.*(facs|code)")
    table = read_sheet(sheet, ("Subject", "Filename", "Onset Frame", "Estimated Emotion"))
    return _sheet_records("samm", sheet, table, _first_dir(root / "SAMM") or root, "{:03d}")


def read_smic(root: Path, sheet: Path | None = None) -> ReadResult:
    """SMIC-HS: HS/sN/micro/{negative,positive,surprise}/<clip>/image*.bmp; no sheet, no apex."""
    base = _first_dir(root / "HS", root / "SMIC" / "HS") or root
    subjects = sorted(
        (p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)), key=lambda p: int(p.name[1:])
    )
    if not subjects:
        raise DatasetError(f"{base}: no subject folders s1, s2, … found (expected HS/sN/micro/<class>/<clip>)")
    records, skipped = [], []
    for subject in subjects:
        micro = subject / "micro"
        if not micro.is_dir():
            skipped.append(Skipped(subject.name, f"no micro folder in {subject}"))
            continue
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            for clip in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                records.append(
                    VideoRecord("smic", subject.name, clip.name, emotion_dir.name.lower(), clip, DATASET_FPS["smic"])
                )
    return ReadResult(records, skipped)


def read_class_folders(root: Path, sheet: Path | None = None, fps: float = math.nan) -> ReadResult:
    """The reference's layout ROOT/<class>/<video>/<frames>; subject = video name before '_'."""
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    records, skipped = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for video in sorted(class_dir.iterdir()):
            if video.is_dir() or is_video_file(video):
                subject = video.stem.split("_", 1)[0]
                records.append(VideoRecord("folder", subject, video.stem, class_dir.name.lower(), video, fps))
            elif video.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(Skipped(str(video), "neither a frame folder nor a video file"))
    if not records:
        raise DatasetError(f"{root}: no <class>/<video> folders found")
    return ReadResult(records, skipped)


MANIFEST_COLUMNS = ("subject", "video", "label")


def read_manifest(path: Path, sheet: Path | None = None) -> ReadResult:
    """A CSV with columns subject, video (frame folder or video file, relative to the CSV), label,
    and optionally onset, apex, offset, fps, dataset."""
    if path.is_dir():
        candidates = sorted(path.glob("*.csv"))
        if len(candidates) != 1:
            raise DatasetError(f"{path}: expected exactly one manifest .csv in this folder, found {len(candidates)}")
        path = candidates[0]
    if not path.is_file():
        raise DatasetError(f"{path}: manifest not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read the manifest CSV ({exc})") from exc
    table.columns = [_norm(c) for c in table.columns]
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: manifest lacks the column(s) {', '.join(missing)}")
    records, skipped = [], []
    for i, row in table.iterrows():
        source = Path(row["video"])
        source = source if source.is_absolute() else path.parent / source
        if not (source.is_dir() or is_video_file(source)):
            skipped.append(Skipped(f"{path.name} line {i + 2}", f"video not found: {source}"))
            continue
        fps = float(row["fps"]) if row.get("fps") else math.nan
        records.append(
            VideoRecord(
                dataset=row.get("dataset") or "manifest",
                subject=str(row["subject"]).strip(),
                video_id=source.stem if source.is_file() else source.name,
                emotion=str(row["label"]).strip().lower(),
                source=source,
                fps=fps,
                onset=_frame_index(row.get("onset")),
                apex=_frame_index(row.get("apex")),
                offset=_frame_index(row.get("offset")),
            )
        )
    return ReadResult(records, skipped)


READERS: dict[str, Callable[..., ReadResult]] = dict(
    zip(DATASET_LAYOUTS, (read_casme2, read_samm, read_smic, read_class_folders, read_manifest), strict=True)
)


def read_dataset(kind: str, root: Path, sheet: Path | None = None) -> ReadResult:
    if kind not in READERS:
        raise DatasetError(f"unknown dataset kind {kind!r}; choose one of {sorted(READERS)}")
    if not root.exists():
        raise DatasetError(f"{root}: dataset folder not found")
    result = READERS[kind](root, sheet)
    # frame folders that hold no frames are reported here, before any work is spent on them
    kept = []
    for record in result.records:
        if record.source.is_dir() and not list_frames(record.source):
            result.skipped.append(Skipped(record.key, f"no numbered image frames in {record.source}"))
        else:
            kept.append(record)
    return ReadResult(kept, result.skipped)
