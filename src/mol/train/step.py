"""One optimisation step (the trainer's, and the one `mol bench` times) and what it depends on
that is a function of the step alone: precision, learning rate, train or eval mode, the flow
pairs supervised, and the random state a resumed fold restores."""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import torch

from mol.constants import CLIP_FRAMES
from mol.errors import ConfigError
from mol.model.mol import HEADS
from mol.train.config import TrainConfig
from mol.train.losses import LossTerms, LossWeights, joint_loss


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere PyTorch
    emulates it and a bf16 autocast step was measured 10-30x slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def warn_if_slow_precision(config: TrainConfig, device: torch.device) -> None:
    if device.type == "cpu" and config.precision == "bfloat16" and not cpu_has_native_bf16():
        warnings.warn(
            "bfloat16 on a CPU without AVX512-BF16 or AMX is emulated and far slower than float32; "
            "use --precision float32 (or --set precision=float32)",
            stacklevel=2,
        )


def optimisation_step(
    forward,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    batch: dict[str, torch.Tensor],
    weights: LossWeights | None = None,
    heads: tuple[str, ...] | frozenset[str] = HEADS,
    flow_pairs: torch.Tensor | None = None,
    autocast=None,
) -> LossTerms:
    """One training step, the trainer's and the one `mol bench` times: forward of ``heads``
    (``flow_pairs``: the pairs whose flow is computed), the joint loss, backward through the
    gradient scaler, optimizer step. ``batch``: clip, label and, as the loss weights need them,
    flow, landmarks and landmark_mask."""
    optimizer.zero_grad(set_to_none=True)
    with autocast if autocast is not None else contextlib.nullcontext():
        out = forward(batch["clip"], heads=heads, flow_pairs=flow_pairs)
    terms = joint_loss(
        out,
        batch["label"],
        batch.get("flow"),
        batch.get("landmarks"),
        weights or LossWeights(),
        flow_pairs,
        batch.get("landmark_mask"),
    )
    scaler.scale(terms.total).backward()
    scaler.step(optimizer)
    scaler.update()
    return terms


def autocast_for(config: TrainConfig, device: torch.device):
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.precision)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def device_for(config: TrainConfig) -> torch.device:
    device = torch.device(config.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device cuda was asked for but torch.cuda.is_available() is False")
        if "LOCAL_RANK" in os.environ and device.index is None:
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def flow_pairs_for_step(config: TrainConfig, seed: int, step: int) -> torch.Tensor | None:
    """The frame pairs whose flow step ``step`` supervises: None for all 7, else ``flow_pairs``
    of them drawn uniformly without replacement, a function of (seed, step) alone so that a
    resumed run draws what an uninterrupted one would."""
    total = CLIP_FRAMES - 1
    if config.flow_pairs >= total:
        return None
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randperm(total, generator=g)[: config.flow_pairs].sort().values


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of step ``step`` (0-based): a function of the step alone, so a resumed run
    needs no scheduler state. Linear warm-up over ``warmup_steps``, then constant or cosine decay."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_decay == "cosine":
        span = max(config.steps - config.warmup_steps, 1)
        return config.lr * 0.5 * (1 + math.cos(math.pi * (step - config.warmup_steps) / span))
    return config.lr


def trains_in_train_mode(config: TrainConfig, step: int, batches_per_epoch: int) -> bool:
    """Whether step ``step`` (0-based) runs in train mode. With ``eval_mode_after_epochs`` n > 0,
    steps from epoch n on run in eval mode (BatchNorm running statistics frozen, dropout off),
    as the reference does from its second epoch (n = 1)."""
    n = config.eval_mode_after_epochs
    return n == 0 or step < n * batches_per_epoch


def random_state(device: torch.device) -> dict:
    """The random generators training draws from (dropout): the CPU's, and the GPU's on CUDA."""
    state = {"rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
