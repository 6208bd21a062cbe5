"""The training batch stream: endless, seeded per epoch, resumable from a step, DDP-aware."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from mol.errors import ConfigError


def balanced_order(labels: Sequence[int], generator: torch.Generator) -> list[int]:
    """One epoch of item indices with every class equally often: each of the C classes present
    fills ⌈n / C⌉ places, its items in a random order, repeated as often as a rare class needs
    (a common class's surplus waits for a later epoch's draw); then all places are shuffled."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    per_class = -(-len(labels) // len(by_class))
    order = []
    for label in sorted(by_class):
        items = by_class[label]
        drawn: list[int] = []
        while len(drawn) < per_class:
            drawn += [items[j] for j in torch.randperm(len(items), generator=generator).tolist()]
        order += drawn[:per_class]
    return [order[j] for j in torch.randperm(len(order), generator=generator).tolist()]


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches of ``(epoch, index)`` pairs for a dataset of ``size`` items.

    Each epoch is a fresh permutation seeded by (seed, epoch), identical on every rank; a rank
    takes every ``world``-th item (the permutation padded by wrapping to a multiple of
    ``world``). Batches do not straddle epochs; the last short batch of an epoch is dropped
    unless it would be the only one. Carrying the epoch inside each index lets the dataset
    pick that epoch's augmentation in persistent loader workers. Batch ``n`` of the stream
    depends only on (seed, rank, world, n), so a run resumed at step n sees what an
    uninterrupted run would: start it with ``start=n``. Given the items' ``labels``, each epoch
    is a class-balanced draw instead (:func:`balanced_order`).
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        start: int = 0,
        labels: Sequence[int] | None = None,
    ) -> None:
        if size < 1 or batch_size < 1:
            raise ConfigError(f"need at least one item and a batch size ≥ 1, got {size} items, batch {batch_size}")
        if labels is not None and len(labels) != size:
            raise ConfigError(f"{len(labels)} labels for {size} items")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world, self.start = rank, world, start
        self.labels = labels
        classes = 1 if labels is None else len(set(labels))
        epoch_size = classes * -(-size // classes)  # balanced: every class fills ⌈size / classes⌉ places
        per_rank = -(-epoch_size // world)
        self.batches_per_epoch = max(per_rank // batch_size, 1)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        # the order a DataLoader(shuffle=True, generator=g) gives, which first draws its workers'
        # base seed from g: runs made before this sampler existed are reproduced exactly
        torch.empty((), dtype=torch.int64).random_(generator=g)
        if self.labels is None:
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = balanced_order(self.labels, g)
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
