"""The reference optimiser (AdamW, lr 1e-4, weight decay 1e-3), in its fastest available form."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float = 1e-4, weight_decay: float = 1e-3
) -> torch.optim.AdamW:
    """AdamW with the fused kernel where this torch build has one for the parameters' device.

    Fused and plain AdamW compute the same update; on a 2-core CPU the fused step on MOL's
    44 M parameters takes ~15 ms instead of ~160 ms. Older torch releases lack a fused CPU
    kernel; then the multi-tensor (foreach) form is used.
    """
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)
