"""Optical-flow head in the FlowNetC style, fed with the F5C features."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mol.model.correlation import correlation, displacement_index, reachable_displacements
from mol.model.tap_conv import FlowPredictor

MAX_DISPLACEMENT = 20
DISPLACEMENT_STRIDE = 2
CORRELATION_CHANNELS = (2 * MAX_DISPLACEMENT // DISPLACEMENT_STRIDE + 1) ** 2  # 441
KAIMING_SLOPE = 0.1  # the reference initialises every (de)conv Kaiming normal for LeakyReLU(0.1)
# The deepest encoder and decoder layers: 35.0 M of the head's 39.7 M parameters, on maps of 2-8 px
# for a 128 px face. A flow stage of `mol pretrain` keeps their convolution weights at a seeded
# start, so that shipped weights carry a seed in place of these tensors.
SEEDED_LAYERS = ("conv4", "conv4_1", "conv5", "conv5_1", "conv6", "conv6_1", "deconv5", "deconv4")


class ConvBlock(nn.Sequential):
    """Conv2d (no bias, 'same'-style padding (k-1)//2) → BatchNorm → LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=(kernel_size - 1) // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.1, inplace=True),  # in place: saves one activation map per layer
        )


class DeconvBlock(nn.Sequential):
    """ConvTranspose2d(4, stride 2, padding 1, no bias) → LeakyReLU(0.1): doubles H and W."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False), nn.LeakyReLU(0.1, inplace=True)
        )


def _predict_flow(cin: int) -> nn.Conv2d:
    return FlowPredictor(cin, 2)  # Conv2d(cin, 2, 3, 1, 1, no bias), fast on the CPU


def _upsample_flow() -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, bias=False)


def correlation_indices(
    height: int, width: int, feature_dim: int, device: torch.device | None = None, redir: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For an H×W correlation map: the reachable displacements (D',), their gather index
    (D', H·W) and conv3_1's input channels that are used, [redir, reachable correlation, gA, gB]."""
    reachable = reachable_displacements(height, width, MAX_DISPLACEMENT, DISPLACEMENT_STRIDE, device)
    index = displacement_index(height, width, MAX_DISPLACEMENT, DISPLACEMENT_STRIDE, device)[reachable]
    features_from = redir + CORRELATION_CHANNELS
    keep = torch.cat(
        (
            torch.arange(redir, device=device),
            redir + reachable,
            torch.arange(features_from, features_from + 2 * feature_dim, device=device),
        )
    )
    return reachable, index, keep


class FlowHead(nn.Module):
    """Dense flow between consecutive frames of a clip.

    Every frame goes through the encoder once; all T-1 pairs are decoded as one batch.
    Input frames (B, T, 1, 128, 128) and F5C features gA, gB (B, T-1, 128, 16, 16);
    output flow (B, T-1, 2, 128, 128), channel 0 horizontal (x), 1 vertical (y).
    """

    def __init__(self, feature_dim: int = 128, map_size: int = 16) -> None:
        super().__init__()
        # Correlation index tensors for the encoder's map_size × map_size map (16 for 128×128
        # frames), built once on the CPU and moved with the module: a forward then launches no
        # index-building kernels and has no data-dependent shape (no device synchronisation).
        reachable, index, keep = correlation_indices(map_size, map_size, feature_dim)
        self.map_size = map_size
        self.register_buffer("corr_reachable", reachable, persistent=False)
        self.register_buffer("corr_index", index, persistent=False)
        self.register_buffer("conv3_1_keep", keep, persistent=False)
        self.conv1 = ConvBlock(1, 64, kernel_size=6, stride=2)  # 64×64
        self.conv2 = ConvBlock(64, 128, kernel_size=4, stride=2)  # 32×32
        self.conv3 = ConvBlock(128, 256, kernel_size=2, stride=2)  # 16×16
        self.conv_redir = ConvBlock(256, 32, kernel_size=1)
        self.conv3_1 = ConvBlock(32 + CORRELATION_CHANNELS + 2 * feature_dim, 256)
        self.conv4 = ConvBlock(256, 512, stride=2)
        self.conv4_1 = ConvBlock(512, 512)
        self.conv5 = ConvBlock(512, 512, stride=2)
        self.conv5_1 = ConvBlock(512, 512)
        self.conv6 = ConvBlock(512, 1024, stride=2)
        self.conv6_1 = ConvBlock(1024, 1024)

        self.deconv5 = DeconvBlock(1024, 512)
        self.deconv4 = DeconvBlock(1026, 256)
        self.deconv3 = DeconvBlock(770, 128)
        self.deconv2 = DeconvBlock(386, 128)
        self.deconv1 = DeconvBlock(258, 64)
        self.deconv0 = DeconvBlock(130, 32)

        self.predict_flow6 = _predict_flow(1024)
        self.predict_flow5 = _predict_flow(1026)
        self.predict_flow4 = _predict_flow(770)
        self.predict_flow3 = _predict_flow(386)
        self.predict_flow2 = _predict_flow(258)
        self.predict_flow1 = _predict_flow(130)
        self.predict_flow0 = _predict_flow(35)

        self.upsampled_flow6_to_5 = _upsample_flow()
        self.upsampled_flow5_to_4 = _upsample_flow()
        self.upsampled_flow4_to_3 = _upsample_flow()
        self.upsampled_flow3_to_2 = _upsample_flow()
        self.upsampled_flow2_to_1 = _upsample_flow()
        self.upsampled_flow1_to_0 = _upsample_flow()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The reference initialisation: Kaiming normal (a = 0.1) for every (de)conv, BN at 1/0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, a=KAIMING_SLOPE)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def seeded_weight_names(self) -> list[str]:
        """The state-dict names (within this head) of the weights :meth:`seed_large_layers` sets."""
        return [f"{name}.0.weight" for name in SEEDED_LAYERS]

    def _seeded_weights(self) -> list[nn.Parameter]:
        return [getattr(self, name)[0].weight for name in SEEDED_LAYERS]  # each block's convolution

    def seed_large_layers(self, seed: int) -> None:
        """Set the convolution weights of SEEDED_LAYERS from ``seed`` alone: the reference's
        Kaiming normal, drawn on the CPU so that every machine gets the same tensors."""
        generator = torch.Generator().manual_seed(seed)
        gain = math.sqrt(2.0 / (1 + KAIMING_SLOPE**2))
        with torch.no_grad():
            for weight in self._seeded_weights():
                fan_in = weight.shape[1] * weight[0, 0].numel()  # as torch's kaiming_normal_ counts it
                drawn = torch.randn(weight.shape, generator=generator) * (gain / math.sqrt(fan_in))
                weight.copy_(drawn)

    def freeze_large_layers(self) -> None:
        """Stop the gradient of the weights :meth:`seed_large_layers` sets: they stay as the seed
        makes them while the rest of the head trains."""
        for weight in self._seeded_weights():
            weight.requires_grad_(False)

    def _conv3_1(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """conv3_1 on [redir 32, reachable correlation channels, gA 128, gB 128]."""
        conv, norm, act = self.conv3_1
        return act(norm(F.conv2d(h, conv.weight[:, keep], padding=conv.padding)))

    def _decode(
        self,
        x_a: torch.Tensor,
        e1a: torch.Tensor,
        e2a: torch.Tensor,
        e3a: torch.Tensor,
        e3b: torch.Tensor,
        feat_a: torch.Tensor,
        feat_b: torch.Tensor,
        pyramid: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Correlation, refinement and the coarse-to-fine decoder for M pairs → flow (M, 2, H, W);
        with ``pyramid`` also the coarser predictions flow1..flow6, (M, 2, H/2^l, W/2^l)."""
        # Displacements that never land inside the map give correlation channels that are exactly
        # zero; they and their conv3_1 weights are skipped (on 16×16: 225 of 441 channels remain).
        if e3a.shape[-2:] == (self.map_size, self.map_size):
            index, keep = self.corr_index, self.conv3_1_keep
        else:  # another frame size: build the indices for this map
            _, index, keep = correlation_indices(*e3a.shape[-2:], feat_a.shape[1], e3a.device)
        corr = correlation(e3a, e3b, MAX_DISPLACEMENT, DISPLACEMENT_STRIDE, index=index) / e3a.shape[1]
        corr = F.leaky_relu(corr, 0.1)
        h = torch.cat((self.conv_redir(e3a), corr, feat_a, feat_b), dim=1)

        c3 = self._conv3_1(h, keep)
        c4 = self.conv4_1(self.conv4(c3))
        c5 = self.conv5_1(self.conv5(c4))
        c6 = self.conv6_1(self.conv6(c5))

        flow6 = self.predict_flow6(c6)
        cat5 = torch.cat((c5, self.deconv5(c6), self.upsampled_flow6_to_5(flow6)), 1)
        flow5 = self.predict_flow5(cat5)
        cat4 = torch.cat((c4, self.deconv4(cat5), self.upsampled_flow5_to_4(flow5)), 1)
        flow4 = self.predict_flow4(cat4)
        cat3 = torch.cat((c3, self.deconv3(cat4), self.upsampled_flow4_to_3(flow4)), 1)
        flow3 = self.predict_flow3(cat3)
        cat2 = torch.cat((e2a, self.deconv2(cat3), self.upsampled_flow3_to_2(flow3)), 1)
        flow2 = self.predict_flow2(cat2)
        cat1 = torch.cat((e1a, self.deconv1(cat2), self.upsampled_flow2_to_1(flow2)), 1)
        flow1 = self.predict_flow1(cat1)
        cat0 = torch.cat((x_a, self.deconv0(cat1), self.upsampled_flow1_to_0(flow1)), 1)
        flow0 = self.predict_flow0(cat0)
        return (flow0, (flow1, flow2, flow3, flow4, flow5, flow6)) if pyramid else flow0

    def forward(
        self,
        frames: torch.Tensor,
        feat_a: torch.Tensor,
        feat_b: torch.Tensor,
        pairs: torch.Tensor | None = None,
        pyramid: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``pairs``: optional pair indices (P,) in 0..T-2, shared by the batch; only those pairs are
        encoded and decoded, and the output is (B, P, 2, H, W) in that order (stochastic flow
        supervision: the decoder is most of the head's cost, so P pairs cost about P / (T-1)).
        ``pyramid``: also the decoder's coarser predictions flow1..flow6, each (B, P, 2, h, w)
        (FlowNet's multi-scale supervision; the reference supervises flow0 alone)."""
        b, t = frames.shape[:2]
        if pairs is not None:
            return self._forward_pairs(frames, feat_a, feat_b, pairs, pyramid)
        pairs = t - 1
        flat = frames.flatten(0, 1)  # (B·T, 1, H, W)
        e1 = self.conv1(flat)
        e2 = self.conv2(e1)
        e3 = self.conv3(e2)

        def first(x: torch.Tensor) -> torch.Tensor:  # frames 0..T-2 of every clip, as (B·(T-1), ...)
            return x.unflatten(0, (b, t))[:, :-1].flatten(0, 1)

        def second(x: torch.Tensor) -> torch.Tensor:  # frames 1..T-1
            return x.unflatten(0, (b, t))[:, 1:].flatten(0, 1)

        pair_inputs = (
            first(flat),
            first(e1),
            first(e2),
            first(e3),
            second(e3),
            feat_a.flatten(0, 1),
            feat_b.flatten(0, 1),
        )
        return _per_clip(self._decode(*pair_inputs, pyramid=pyramid), b)

    def _forward_pairs(
        self, frames: torch.Tensor, feat_a: torch.Tensor, feat_b: torch.Tensor, pairs: torch.Tensor, pyramid: bool
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The chosen pairs only: their first and second frames pass the encoder (as one batch)."""
        b, t = frames.shape[:2]
        if pairs.dim() != 1 or len(pairs) == 0 or int(pairs.min()) < 0 or int(pairs.max()) > t - 2:
            raise ValueError(f"pairs must be a non-empty 1-D index tensor within 0..{t - 2}, got {pairs.tolist()}")
        p = len(pairs)
        both = torch.cat((frames[:, pairs], frames[:, pairs + 1]), dim=1).flatten(0, 1)  # (B·2P, 1, H, W)
        e1 = self.conv1(both)
        e2 = self.conv2(e1)
        e3 = self.conv3(e2)

        def first(x: torch.Tensor) -> torch.Tensor:  # the pairs' first frames, as (B·P, ...)
            return x.unflatten(0, (b, 2 * p))[:, :p].flatten(0, 1)

        decoded = self._decode(
            first(both),
            first(e1),
            first(e2),
            first(e3),
            e3.unflatten(0, (b, 2 * p))[:, p:].flatten(0, 1),
            feat_a[:, pairs].flatten(0, 1),
            feat_b[:, pairs].flatten(0, 1),
            pyramid=pyramid,
        )
        return _per_clip(decoded, b)


def _per_clip(
    decoded: torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]], b: int
) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """(B·P, ...) → (B, P, ...) for the decoder's flow0, or for flow0 and its coarser levels."""
    if isinstance(decoded, tuple):
        flow0, coarse = decoded
        return flow0.unflatten(0, (b, -1)), tuple(f.unflatten(0, (b, -1)) for f in coarse)
    return decoded.unflatten(0, (b, -1))
