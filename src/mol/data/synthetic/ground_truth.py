"""A synthetic dataset's exact ground truth on disk (ground_truth.h5): written by `mol synth`,
read by `mol prepare --flow exact`; and the exact flow and landmarks in aligned coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mol.data.synthetic.motion import FieldSpec, exact_flow, pixel_grid, shift_spec
from mol.data.synthetic.video import SynthVideo
from mol.errors import ConfigError

GROUND_TRUTH_FILE = "ground_truth.h5"
GT_FORMAT = "mol-synth-ground-truth"
GT_VERSION = 1


def aligned_ground_truth(
    video: SynthVideo, matrices: np.ndarray, pairs: list[tuple[int, int]], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact flows (P, size, size, 2) and landmarks (T, 68, 2) in aligned coordinates.

    ``matrices`` (T, 2, 3) map generated frames to aligned ones. Aligned pixel a of frame i comes
    from q = M_i⁻¹ a, which moves to q + flow(q) in frame j, i.e. to M_j (q + flow(q)) there.
    """
    grid = pixel_grid(size).astype(np.float64)
    flows = np.zeros((len(pairs), size, size, 2), np.float32)
    for n, (i, j) in enumerate(pairs):
        inverse = cv2.invertAffineTransform(matrices[i])
        q = grid @ inverse[:, :2].T + inverse[:, 2]
        moved = q + exact_flow(video.field(i), video.field(j), q)
        flows[n] = moved @ matrices[j][:, :2].T + matrices[j][:, 2] - grid
    landmarks = np.einsum("tij,tkj->tki", matrices[:, :, :2], video.landmarks) + matrices[:, None, :, 2]
    return flows, landmarks.astype(np.float32)


def write_ground_truth(group, video: SynthVideo) -> None:
    def put(name, data):
        group.create_dataset(name, data=data, track_times=False)

    put("landmarks", video.landmarks)
    put("coefficients", video.coefficients)
    width = max(1, max(len(spec.anchors) for spec in video.specs))
    anchors = np.full((len(video.specs), width, 2), np.nan)
    directions = np.full((len(video.specs), width, 2), np.nan)
    sigmas = np.full((len(video.specs), width), np.nan)
    for k, spec in enumerate(video.specs):
        anchors[k, : len(spec.anchors)] = spec.anchors
        directions[k, : len(spec.directions)] = spec.directions
        sigmas[k, : len(spec.sigmas)] = spec.sigmas
    put("basis_anchors", anchors)
    put("basis_directions", directions)
    put("basis_sigmas", sigmas)
    for key, value in {
        "class": video.class_name,
        "emotion": video.emotion,
        "aus": json.dumps(video.aus),
        "basis_names": json.dumps([spec.name for spec in video.specs]),
        "onset": video.onset,
        "apex": video.apex,
        "offset": video.offset,
        "amplitude": video.amplitude,
        "size": video.size,
        "first_frame_number": 1,
    }.items():
        group.attrs[key] = value


class GroundTruth:
    """Reads a synthetic dataset's exact ground truth: landmarks of every frame and the motion
    fields, from which the exact flow between any two frames is recomputed."""

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no synthetic ground truth here (made by `mol synth`)")
        self._file = h5py.File(self.path, "r")
        if self._file.attrs.get("format") != GT_FORMAT or int(self._file.attrs.get("format_version", -1)) != GT_VERSION:
            raise ConfigError(f"{self.path}: not a mol synthetic ground-truth file of version {GT_VERSION}")

    def video_keys(self) -> list[str]:
        """Every video as "subNN/EPkk_01"."""
        return [f"{s}/{v}" for s in self._file for v in self._file[s]]

    def video(self, subject: str, name: str) -> SynthVideo:
        g = self._file[f"{subject}/{name}"]
        names = json.loads(g.attrs["basis_names"])
        specs = []
        for k, spec_name in enumerate(names):
            valid = ~np.isnan(g["basis_sigmas"][k])
            if spec_name.startswith("DRIFT"):
                specs.append(shift_spec(spec_name, tuple(g["basis_directions"][k, 0])))
            else:
                specs.append(
                    FieldSpec(
                        spec_name,
                        g["basis_anchors"][k][valid],
                        g["basis_directions"][k][valid],
                        g["basis_sigmas"][k][valid],
                    )
                )
        a = g.attrs
        return SynthVideo(
            int(subject[3:]) - 1,
            name,
            str(a["class"]),
            str(a["emotion"]),
            json.loads(a["aus"]),
            None,
            g["landmarks"][()],
            specs,
            g["coefficients"][()],
            int(a["onset"]),
            int(a["apex"]),
            int(a["offset"]),
            float(a["amplitude"]),
            int(a["size"]),
        )

    def close(self) -> None:
        self._file.close()
