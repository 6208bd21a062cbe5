"""The joint training objective of the reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from mol.constants import NUM_LANDMARKS, inter_ocular
from mol.model.mol import MOLOutput


@dataclass(frozen=True)
class LossWeights:
    """L = mer · CE + flow · L_flow + landmark · L_ldm (reference: 1, 10, 0.1).

    A zero weight skips that term entirely (used by the ablations).
    """

    mer: float = 1.0
    flow: float = 10.0
    landmark: float = 0.1

    def heads(self) -> tuple[str, ...]:
        """The model heads these weights need."""
        used = (("mer", self.mer), ("flow", self.flow), ("landmarks", self.landmark))
        return tuple(name for name, w in used if w)


class LossTerms(NamedTuple):
    total: torch.Tensor
    mer: torch.Tensor
    flow: torch.Tensor
    landmark: torch.Tensor


def inter_ocular_distance(landmarks: torch.Tensor) -> torch.Tensor:
    """Distance between the eye centres. landmarks (B, 136, T) as (x0, y0, ...) → (B, T)."""
    return inter_ocular(landmarks.unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1))  # via (B, T, 68, 2)


def flow_loss(pred: torch.Tensor, target: torch.Tensor, pairs: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over all elements of (B, 2, H, W, P) flows, divided by the P pairs.

    With ``pairs`` (k,), ``pred`` holds only those pairs of ``target``'s P: the mean over the k
    pairs, still divided by P, is an unbiased estimate of the full loss when the k pairs are
    drawn uniformly (every pair is in the same share of the subsets)."""
    num_pairs = target.shape[-1]
    if pairs is not None:
        target = target[..., pairs.to(target.device)]
    return F.mse_loss(pred, target) / num_pairs


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_{b,t} ‖pred - gt‖₁ / IOD(gt), divided by B·68. pred, target (B, 136, T).

    ``mask`` (B, T) bool: frames whose target was detected. Frames without a detected face carry
    a neighbour's landmarks, no target at all, so they are left out and the sum is scaled as if
    every frame counted (B·T / valid frames); with every frame valid this is the reference's loss."""
    per_frame = (pred - target).abs().sum(dim=1) / inter_ocular_distance(target)  # (B, T)
    if mask is None:
        return per_frame.sum() / (pred.shape[0] * NUM_LANDMARKS)
    mask = mask.to(per_frame.device, torch.bool)
    valid = mask.sum()
    total = torch.where(mask, per_frame, torch.zeros_like(per_frame)).sum()
    return total * mask.numel() / valid.clamp(min=1) / (pred.shape[0] * NUM_LANDMARKS)


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def joint_loss(
    output: MOLOutput,
    labels: torch.Tensor,
    flow: torch.Tensor,
    landmarks: torch.Tensor,
    weights: LossWeights = LossWeights(),
    flow_pairs: torch.Tensor | None = None,
    landmark_mask: torch.Tensor | None = None,
) -> LossTerms:
    """The weighted sum and its three (unweighted) parts, as tensors (no host synchronisation).

    Losses are computed in at least float32, also under autocast. A term with a non-zero
    weight needs its head's output (see :meth:`LossWeights.heads`). ``flow_pairs``: the pairs
    the model computed flow for (see :func:`flow_loss`); ``landmark_mask`` (B, 7): frames with a
    detected face (see :func:`landmark_loss`).
    """
    for name, pred, weight in (
        ("mer", output.mer_logits, weights.mer),
        ("flow", output.flow, weights.flow),
        ("landmarks", output.landmarks, weights.landmark),
    ):
        if weight and pred is None:
            raise ValueError(f"loss weight for {name} is {weight} but the model did not compute that head")
    present = next(t for t in output if t is not None)
    zero = present.new_zeros((), dtype=torch.float32 if present.dtype != torch.float64 else torch.float64)
    mer = F.cross_entropy(_at_least_float32(output.mer_logits), labels) if weights.mer else zero
    fl = ldm = zero
    if weights.flow:
        pred_flow = _at_least_float32(output.flow)
        fl = flow_loss(pred_flow, flow.to(pred_flow.dtype), flow_pairs)
    if weights.landmark:
        pred_ldm = _at_least_float32(output.landmarks)
        ldm = landmark_loss(pred_ldm, landmarks.to(pred_ldm.dtype), landmark_mask)
    total = weights.mer * mer + weights.flow * fl + weights.landmark * ldm
    return LossTerms(total=total, mer=mer.detach(), flow=fl.detach(), landmark=ldm.detach())
