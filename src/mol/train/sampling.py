"""The training batch stream: endless, seeded per epoch, resumable from a step, DDP-aware."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from mol.errors import ConfigError


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches of ``(epoch, index)`` pairs for a dataset of ``size`` items.

    Each epoch is a fresh permutation seeded by (seed, epoch), identical on every rank; a rank
    takes every ``world``-th item (the permutation padded by wrapping to a multiple of
    ``world``). Batches do not straddle epochs; the last short batch of an epoch is dropped
    unless it would be the only one. Carrying the epoch inside each index lets the dataset
    pick that epoch's augmentation in persistent loader workers. Batch ``n`` of the stream
    depends only on (seed, rank, world, n), so a run resumed at step n sees what an
    uninterrupted run would: start it with ``start=n``.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, start: int = 0) -> None:
        if size < 1 or batch_size < 1:
            raise ConfigError(f"need at least one item and a batch size ≥ 1, got {size} items, batch {batch_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world, self.start = rank, world, start
        per_rank = -(-size // world)
        self.batches_per_epoch = max(per_rank // batch_size, 1)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        # the order a DataLoader(shuffle=True, generator=g) gives, which first draws its workers'
        # base seed from g: runs made before this sampler existed are reproduced exactly
        torch.empty((), dtype=torch.int64).random_(generator=g)
        order = torch.randperm(self.size, generator=g).tolist()
        if self.world > 1:
            padded = order + order[: (-len(order)) % self.world]
            order = padded[self.rank :: self.world]
        b = self.batch_size
        return [order[i : i + b] for i in range(0, len(order), b)][: self.batches_per_epoch]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, skip = divmod(self.start, self.batches_per_epoch)
        while True:
            for batch in self.epoch_batches(epoch)[skip:]:
                yield [(epoch, i) for i in batch]
            epoch, skip = epoch + 1, 0
