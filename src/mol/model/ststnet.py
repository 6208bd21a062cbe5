"""STSTNet (Liong et al., 2019): a shallow three-stream CNN on the onset-to-apex optical flow.

The input is three 28 × 28 maps of the aligned face: optical strain, horizontal flow and vertical
flow. Three parallel 3 × 3 convolutions with 3, 5 and 8 kernels each see all three maps; each
is followed by ReLU, batch normalisation and 3 × 3 max pooling with stride 3; the 16 channels
are concatenated, averaged over 2 × 2 and classified by one linear layer. Trained with Adam
(learning rate 5e-5) on all training videos at once, for a fixed number of epochs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mol.model.registry import register_model

INPUT_SIZE = 28
STREAM_WIDTHS = (3, 5, 8)


def optical_strain(flow: torch.Tensor) -> torch.Tensor:
    """Magnitude of the strain tensor of a flow (B, 2, H, W) → (B, 1, H, W), from central
    differences: sqrt(u_x² + v_y² + ½ (u_y + v_x)²)."""
    u, v = flow[:, :1], flow[:, 1:]

    def grad(f: torch.Tensor, dim: int) -> torch.Tensor:
        return torch.gradient(f, dim=dim)[0]

    ux, uy, vx, vy = grad(u, 3), grad(u, 2), grad(v, 3), grad(v, 2)
    return torch.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2 + 1e-12)


def ststnet_input(flow: torch.Tensor) -> torch.Tensor:
    """Onset-to-apex flow (B, 2, S, S) in pixels → STSTNet's (B, 3, 28, 28): strain, u, v, with
    the flow resized to 28 px and its displacements scaled with it."""
    small = F.interpolate(flow, size=(INPUT_SIZE, INPUT_SIZE), mode="area") * (INPUT_SIZE / flow.shape[-1])
    return torch.cat([optical_strain(small), small], dim=1)


@dataclass(frozen=True)
class STSTNetConfig:
    num_classes: int = 3
    epochs: int = 500
    lr: float = 5e-5

    def to_dict(self) -> dict:
        return asdict(self)


@register_model("ststnet", input="apex_flow", summary="STSTNet: shallow 3-stream CNN on onset-apex flow and strain")
class STSTNet(nn.Module):
    def __init__(self, config: STSTNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or STSTNetConfig()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(width))
            for width in STREAM_WIDTHS
        )
        self.pool = nn.MaxPool2d(3, stride=3, padding=1)  # 28 → 10
        self.fc = nn.Linear(sum(STREAM_WIDTHS) * 5 * 5, self.config.num_classes)

    @classmethod
    def from_config_dict(cls, data: dict) -> STSTNet:
        return cls(STSTNetConfig(**data))

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """Onset-to-apex flow (B, 2, S, S) → class logits (B, C)."""
        x = ststnet_input(flow)
        x = torch.cat([self.pool(stream(x)) for stream in self.streams], dim=1)  # (B, 16, 10, 10)
        x = F.avg_pool2d(x, 2)  # (B, 16, 5, 5)
        return self.fc(x.flatten(1))

    def fit(self, flows: torch.Tensor, labels: torch.Tensor, seed: int = 0, progress: bool = False) -> list[float]:
        """Adam on the whole training set as one batch for ``config.epochs`` epochs; returns the
        training loss of each epoch."""
        torch.manual_seed(seed)
        optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr)
        self.train()
        losses = []
        for _ in range(self.config.epochs):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self(flows), labels)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        self.eval()
        return losses
