"""Cost of building one training batch in the main process, this code against an older one.

    python benchmarks/loader_batches.py CACHE.h5 new [THREADS]
    PYTHONPATH=/path/to/old-checkout/src python benchmarks/loader_batches.py CACHE.h5 old [THREADS]

"new": compact raw items, collated, then `to_model_inputs` (what `mol train` does now);
"old": the finished float32 items of commits before 2026-11-26's data-path change, collated.
Prints the median over 10 batches of 32 (after 2 warm-up batches).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from torch.utils.data import default_collate

from mol.data.clips import ClipDataset

BATCH = 32


def main() -> None:
    cache, mode = sys.argv[1], sys.argv[2]
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    if mode == "new":
        from mol.data.clips import to_model_inputs

        dataset = ClipDataset(cache, train=True, flip=True, raw=True)

        def batch(indices: list[int]) -> dict:
            return to_model_inputs(default_collate([dataset[i] for i in indices]), "cpu")
    else:
        dataset = ClipDataset(cache, train=True, flip=True)

        def batch(indices: list[int]) -> dict:
            return default_collate([dataset[i] for i in indices])

    times = []
    for k in range(12):
        indices = [(k * BATCH + j) % len(dataset) for j in range(BATCH)]
        start = time.perf_counter()
        out = batch(indices)
        times.append(time.perf_counter() - start)
    median = statistics.median(times[2:])
    print(
        f"{mode}: {median * 1e3:.0f} ms per batch of {BATCH} = {BATCH / median:.0f} clips/s in one process, "
        f"{torch.get_num_threads()} threads; flow {tuple(out['flow'].shape)} {out['flow'].dtype}"
    )


if __name__ == "__main__":
    main()
