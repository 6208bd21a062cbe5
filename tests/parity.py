"""The golden parity fixture: weights seeded by each key's CRC32, and the fixture's input clip.

Each tensor is drawn from numpy's default generator seeded with the CRC32 of its key, so the
reference and this project rebuild identical weights without sharing a random stream.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import torch

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "parity"


def official_keys(num_classes: int) -> list[tuple[str, tuple[int, ...]]]:
    entries = json.loads((FIXTURE_DIR / f"official_keys_cls{num_classes}.json").read_text())
    return [(key, tuple(int(s) for s in shape)) for key, shape, _dtype in entries]


def fixture_tensor(key: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    if key.endswith("running_var"):
        return rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
    if key.endswith("running_mean") or len(shape) <= 1:
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def official_state_dict(num_classes: int) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(fixture_tensor(key, shape)) for key, shape in official_keys(num_classes)}


def fixture_clip(batch: int = 2, frames: int = 8, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(20250617)
    return rng.standard_normal((batch, 1, frames, size, size)).astype(np.float32)


def expected_outputs() -> dict[str, np.ndarray]:
    with np.load(FIXTURE_DIR / "expected.npz") as data:
        return {k: data[k] for k in data.files}
