"""`mol predict` with a model that reads one onset-to-apex flow (STSTNet, flow histograms).

Such a model was trained on the optical flow from each video's onset frame to its apex frame,
on the aligned face crop. On a new video the spotter gives each micro-expression's onset and
apex; the two frames are aligned as the model's training data was (the checkpoint's record),
the flow between them is computed with the method its training flows used, and the model
classifies it. There are no sliding windows: without an onset and an apex, such a model has
no input.
"""

from __future__ import annotations

import numpy as np
import torch

from mol.constants import ALIGNED_SIZE, CROP, EVAL_OFFSET
from mol.data.align import NoFaceError, align_video, detect_landmarks
from mol.data.apex import EXACT_FALLBACK
from mol.data.flow import FLOW_METHODS, compute_flow
from mol.data.records import Interval
from mol.errors import ConfigError
from mol.model.record import TrainingRecord


def input_flow_method(record: TrainingRecord | None, metadata: dict[str, str]) -> str:
    """The flow method of the model's training flows (TV-L1 where the caches held exact flow,
    as training did); checkpoints from before training records name it in ``metadata["flow"]``."""
    stored = record.input_flow if record else tuple(metadata.get("flow", "").split(","))
    method = stored[0] if stored else EXACT_FALLBACK
    return method if method in FLOW_METHODS else EXACT_FALLBACK


def onset_apex_input(onset: np.ndarray, apex: np.ndarray, method: str) -> torch.Tensor:
    """Aligned onset and apex frames (144, 144) uint8 → the model's input (1, 2, 128, 128)."""
    flow = compute_flow(onset, apex, method)  # (144, 144, 2)
    crop = flow[EVAL_OFFSET : EVAL_OFFSET + CROP, EVAL_OFFSET : EVAL_OFFSET + CROP]
    return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32))[None]


def onset_apex_of(interval: Interval) -> tuple[int, int]:
    """The two frames whose flow such a model reads (an apex on the onset moves one frame on)."""
    return interval.onset, max(interval.apex, interval.onset + 1)


def classify_intervals(
    model: torch.nn.Module,
    raw: dict[int, np.ndarray],
    intervals: list[Interval],
    align: str,
    method: str,
    device: str = "cpu",
) -> list[tuple[list[float] | None, dict[int, np.ndarray], dict[int, np.ndarray]]]:
    """For each interval: (class probabilities or None where no face was found in its onset or
    apex frame, aligned frames by frame number, landmarks by frame number)."""
    out = []
    for interval in intervals:
        frames = list(onset_apex_of(interval))
        try:
            clip = align_video([raw[f] for f in frames], align, ALIGNED_SIZE, detect=detect_landmarks)
        except NoFaceError:
            out.append((None, {}, {}))
            continue
        if not clip.face_found.all():
            out.append((None, {}, {}))
            continue
        with torch.no_grad():
            logits = model(onset_apex_input(clip.frames[0], clip.frames[1], method).to(device))
        probs = torch.softmax(logits.float(), 1)[0].cpu().tolist()
        aligned = dict(zip(frames, clip.frames, strict=True))
        out.append(([round(p, 6) for p in probs], aligned, dict(zip(frames, clip.landmarks, strict=True))))
    return out


def check_mode(mode: str, model_name: str) -> None:
    if mode != "spot":
        raise ConfigError(
            f"a {model_name!r} model classifies the flow from a micro-expression's onset to its apex, which "
            "sliding windows do not have; use --mode spot (the default)"
        )


def describe(model_name: str, method: str, align: str) -> str:
    return (
        f"Model: {model_name}, which classifies the optical flow ({method}) from each spotted "
        f"micro-expression's onset frame to its apex frame, aligned '{align}' as in its training."
    )


def predict_apex_flow(raw: dict[int, np.ndarray], micro: list[Interval], model, method: str, align: str, device: str):
    """Classify each spotted micro-expression's onset-to-apex flow from ``raw`` (frame number →
    decoded frame, holding :func:`onset_apex_of` of each): (windows, aligned frames, landmarks)
    as :func:`mol.infer.windows.spotted_windows` and :func:`~mol.infer.windows.align_windows`
    give them."""
    from mol.infer.windows import SparseFrames, Window

    windows, aligned, landmarks = [], {}, {}
    for n, (interval, (probs, frames, points)) in enumerate(
        zip(micro, classify_intervals(model, raw, micro, align, method, device), strict=True)
    ):
        sampled = sorted(frames) or list(onset_apex_of(interval))
        windows.append(Window(n, interval.onset, interval.offset, sampled, probs is not None, probabilities=probs))
        aligned.update(frames)
        landmarks.update(points)
    return windows, SparseFrames(aligned), SparseFrames(landmarks)
