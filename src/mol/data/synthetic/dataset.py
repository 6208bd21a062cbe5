"""A synthetic dataset on disk, in the CASME II raw layout with a coding sheet (`mol synth`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from mol.data.readers import CASME2_SHEET_COLUMNS
from mol.data.synthetic.ground_truth import GROUND_TRUTH_FILE, GT_FORMAT, GT_VERSION, write_ground_truth
from mol.data.synthetic.motion import SCHEME_EMOTIONS
from mol.data.synthetic.photos import load_face
from mol.data.synthetic.video import SynthConfig, make_subject, make_video, subject_faces
from mol.errors import ConfigError

SHEET_FILE = "CASME2-coding-synthetic.xlsx"
MANIFEST_FILE = "manifest.csv"
FRAMES_DIR = "CASME2_RAW_selected"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _write_sheet_deterministically(rows: list[list], path: Path) -> None:
    """xlsx with fixed timestamps (openpyxl stamps the time in the zip entries and metadata)."""
    import io
    import re
    import zipfile

    import pandas as pd

    columns = list(CASME2_SHEET_COLUMNS)
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=columns).to_excel(buffer, index=False, engine="openpyxl")
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", data)
            target.writestr(zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())


def sheet_action_units(aus: list[str]) -> str:
    """The coding sheet's AU cell: "AU6"+"AU12" → "6+12"; unilateral codes keep their side ("R14")."""
    return "+".join(au[2:] if au.startswith("AU") else au for au in aus)


def load_subject_faces(config: SynthConfig) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Check the config and load its face photos: (each subject's face source, framed face and
    landmarks of each source). Raises ConfigError before anything is generated or written."""
    if config.scheme not in SCHEME_EMOTIONS:
        raise ConfigError(f"unknown scheme {config.scheme!r}; choose one of {sorted(SCHEME_EMOTIONS)}")
    if config.subjects < 1 or config.clips_per_class < 1:
        raise ConfigError("--subjects and --clips-per-class must be at least 1")
    sources = subject_faces(config)
    return sources, {source: load_face(source, config.size) for source in dict.fromkeys(sources)}


def iter_videos(config: SynthConfig, loaded=None):
    """Every video of a synthetic dataset, in order, as (subject index, face source, SynthVideo);
    ``loaded``: what :func:`load_subject_faces` returned, if it was called already."""
    sources, faces = loaded or load_subject_faces(config)
    classes = SCHEME_EMOTIONS[config.scheme]
    for s, source in enumerate(sources):
        rng = np.random.default_rng([config.seed, s])
        subject = make_subject(*faces[source], rng, config.blur)
        plan = [(c, k) for c in classes for k in range(config.clips_per_class)]
        order = rng.permutation(len(plan))  # clip numbers do not reveal the class
        for number, index in enumerate(order, start=1):
            class_name, _ = plan[index]
            options = classes[class_name]
            emotion = options[int(rng.integers(len(options)))]
            yield s, source, make_video(subject, s, f"EP{number:02d}_01", class_name, emotion, config, rng)


def _write_frames(folder: Path, frames: np.ndarray, jpeg_quality: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        if jpeg_quality > 0:
            cv2.imwrite(str(folder / f"img{i + 1}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        else:
            cv2.imwrite(str(folder / f"img{i + 1}.png"), frame)


def generate_dataset(out_dir: str | Path, config: SynthConfig, progress: bool = True) -> dict:
    """Write a synthetic dataset that `mol prepare --dataset casme2` reads like real data.

    Layout: OUT/CASME2_RAW_selected/subNN/EPkk_01/img{n}.jpg, OUT/CASME2-coding-synthetic.xlsx,
    OUT/manifest.csv (the same rows with the frame rate, for `--dataset manifest` when the rate is
    not CASME II's 200 fps), OUT/ground_truth.h5 (exact landmarks and the motion of every frame).
    Same config, same bytes.
    """
    import h5py
    import pandas as pd
    from tqdm import tqdm

    loaded = load_subject_faces(config)  # a bad config is refused before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, manifest, summary = [], [], {"videos": 0, "frames": 0, "people": []}
    gt_tmp = out / f".{GROUND_TRUTH_FILE}.tmp"
    total = config.subjects * len(SCHEME_EMOTIONS[config.scheme]) * config.clips_per_class
    try:
        with (
            tqdm(total=total, desc="synth", unit="video", disable=not progress) as bar,
            h5py.File(gt_tmp, "w", track_order=True) as gt,
        ):
            gt.attrs["format"] = GT_FORMAT
            gt.attrs["format_version"] = GT_VERSION
            gt.attrs["config"] = json.dumps(synth_config_dict(config), sort_keys=True)
            for s, source, video in iter_videos(config, loaded):
                subject = f"sub{s + 1:02d}"
                _write_frames(out / FRAMES_DIR / subject / video.name, video.frames, config.jpeg_quality)
                frames = (video.onset + 1, video.apex + 1, video.offset + 1)
                aus = sheet_action_units(video.aus)
                rows.append([s + 1, video.name, None, *frames, None, aus, video.emotion])
                folder = f"{FRAMES_DIR}/{subject}/{video.name}"
                manifest.append([subject, folder, video.emotion, *frames, config.fps, aus])
                group = gt.create_group(f"{subject}/{video.name}")
                write_ground_truth(group, video)
                group.attrs["face"], group.attrs["fps"] = source, config.fps
                if source not in summary["people"]:
                    summary["people"].append(source)
                summary["videos"] += 1
                summary["frames"] += len(video.frames)
                bar.update()
    except BaseException:
        gt_tmp.unlink(missing_ok=True)  # an interrupted run leaves no half-written ground truth
        raise
    os.replace(gt_tmp, out / GROUND_TRUTH_FILE)
    _write_sheet_deterministically(rows, out / SHEET_FILE)
    columns = ["subject", "video", "label", "onset", "apex", "offset", "fps", "action_units"]
    pd.DataFrame(manifest, columns=columns).to_csv(out / MANIFEST_FILE, index=False)
    return summary


def synth_config_dict(config: SynthConfig) -> dict:
    """The config as plain JSON values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}
