"""The hardware floor of one training clip: FLOPs and bytes per clip, over a chip's peaks.

Counts, on the CPU at batch 2 in float32, the floating-point work of one training step
(forward, joint loss, backward; torch.utils.flop_counter counts convolutions and matrix
products) and the bytes every operation writes (each written tensor is read at least once
more, so traffic ≥ 2 × written). Prints one JSON line per chip: the clips/s a step could reach
if it ran at the chip's peak arithmetic (bf16 dense) or at its peak memory bandwidth.

    python benchmarks/floor.py
"""

from __future__ import annotations

import collections
import json

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from mol.bench import synthetic_batch
from mol.model.mol import MOL
from mol.train.losses import joint_loss

BATCH = 2
# vendor datasheet peaks: dense bf16 tensor FLOP/s, HBM bytes/s
CHIPS = {
    "H100 SXM": (989e12, 3.35e12),
    "H100 PCIe": (756e12, 2.0e12),
    "H200": (989e12, 4.8e12),
}


class BytesWritten(TorchDispatchMode):
    """Sums the bytes of every new tensor an operation returns, per operation. Outputs that
    share storage with an input (views, in-place results) write nothing new."""

    def __init__(self) -> None:
        super().__init__()
        self.by_op: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {
            t.untyped_storage().data_ptr()
            for t in torch.utils._pytree.tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
        }
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:
                self.by_op[func.__name__.split(".")[0]] += t.numel() * t.element_size()
        return out


def main() -> None:
    torch.manual_seed(0)
    model = MOL(num_classes=5).train()
    data = synthetic_batch(BATCH, 5, torch.device("cpu"))

    def step() -> None:
        out = model(data["clip"])
        joint_loss(out, data["label"], data["flow"], data["landmarks"]).total.backward()

    with FlopCounterMode(display=False) as flops:
        step()
    model.zero_grad(set_to_none=True)
    with BytesWritten() as written:
        step()
    flop_per_clip = flops.get_total_flops() / BATCH
    bytes_fp32 = sum(written.by_op.values()) / BATCH
    bytes_bf16 = bytes_fp32 / 2  # activations in bf16 under autocast (an upper bound on the saving)
    for chip, (peak_flops, bandwidth) in CHIPS.items():
        print(
            json.dumps(
                {
                    "chip": chip,
                    "gflop_per_clip": round(flop_per_clip / 1e9, 2),
                    "written_mib_per_clip_fp32": round(bytes_fp32 / 2**20, 1),
                    "compute_floor_clips_s_bf16": round(peak_flops / flop_per_clip),
                    "bandwidth_floor_clips_s_bf16": round(bandwidth / (2 * bytes_bf16)),
                    "bandwidth_floor_clips_s_fp32": round(bandwidth / (2 * bytes_fp32)),
                    "top_writers_mib_per_clip": {
                        op: round(b / BATCH / 2**20, 1) for op, b in written.by_op.most_common(8)
                    },
                    "torch": torch.__version__,
                }
            )
        )


if __name__ == "__main__":
    main()
