"""A fold's model on its test (or validation) clips: class probabilities, and the flow and
landmark errors beside their trivial baselines."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mol.constants import NUM_LANDMARKS, inter_ocular
from mol.data.clips import to_model_inputs
from mol.model.mol import MOL
from mol.train.config import TrainConfig
from mol.train.metrics import classification_metrics, confusion_matrix
from mol.train.step import autocast_for


@torch.no_grad()
def predict_clips(
    model: MOL,
    dataset: Dataset,
    config: TrainConfig,
    device: torch.device,
    heads,
    mean_shape: np.ndarray | None = None,
) -> dict:
    """Class probabilities per clip, with flow EPE and landmark NME per clip when computed, each
    beside its trivial baseline: the EPE of predicting no motion, and the NME of predicting
    ``mean_shape`` (68, 2), the training set's mean landmarks, in every frame."""
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
    )
    model.eval()
    keys = ("cache", "video", "start", "label", "probs", "epe", "zero_epe", "nme", "mean_nme")
    rows: dict[str, list] = {k: [] for k in keys}
    shape = None if mean_shape is None else torch.as_tensor(mean_shape, device=device)
    for batch in loader:
        batch = to_model_inputs(batch, device)
        with autocast_for(config, device):
            out = model(batch["clip"], heads=heads)
        rows["probs"].append(torch.softmax(out.mer_logits.float(), dim=1).cpu())
        if out.flow is not None:
            diff = out.flow.float() - batch["flow"]
            rows["epe"].append(diff.norm(dim=1).mean(dim=(1, 2, 3)).cpu())
            rows["zero_epe"].append(batch["flow"].norm(dim=1).mean(dim=(1, 2, 3)).cpu())
        if out.landmarks is not None:
            pred = out.landmarks.float().unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1)  # (B, 7, 68, 2)
            true = batch["landmarks"].unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1)
            found = batch["landmark_mask"]
            rows["nme"].append(clip_nme(pred, true, found).cpu())
            if shape is not None:
                rows["mean_nme"].append(clip_nme(shape.expand_as(true), true, found).cpu())
        for key in ("cache", "video", "start", "label"):
            rows[key].append(torch.as_tensor(batch[key]).cpu())
    return {k: torch.cat(v).numpy() for k, v in rows.items() if v}


def clip_nme(pred: torch.Tensor, true: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """NME in % per clip, over the frames with a detected face only (NaN where none had one).
    pred, true (B, 7, 68, 2); found (B, 7) bool."""
    per_frame = (pred - true).norm(dim=-1).mean(-1) / inter_ocular(true)
    weight = found.to(per_frame.dtype)
    return (per_frame * weight).sum(1) / weight.sum(1) * 100


def uf1_of(pred: dict, num_classes: int) -> float:
    return classification_metrics(confusion_matrix(pred["label"], pred["probs"].argmax(1), num_classes))["uf1"]
