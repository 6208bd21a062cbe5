"""Readers for the spotting datasets' long videos and their expression sheets.

* CAS(ME)^2 (30 fps): frames in ``rawpic/sNN/NN_CCCCname/imgN.jpg``; the coding sheet
  (``CAS(ME)^2code_final*.xlsx``) has no header row, one expression per row: participant number,
  expression name (the video's name and a running number, ``name_k``), ..., onset, apex and
  offset frame numbers in columns 4-6, action units, emotion, and the type
  ("micro-expression" / "macro-expression") in column 9. Participant n's folder is ``s{n+14}``
  (1 → s15); a row's video is the participant's folder whose name ends with the expression name
  without its ``_k``.
* SAMM-LV (200 fps): frames in ``SAMM_longvideos/SSS_K/SSS_K_NNNN.jpg``; the sheet
  (``SAMM_LongVideos*.xlsx``) has preamble rows, then a header with Subject, Filename
  (``SSS_K_E``: expression E of video SSS_K), Onset, Apex, Offset and Type ("Micro - 1/2" or
  "Macro").

Frame numbers in the sheets are file numbers; they become 0-based indices into the video's
sorted frames. Rows that cannot be placed (no such video, frames outside it, unknown type,
offset before onset) are skipped and reported, never guessed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

from mol.data.frames import frame_number, list_frames
from mol.data.readers import _frame_index, _norm, find_sheet, read_sheet
from mol.data.records import Interval, LongReadResult, LongVideoRecord, Skipped
from mol.errors import DatasetError

LONG_DATASET_FPS = {"casme2-long": 30.0, "samm-long": 200.0}
CASME_LONG_DIR = "rawpic"  # the CAS(ME)^2 frames folder inside its root
SAMM_LONG_DIR = "SAMM_longvideos"  # the SAMM-LV frames folder inside its root
# SAMM-LV's sheet header as its owners ship it (`mol synth --long` writes the same), and the
# columns the reader needs of it
SAMM_LONG_COLUMNS = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
)
SAMM_LONG_NEEDED = ("Subject", "Filename", "Onset", "Offset", "Type")


def expression_kind(text: object) -> str | None:
    """'micro-expression', 'Micro - 1/2', 'macro' … → 'micro' / 'macro'; None otherwise."""
    t = str(text).strip().lower()
    if t.startswith("micro"):
        return "micro"
    if t.startswith("macro"):
        return "macro"
    return None


def _interval(row_name: str, onset, apex, offset, kind_text, label: str, numbers: dict[int, int]):
    """An Interval in 0-based frame indices, or the reason the row cannot be one."""
    kind = expression_kind(kind_text)
    if kind is None:
        return f"{row_name}: type {kind_text!r} is neither micro nor macro"
    on, off = _frame_index(onset), _frame_index(offset)
    if on is None or off is None:
        return f"{row_name}: onset or offset missing"
    top = _frame_index(apex)
    if top is None or not on <= top <= off:  # some sheets leave the apex blank ("/")
        top = (on + off) // 2
    if off < on:
        return f"{row_name}: offset {off} before onset {on}"
    if on not in numbers or off not in numbers:
        return f"{row_name}: frames {on}-{off} outside the video's files"
    return Interval(numbers[on], numbers.get(top, numbers[on]), numbers[off], kind, label)


def _records(dataset: str, groups: dict[Path, list], skipped: list[Skipped], subject_of) -> list[LongVideoRecord]:
    records = []
    for folder, rows in sorted(groups.items()):
        frames = list_frames(folder)
        numbers = {frame_number(p): i for i, p in enumerate(frames)}
        intervals = []
        for row_name, values in rows:
            made = _interval(row_name, *values, numbers)
            if isinstance(made, str):
                skipped.append(Skipped(row_name, made))
            else:
                intervals.append(made)
        if not frames:
            skipped.append(Skipped(str(folder), "no numbered image frames"))
            continue
        records.append(
            LongVideoRecord(
                dataset,
                subject_of(folder),
                folder.name,
                folder,
                LONG_DATASET_FPS[dataset],
                tuple(sorted(intervals, key=lambda i: i.onset)),
                first_frame=frame_number(frames[0]) or 0,
            )
        )
    return records


def _all_folders(base: Path) -> dict[Path, list]:
    return {f: [] for f in sorted(base.iterdir()) if f.is_dir()} if base.is_dir() else {}


def read_casme2_long(root: Path, sheet: Path | None = None) -> LongReadResult:
    root = Path(root)
    sheet = sheet or find_sheet(root, r"cas.*me.*2.*code|cas.*me.*\^?2")
    try:
        table = pd.read_excel(sheet, header=None, dtype=object)
    except Exception as exc:  # openpyxl and pandas raise many types for broken files
        raise DatasetError(f"{sheet}: cannot read the CAS(ME)^2 coding sheet ({exc})") from exc
    if not table.empty and table.shape[1] < 9:
        raise DatasetError(f"{sheet}: {table.shape[1]} columns; the CAS(ME)^2 sheet has at least 9 (type in column 9)")
    base = root / CASME_LONG_DIR if (root / CASME_LONG_DIR).is_dir() else root
    groups: dict[Path, list] = defaultdict(list)
    skipped: list[Skipped] = []
    for i, row in table.iterrows():
        values = row.tolist()
        participant = _frame_index(values[0])
        name = re.sub(r"_\d+$", "", str(values[1]).strip())
        row_name = f"{sheet.name} row {i + 1}"
        if participant is None or not name:
            skipped.append(Skipped(row_name, "no participant number or expression name"))
            continue
        subject_dir = base / f"s{participant + 14}"
        matches = [f for f in sorted(subject_dir.glob("*")) if f.is_dir() and _norm(f.name).endswith(_norm(name))]
        if len(matches) != 1:
            why = "no" if not matches else f"{len(matches)}"
            skipped.append(Skipped(row_name, f"{why} folder in {subject_dir} ending with {name!r}"))
            continue
        groups[matches[0]].append((row_name, (values[3], values[4], values[5], values[8], str(values[7]).strip())))
    for subject_dir in sorted(base.glob("s*")):  # recordings without any expression are videos too
        for folder in _all_folders(subject_dir):
            groups.setdefault(folder, [])
    return LongReadResult(_records("casme2-long", groups, skipped, lambda f: f.parent.name), skipped)


def read_samm_long(root: Path, sheet: Path | None = None) -> LongReadResult:
    root = Path(root)
    sheet = sheet or find_sheet(root, r"samm.*long")
    table = read_sheet(sheet, SAMM_LONG_NEEDED)
    base = root / SAMM_LONG_DIR if (root / SAMM_LONG_DIR).is_dir() else root
    groups: dict[Path, list] = defaultdict(list)
    skipped: list[Skipped] = []
    for i, row in table.iterrows():
        filename = str(row.get("filename", "")).strip()
        video = re.sub(r"_\d+$", "", filename)
        row_name = f"{sheet.name} row {i + 1} ({filename})"
        folder = base / video
        if not filename or not folder.is_dir():
            skipped.append(Skipped(row_name, f"video folder missing: {folder}"))
            continue
        # the sheet codes action units, not emotions: no class label
        values = (row.get("onset"), row.get("apex"), row.get("offset"), row.get("type"), "")
        groups[folder].append((row_name, values))
    for folder in _all_folders(base):
        groups.setdefault(folder, [])
    return LongReadResult(_records("samm-long", groups, skipped, lambda f: f.name.split("_")[0]), skipped)


LONG_READERS = {"casme2-long": read_casme2_long, "samm-long": read_samm_long}


def read_long_dataset(kind: str, root: Path, sheet: Path | None = None) -> LongReadResult:
    if kind not in LONG_READERS:
        raise DatasetError(f"unknown long-video dataset {kind!r}; choose one of {sorted(LONG_READERS)}")
    return LONG_READERS[kind](Path(root), sheet)
