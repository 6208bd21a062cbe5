"""Small stand-ins for licensed datasets, built from the astronaut photo that ships with
scikit-image: a real face, shifted by sub-pixel amounts from frame to frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

FACE_SIZE = 200


def face_image() -> np.ndarray:
    from skimage import color, data

    gray = (color.rgb2gray(data.astronaut()) * 255).astype(np.uint8)
    return cv2.resize(gray[0:300, 70:370], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def face_frames(n: int, dx_per_frame: float = 0.3, dy_per_frame: float = 0.1) -> list[np.ndarray]:
    face = face_image()
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, dx_per_frame * t], [0, 1, dy_per_frame * t]])
        frames.append(cv2.warpAffine(face, m, (FACE_SIZE, FACE_SIZE), borderMode=cv2.BORDER_REFLECT))
    return frames


def write_frames(folder: Path, frames: list[np.ndarray], pattern: str = "img{}.jpg", first: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / pattern.format(first + i)), f)
    return folder


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h), isColor=True)
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def casme2_tree(root: Path, videos: list[tuple[int, str, str, object]], frames: int = 9) -> Path:
    """CASME2_RAW_selected/subXX/<video>/imgN.jpg plus a coding sheet; videos are
    (subject number, filename, emotion, apex) and folders are created for all but those whose
    filename starts with 'MISSING'."""
    rows = []
    for subject, name, emotion, apex in videos:
        if not name.startswith("MISSING"):
            write_frames(root / "CASME2_RAW_selected" / f"sub{subject:02d}" / name, face_frames(frames), first=46)
        rows.append([subject, name, None, 46, apex, 46 + frames - 1, None, "AU4", emotion])
    from mol.data.readers import CASME2_SHEET_COLUMNS

    pd.DataFrame(rows, columns=list(CASME2_SHEET_COLUMNS)).to_excel(root / "CASME2-coding-20140508.xlsx", index=False)
    return root


def training_record(**changes) -> dict:
    """A checkpoint's training record as a version-1 trainer wrote it (a MOL trained on recognition
    alone, on synthetic data), with ``changes``."""
    return {
        "steps": 150,
        "loss_weights": {"mer": 1.0, "flow": 0.0, "landmarks": 0.0},
        "trained_heads": ["mer"],
        "datasets": ["casme2"],
        "subjects": 3,
        "videos": 30,
        "classes": ["surprise", "positive", "negative"],
        "synthetic": True,
        "align": ["onset"],
        "flow": ["exact"],
        "fps": [200.0],
        **changes,
    }
