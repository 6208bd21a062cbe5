"""The long synthetic recordings on disk, as the spotting datasets ship them: at 30 fps in the
CAS(ME)^2 layout (``rawpic/sNN/NN_CCCCname/imgN.jpg`` and a coding sheet without header row) and
at 200 fps in the SAMM-LV layout (``SAMM_longvideos/SSS_K/SSS_K_NNNN.jpg`` and a sheet whose
header row follows preamble rows), with ``ground_truth_long.json`` (every event) and exact
landmarks of every frame in ``landmarks/<video>.npy``; and the spotting benchmark's dev and test
parts (`mol synth --long`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from mol.data.long_readers import CASME_LONG_DIR, LONG_DATASET_FPS, SAMM_LONG_COLUMNS, SAMM_LONG_DIR
from mol.data.synthetic.dataset import sheet_action_units
from mol.data.synthetic.longvideo import Event, LongConfig, LongVideo, generate_long_video
from mol.data.synthetic.photos import FACE_PHOTOS, load_face
from mol.errors import ConfigError
from mol.files import atomic_write, write_text_atomically

LONG_GROUND_TRUTH = "ground_truth_long.json"
LANDMARKS_DIR = "landmarks"
CASME_LONG_SHEET = "CAS(ME)^2code_final.xlsx"
SAMM_LONG_SHEET = "SAMM_LongVideos_V3_Release.xlsx"
LONG_PARTS: dict[str, dict] = {
    "dev": {"people": ("hopper", "paul"), "seed": 3003},
    "test": {"people": ("collins", "biden", "obama", "kanade"), "seed": 4004},
}


def _frame_writer(folder: Path, pattern: str, quality: int):
    folder.mkdir(parents=True, exist_ok=True)

    def write(i: int, frame: np.ndarray) -> None:
        cv2.imwrite(str(folder / pattern.format(i + 1)), frame, [cv2.IMWRITE_JPEG_QUALITY, quality])

    return write


def _casme_names(subject: int, k: int) -> tuple[str, str, str]:
    """(participant folder, video folder, the sheet's video name) of recording k of a subject."""
    number = 15 + subject
    return f"s{number}", f"{number}_{k + 1:02d}01synthetic{k + 1}", f"synthetic{k + 1}"


def _samm_names(subject: int, k: int) -> tuple[str, str]:
    return f"{subject + 1:03d}", f"{subject + 1:03d}_{k + 1}"


def _frame_numbers(e: Event) -> tuple[int, int, int]:
    """Onset, apex and offset as the sheets count them: file numbers, from 1."""
    return e.onset + 1, e.apex + 1, e.offset + 1


def _casme_rows(video: LongVideo, sheet_name: str) -> list[list]:
    rows = []
    for n, e in enumerate((e for e in video.events if e.kind in ("micro", "macro")), start=1):
        kind = "micro-expression" if e.kind == "micro" else "macro-expression"
        rows.append(
            [
                video.subject + 1,
                f"{sheet_name}_{n}",
                n,
                e.onset + 1,
                e.apex + 1,
                e.offset + 1,
                sheet_action_units(e.aus),
                e.label,
                kind,
            ]
        )
    return rows


def _samm_rows(video: LongVideo, subject: str, folder: str) -> list[list]:
    rows = []
    for n, e in enumerate((e for e in video.events if e.kind in ("micro", "macro")), start=1):
        kind = "Micro - 1/2" if e.kind == "micro" else "Macro"
        rows.append(
            [
                subject,
                f"{folder}_{n}",
                "S",
                e.onset + 1,
                e.apex + 1,
                e.offset + 1,
                e.offset - e.onset + 1,
                kind,
                sheet_action_units(e.aus),
                e.label,
            ]
        )
    return rows


def _write_xlsx(path: Path, rows: list[list], header: list[str] | None, preamble: list[str] = ()) -> None:
    import pandas as pd

    table = [[line] for line in preamble] + ([header] if header else []) + rows
    width = max((len(r) for r in table), default=0)
    table = [list(r) + [None] * (width - len(r)) for r in table]
    atomic_write(path, lambda tmp: pd.DataFrame(table).to_excel(tmp, index=False, header=False, engine="openpyxl"))


def long_part_config(layout: str, seconds: float | None = None) -> LongConfig:
    """A recording's settings in ``layout``: its frame rate, and 60 s at 30 fps or 15 s at 200 fps."""
    if layout not in LONG_DATASET_FPS:
        raise ConfigError(f"unknown long-video layout {layout!r}; choose one of {sorted(LONG_DATASET_FPS)}")
    fps = LONG_DATASET_FPS[layout]
    default = 60.0 if fps <= 30 else 15.0  # the same work per recording at either rate (frames)
    return LongConfig(fps=fps, seconds=seconds or default)


def generate_long_dataset(
    out_dir: str | Path,
    layout: str,
    people: tuple[str, ...],
    videos_per_person: int = 1,
    seed: int = 0,
    config: LongConfig | None = None,
    progress: bool = True,
) -> dict:
    """Write long recordings of ``people`` in ``layout`` ("casme2-long" at 30 fps or "samm-long"
    at 200 fps) with their sheet, every event and exact landmarks. Same arguments, same files."""
    from tqdm import tqdm

    out = Path(out_dir)
    config = config or long_part_config(layout)
    unknown = [p for p in people if p not in FACE_PHOTOS]
    if unknown:
        raise ConfigError(f"unknown face photo(s) {unknown}; choose from {sorted(FACE_PHOTOS)}")
    (out / LANDMARKS_DIR).mkdir(parents=True, exist_ok=True)
    faces = {p: load_face(p, config.face_size) for p in people}
    rows, truth = [], {"layout": layout, "config": _config_dict(config), "videos": {}}
    total = len(people) * videos_per_person * round(config.seconds * config.fps)
    bar = tqdm(total=total, desc=f"long videos ({layout})", unit="frame", disable=not progress)
    for s, person in enumerate(people):
        for k in range(videos_per_person):
            if layout == "casme2-long":
                participant, folder, sheet_name = _casme_names(s, k)
                frames_dir, pattern = out / CASME_LONG_DIR / participant / folder, "img{}.jpg"
            else:
                participant, folder = _samm_names(s, k)
                frames_dir, pattern = out / SAMM_LONG_DIR / folder, folder + "_{:04d}.jpg"
            writer = _frame_writer(frames_dir, pattern, config.jpeg_quality)

            def write(i, frame, writer=writer):
                writer(i, frame)
                bar.update()

            video = generate_long_video(faces[person], config, [seed, s, k], folder, s, person, write)
            rows += (
                _casme_rows(video, sheet_name) if layout == "casme2-long" else _samm_rows(video, participant, folder)
            )
            np.save(out / LANDMARKS_DIR / f"{folder}.npy", video.landmarks)
            truth["videos"][folder] = {
                "person": person,
                "subject": participant,
                "frames": str(frames_dir.relative_to(out)),
                "fps": config.fps,
                "num_frames": video.num_frames,
                "first_frame_number": 1,
                "events": [asdict(e) for e in video.events],
            }
    bar.close()
    if layout == "casme2-long":
        _write_xlsx(out / CASME_LONG_SHEET, rows, None)
    else:
        preamble = ["SAMM Long Videos (synthetic copy written by mol synth --long)", ""]
        _write_xlsx(out / SAMM_LONG_SHEET, rows, list(SAMM_LONG_COLUMNS), preamble)
    write_text_atomically(out / LONG_GROUND_TRUTH, json.dumps(truth, indent=1))
    return {"videos": len(truth["videos"]), "frames": total, "layout": layout}


def _config_dict(config: LongConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def write_long_benchmark(out: str | Path, seconds: dict[str, float] | None = None, progress: bool = True) -> dict:
    """OUT/{dev,test}/{casme2-long,samm-long}: each person of the part once per layout; dev and
    test are different people (those of the synthetic benchmark's parts)."""
    out = Path(out)
    summary = {}
    for part, spec in LONG_PARTS.items():
        for n, layout in enumerate(LONG_DATASET_FPS):
            config = long_part_config(layout, (seconds or {}).get(layout))
            root = out / part / layout
            summary[f"{part}/{layout}"] = generate_long_dataset(
                root, layout, spec["people"], 1, spec["seed"] + n, config, progress
            )
    return summary


def read_long_ground_truth(root: Path) -> dict:
    path = Path(root) / LONG_GROUND_TRUTH
    if not path.is_file():
        raise ConfigError(f"{path}: no long-video ground truth here (written by `mol synth --long`)")
    return json.loads(path.read_text())
