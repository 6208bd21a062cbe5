"""The photographs of real people that synthetic subjects are made from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mol.errors import ConfigError

FACES_DIR = Path(__file__).resolve().parents[1] / "faces"  # mol/data/faces


@dataclass(frozen=True)
class FacePhoto:
    """A photograph of one real person that ships with the installed packages (origins and
    licences: mol/data/faces/FACES.md)."""

    name: str
    person: str
    source: str  # a package resource: "skimage:astronaut", "matplotlib:FILE" or "mol:FILE"
    upsample: int = 1  # dlib detector upsampling that finds the face (1: what mol prepare uses)

    def read(self) -> np.ndarray:
        """The photograph as grayscale uint8."""
        kind, item = self.source.split(":", 1)
        if kind == "skimage":
            from skimage import color, data

            return (color.rgb2gray(getattr(data, item)()) * 255).astype(np.uint8)
        if kind == "matplotlib":
            from matplotlib import cbook

            path = Path(cbook.get_sample_data(item, asfileobj=False))
        else:
            path = FACES_DIR / item
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise FileNotFoundError(f"{path}: face photograph {self.name!r} missing; reinstall mol-mer")
        return gray


# Six different people; a subject of a synthetic dataset is one of them.
FACE_PHOTOS: dict[str, FacePhoto] = {
    photo.name: photo
    for photo in (
        FacePhoto("collins", "Eileen Collins", "skimage:astronaut"),
        FacePhoto("hopper", "Grace Hopper", "matplotlib:grace_hopper.jpg"),
        FacePhoto("biden", "Joe Biden", "mol:biden.jpg"),
        FacePhoto("obama", "Barack Obama", "mol:obama.jpg"),
        FacePhoto("paul", "Aaron Paul", "mol:paul.jpg"),
        FacePhoto("kanade", "Takeo Kanade", "mol:kanade.jpg"),
    )
}


# Photographs for the pre-training pool only (`mol pretrain --people`), never a subject of a
# synthetic dataset: dlib's detector misses the turned head at the upsampling `mol prepare` uses
# (it finds it without upsampling), so a subject's videos could not be prepared.
POOL_PHOTOS: dict[str, FacePhoto] = {
    photo.name: photo for photo in (FacePhoto("cranston", "Bryan Cranston", "mol:cranston.jpg", upsample=0),)
}
ALL_PHOTOS = {**FACE_PHOTOS, **POOL_PHOTOS}  # every built-in photograph, by name


def load_face(source: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale face photo framed to size × size (face box of the alignment, reflected border)
    and its 68 dlib landmarks in that frame. ``source``: a name of FACE_PHOTOS or POOL_PHOTOS, or
    an image path."""
    from mol.data.align import detect_landmarks, similarity_transform

    photo = ALL_PHOTOS.get(source)
    if photo is not None:
        gray = photo.read()
    else:
        gray = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise ConfigError(f"{source}: unreadable image; give a face photo file or one of {sorted(FACE_PHOTOS)}")
    landmarks = detect_landmarks(gray, upsample=photo.upsample if photo else 1)
    if landmarks is None:
        raise ConfigError(f"{source}: no face found; give a frontal face photo with --face-image")
    matrix = similarity_transform(landmarks, size)
    framed = cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return framed.astype(np.float32), (landmarks @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
