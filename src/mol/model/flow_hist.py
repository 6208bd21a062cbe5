"""A hand-crafted baseline: histograms of oriented optical flow over a grid of facial regions
(the HOOF / MDMO family), onset to apex, and a multinomial logistic regression.

The global head motion (the median flow of the face) is removed first; each of the 6 × 6 cells of
the aligned face crop then gets an 8-bin histogram of flow directions weighted by magnitude. The
288 values are standardised and classified linearly. The fit is scikit-learn's
LogisticRegression (L2, C = 1, classes weighted by inverse frequency); its coefficients are
copied into this module's buffers, so it predicts and is saved like any other model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from mol.model.registry import register_model

GRID = 6
BINS = 8


def oriented_flow_histograms(flow: torch.Tensor, grid: int = GRID, bins: int = BINS) -> torch.Tensor:
    """(B, 2, S, S) flow → (B, grid·grid·bins) magnitude-weighted direction histograms per cell,
    after removing each sample's median flow (global head motion)."""
    b, _, s, _ = flow.shape
    flow = flow - flow.flatten(2).median(dim=2).values[:, :, None, None]
    magnitude = flow.norm(dim=1)
    angle = torch.atan2(flow[:, 1], flow[:, 0])  # (-π, π]
    index = ((angle + math.pi) / (2 * math.pi) * bins).long().clamp(0, bins - 1)
    cell = s // grid
    rows = (torch.arange(s, device=flow.device) // cell).clamp(max=grid - 1)
    region = rows[:, None] * grid + rows[None, :]  # (S, S) cell number
    slot = (region[None] * bins + index).flatten(1)  # (B, S·S)
    histograms = torch.zeros(b, grid * grid * bins, dtype=flow.dtype, device=flow.device)
    histograms.scatter_add_(1, slot, magnitude.flatten(1))
    return histograms / (cell * cell)


@dataclass(frozen=True)
class FlowHistogramConfig:
    num_classes: int = 3
    c: float = 1.0  # inverse L2 strength of the logistic regression (scikit-learn's default)

    def to_dict(self) -> dict:
        return asdict(self)


@register_model("flow-hist", input="apex_flow", summary="oriented flow histograms (6×6 regions) + logistic regression")
class FlowHistogram(nn.Module):
    def __init__(self, config: FlowHistogramConfig | None = None) -> None:
        super().__init__()
        self.config = config or FlowHistogramConfig()
        features, classes = GRID * GRID * BINS, self.config.num_classes
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.register_buffer("weight", torch.zeros(classes, features))
        self.register_buffer("bias", torch.zeros(classes))

    @classmethod
    def from_config_dict(cls, data: dict) -> FlowHistogram:
        return cls(FlowHistogramConfig(**data))

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """Onset-to-apex flow (B, 2, S, S) → class logits (B, C)."""
        x = (oriented_flow_histograms(flow.float()) - self.mean) / self.scale
        return x @ self.weight.T + self.bias

    def fit(self, flows: torch.Tensor, labels: torch.Tensor, seed: int = 0, progress: bool = False) -> list[float]:
        """Closed-form fit; classes absent from ``labels`` get a logit of -inf-like −1e4."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        x = oriented_flow_histograms(flows.float()).numpy().astype(np.float64)
        y = labels.numpy()
        scaler = StandardScaler().fit(x)
        present = np.unique(y)
        if len(present) < 2:
            raise ValueError("flow-hist needs training videos of at least two classes")
        model = LogisticRegression(C=self.config.c, class_weight="balanced", max_iter=5000, random_state=seed)
        model.fit(scaler.transform(x), y)
        weight = torch.zeros_like(self.weight)
        bias = torch.full_like(self.bias, -1e4)
        coef = model.coef_ if len(present) > 2 else np.stack([-model.coef_[0], model.coef_[0]]) / 2
        intercept = model.intercept_ if len(present) > 2 else np.array([-model.intercept_[0], model.intercept_[0]]) / 2
        weight[present] = torch.as_tensor(coef, dtype=weight.dtype)
        bias[present] = torch.as_tensor(intercept, dtype=bias.dtype)
        self.mean.copy_(torch.as_tensor(scaler.mean_))
        self.scale.copy_(torch.as_tensor(np.where(scaler.scale_ > 0, scaler.scale_, 1.0)))
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        self.eval()
        probabilities = model.predict_proba(scaler.transform(x))
        return [float(-np.log(probabilities[np.arange(len(y)), np.searchsorted(present, y)] + 1e-12).mean())]
