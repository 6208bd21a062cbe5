"""The joint MOL network: micro-expression class, optical flow and landmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from mol.constants import CLIP_FRAMES, MOTION_INPUTS
from mol.constants import CROP as FRAME_SIZE
from mol.model.ccc import NEIGHBOR_MODES, NeighborMode
from mol.model.conv_stack import ConvStack
from mol.model.f5c import F5C
from mol.model.fcc import FCC
from mol.model.flow_head import FlowHead
from mol.model.landmark_head import LandmarkHead
from mol.model.mer_head import MERHead
from mol.model.registry import register_model

DIFF_GAIN = 8.0  # a 0.5 px move of an edge of 20 grey levels (0.16 in [-1, 1] units) → ~0.6


@dataclass(frozen=True)
class MOLConfig:
    """Everything needed to rebuild a MOL network (stored with every checkpoint)."""

    num_classes: int = 5
    k: int = 4
    ccc_neighbors: NeighborMode = "positions"
    dropout: float = 0.5  # MER head (the reference: 0.5)
    # what the recognition path reads: "raw" frames (the paper), or "diff", each frame's
    # difference from the clip's first frame (see motion_frames); flow and landmarks always
    # read the raw frames
    motion_input: str = "raw"

    def __post_init__(self) -> None:
        if self.motion_input not in MOTION_INPUTS:
            raise ValueError(f"motion_input must be one of {MOTION_INPUTS}, got {self.motion_input!r}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be ≥ 2, got {self.num_classes}")
        if self.ccc_neighbors not in NEIGHBOR_MODES:
            raise ValueError(f"ccc_neighbors must be one of {NEIGHBOR_MODES}, got {self.ccc_neighbors!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MOLConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown MOL config fields {sorted(unknown)}")
        return cls(**data)


HEADS: tuple[str, ...] = ("mer", "flow", "landmarks")


def motion_frames(x: torch.Tensor) -> torch.Tensor:
    """Static appearance taken out of a clip: each frame minus the clip's first frame, times
    DIFF_GAIN, clipped to [-1, 1]. x (B, 1, T, H, W) in [-1, 1] → the same shape; frame 0 is zero.
    A face that does not move is blank whoever it is, so recognition cannot key on identity."""
    return ((x - x[:, :, :1]) * DIFF_GAIN).clamp(-1.0, 1.0)


class MOLOutput(NamedTuple):
    """mer_logits (B, C); flow (B, 2, 128, 128, 7) with channel 0 = x; landmarks (B, 136, 7)
    as (x0, y0, x1, y1, ...) in input pixels, predicted for frames 1..7. A head that was not
    asked for is None. motion_features (B, 7, 128, 16, 16): the F5C block B features of frames
    1..7 that the recognition head read (what a saliency map shows), with "mer" only."""

    mer_logits: torch.Tensor | None
    flow: torch.Tensor | None
    landmarks: torch.Tensor | None
    motion_features: torch.Tensor | None = None
    # with flow_pyramid: the flow decoder's coarser predictions flow1..flow6, (B, 2, h, w, P) each
    flow_pyramid: tuple[torch.Tensor, ...] | None = None


@register_model("mol", input="clip", summary="MOL: recognition, flow and landmarks from 8 frames")
class MOL(nn.Module):
    """MOL on a grayscale clip x (B, 1, 8, 128, 128).

    F5C block A reads frames 0..6, block B frames 1..7; pair t uses (gA_t, gB_t).
    Compared with the reference, each frame passes the conv stack and flow encoder once, and
    the seven pairs are processed as one batch. In eval mode this changes nothing. In training
    mode BatchNorm layers see one batch of B·7 pair features (F5C) or B·8 frames (flow
    encoder) instead of seven (or 2 × 7) batches of B, so batch statistics are pooled over the
    whole clip and running statistics take one momentum update per step instead of several.
    """

    def __init__(
        self,
        num_classes: int = 5,
        k: int = 4,
        ccc_neighbors: NeighborMode = "positions",
        dropout: float = 0.5,
        motion_input: str = "raw",
    ) -> None:
        super().__init__()
        self.config = MOLConfig(
            num_classes=num_classes, k=k, ccc_neighbors=ccc_neighbors, dropout=dropout, motion_input=motion_input
        )
        self.conv_stack = ConvStack()
        self.f5c_a = F5C(k=k, neighbors=ccc_neighbors)
        self.f5c_b = F5C(k=k, neighbors=ccc_neighbors)
        self.flow_head = FlowHead()
        self.mer_head = MERHead(num_classes, dropout=dropout)
        self.landmark_head = LandmarkHead()
        self.features_frozen = False

    @classmethod
    def from_config(cls, config: MOLConfig) -> MOL:
        return cls(**config.to_dict())

    @classmethod
    def from_config_dict(cls, data: dict) -> MOL:
        return cls.from_config(MOLConfig.from_dict(data))

    def start_heads_at_baselines(self, mean_shape=None) -> None:
        """Start the flow head at zero flow and, given ``mean_shape`` (68, 2) in crop pixels, the
        landmark head at that shape with small residuals: both heads then begin at their trivial
        baselines and learn from there."""
        with torch.no_grad():
            self.flow_head.predict_flow0.weight.zero_()
            if mean_shape is not None:
                self.landmark_head.fc2.weight.mul_(0.01)
                self.landmark_head.fc2.bias.copy_(torch.as_tensor(mean_shape).flatten())

    def feature_modules(self) -> tuple[nn.Module, ...]:
        """The layers the three heads share: the conv stack and F5C blocks A and B."""
        return (self.conv_stack, self.f5c_a, self.f5c_b)

    def freeze_features(self) -> None:
        """Keep the shared features as they are: their weights get no gradient and their
        BatchNorm layers stay in eval mode (running statistics unchanged) even in train mode."""
        for module in self.feature_modules():
            module.requires_grad_(False)
        self.features_frozen = True
        self.train(self.training)

    def train(self, mode: bool = True) -> MOL:
        super().train(mode)
        if self.features_frozen:
            for module in self.feature_modules():
                module.eval()
        return self

    def reference_fcc_init_(self, generator: torch.Generator) -> None:
        """The reference's initialisation of every FCC's positional embeddings and biases: N(0, 1)."""
        for module in self.modules():
            if isinstance(module, FCC):
                module.reference_init_(generator)

    def share_f5c_blocks(self) -> None:
        """Start F5C block B as a copy of block A (they then train apart)."""
        self.f5c_b.load_state_dict(self.f5c_a.state_dict())

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @staticmethod
    def check_input(x: torch.Tensor) -> None:
        expected = (1, CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE)
        if x.dim() != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"MOL expects a clip of shape (B, 1, {CLIP_FRAMES}, {FRAME_SIZE}, {FRAME_SIZE}) "
                f"(batch, grayscale channel, frames, height, width), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"MOL expects a floating-point clip, got {x.dtype}")

    def forward(
        self,
        x: torch.Tensor,
        heads: tuple[str, ...] | frozenset[str] = HEADS,
        flow_pairs: torch.Tensor | None = None,
        flow_pyramid: bool = False,
    ) -> MOLOutput:
        """x (B, 1, 8, 128, 128). ``heads`` selects the outputs to compute: the flow head holds
        ~93% of the network's arithmetic, so skipping it (MER-only training or inference) is
        an order of magnitude cheaper. ``flow_pairs`` (P,) computes the flow of those frame
        pairs only: flow is then (B, 2, 128, 128, P). ``flow_pyramid`` also returns the flow
        decoder's coarser predictions (a pre-training loss; see FlowHead.forward)."""
        self.check_input(x)
        unknown = set(heads) - set(HEADS)
        if unknown:
            raise ValueError(f"unknown heads {sorted(unknown)}; choose from {HEADS}")
        b, _, t = x.shape[:3]
        diff = self.config.motion_input == "diff"
        raw_needed = not diff or bool({"flow", "landmarks"} & set(heads))
        mer_logits = flow = landmarks = m_b = coarse = None
        frames = x.transpose(1, 2)  # (B, T, 1, H, W)
        if raw_needed:
            g_a, g_b = self.pair_features(frames)
        if "mer" in heads:
            m_a, m_b = self.pair_features(motion_frames(x).transpose(1, 2)) if diff else (g_a, g_b)
            # gA_0, gB_0, gA_1, gB_1, ... on the last axis: (B, 128, 16, 16, 14)
            interleaved = torch.stack((m_a, m_b), dim=2).flatten(1, 2).permute(0, 2, 3, 4, 1)
            mer_logits = self.mer_head(interleaved)
        if "landmarks" in heads:
            landmarks = self.landmark_head(g_b.flatten(0, 1)).unflatten(0, (b, t - 1)).permute(0, 2, 1)
        if "flow" in heads:
            flow = self.flow_head(frames, g_a, g_b, pairs=flow_pairs, pyramid=flow_pyramid)
            if flow_pyramid:
                flow, coarse = flow[0], tuple(f.permute(0, 2, 3, 4, 1) for f in flow[1])
            flow = flow.permute(0, 2, 3, 4, 1)
        return MOLOutput(mer_logits, flow, landmarks, motion_features=m_b, flow_pyramid=coarse)

    def pair_features(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, T, 1, H, W) → F5C features gA of frames 0..T-2 and gB of frames 1..T-1,
        each (B, T-1, 128, 16, 16)."""
        b, t = frames.shape[:2]
        r = self.conv_stack(frames.flatten(0, 1)).unflatten(0, (b, t))  # (B, T, 128, 16, 16)
        g_a = self.f5c_a(r[:, :-1].flatten(0, 1)).unflatten(0, (b, t - 1))
        g_b = self.f5c_b(r[:, 1:].flatten(0, 1)).unflatten(0, (b, t - 1))
        return g_a, g_b
