"""Shortcut probes: can a linear classifier read a synthetic clip's class from something other
than its facial motion?

Each probe turns a clip into one feature vector, trains a logistic regression on all people but
one and tests on the held-out person (leave-one-person-out), so only what generalises across
people counts. A probe at chance means the generator leaks no class information through that
feature; the onset-to-apex flow is the positive control and must be far above chance.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from mol.data.synthetic.dataset import iter_videos
from mol.data.synthetic.ground_truth import aligned_ground_truth
from mol.data.synthetic.motion import face_mask
from mol.data.synthetic.video import SynthConfig, SynthVideo

PROBE_SIZE = 64  # side of the onset-aligned face the probes look at
POOLED = 8  # flow pooled to POOLED × POOLED cells
PROBES: dict[str, str] = {
    "apex_frame": "pixels of the apex frame alone (16×16)",
    "image_statistics": "per-frame mean, contrast and sharpness (onset, apex, clip mean and spread)",
    "timing": "clip length and onset, apex, offset frames",
    "motion_amount": "total amount of motion: mean onset-to-apex flow magnitude over the face",
    "onset_apex_flow": "onset-to-apex flow pooled to 8×8 (positive control)",
}


def clip_features(video: SynthVideo) -> dict[str, np.ndarray]:
    """One feature vector per probe for a clip, on the face aligned by its first frame."""
    from mol.data.align import similarity_transform

    matrix = similarity_transform(video.landmarks[0], PROBE_SIZE)
    frames = np.stack([cv2.warpAffine(f.astype(np.float32), matrix, (PROBE_SIZE, PROBE_SIZE)) for f in video.frames])
    apex = cv2.resize(frames[video.apex], (16, 16), interpolation=cv2.INTER_AREA).ravel()
    laplacian = np.stack([cv2.Laplacian(f, cv2.CV_32F).var() for f in frames])
    per_frame = np.stack([frames.mean((1, 2)), frames.std((1, 2)), laplacian], axis=1)  # (T, 3)
    statistics = np.concatenate([per_frame[video.onset], per_frame[video.apex], per_frame.mean(0), per_frame.std(0)])
    length = len(video.frames)
    timing = np.array(
        [length, video.onset, video.apex, video.offset, video.apex - video.onset, video.offset - video.apex], float
    )
    matrices = np.repeat(matrix[None], length, axis=0)
    flows, _ = aligned_ground_truth(video, matrices, [(video.onset, video.apex)], PROBE_SIZE)
    flow = flows[0]
    magnitude = np.linalg.norm(flow, axis=-1)
    face = face_mask(video.landmarks[0] @ matrix[:, :2].T + matrix[:, 2], PROBE_SIZE)
    cell = PROBE_SIZE // POOLED
    pooled = flow.reshape(POOLED, cell, POOLED, cell, 2).mean((1, 3)).ravel()
    return {
        "apex_frame": apex,
        "image_statistics": statistics,
        "timing": timing,
        "motion_amount": np.array([magnitude[face].mean()]),
        "onset_apex_flow": pooled,
    }


def leave_one_group_out_accuracy(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    """Held-out accuracy of a standardised logistic regression, leaving out one group at a time."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    predicted = cross_val_predict(model, features, labels, groups=groups, cv=LeaveOneGroupOut())
    return float((predicted == labels).mean())


def chance_bound(clips: int, classes: int, alpha: float = 0.001) -> float:
    """The accuracy that guessing (1/classes per clip, independently) exceeds with probability
    below ``alpha``: the one-sided binomial upper bound of chance on ``clips`` held-out clips."""
    from scipy.stats import binom

    return float(binom.ppf(1.0 - alpha, clips, 1.0 / classes) / clips)


def run_probes(configs: Iterable[SynthConfig], progress: bool = False) -> list[dict]:
    """Every probe's leave-one-person-out accuracy over the videos of ``configs`` (people are told
    apart by their photograph, so a person in two configs is one group)."""
    from tqdm import tqdm

    rows, labels, groups = [], [], []
    for config in configs:
        videos = iter_videos(config)
        for _, source, video in tqdm(videos, desc="probe features", disable=not progress, unit="video"):
            rows.append(clip_features(video))
            labels.append(video.class_name)
            groups.append(source)
    y, g = np.array(labels), np.array(groups)
    classes = len(set(labels))
    results = []
    for name, what in PROBES.items():
        accuracy = leave_one_group_out_accuracy(np.stack([r[name] for r in rows]), y, g)
        results.append(
            {
                "probe": name,
                "features": what,
                "accuracy": round(accuracy, 4),
                "chance": round(1.0 / classes, 4),
                "bound_p001": round(chance_bound(len(y), classes), 4),
                "clips": len(y),
                "people": len(set(groups)),
            }
        )
    return results
