import itertools

import pytest
import torch

from mol.train.sampling import EpochBatchSampler


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_each_epoch_is_a_fresh_permutation_without_straddling_batches():
    sampler = EpochBatchSampler(size=10, batch_size=3, seed=0)
    batches = take(sampler, 6)  # 3 full batches per epoch, the short fourth dropped
    assert sampler.batches_per_epoch == 3
    epochs = [[pair for b in batches[e * 3 : e * 3 + 3] for pair in b] for e in range(2)]
    for e, pairs in enumerate(epochs):
        assert {ep for ep, _ in pairs} == {e}
        indices = [i for _, i in pairs]
        assert len(set(indices)) == 9 and set(indices) <= set(range(10))
    assert [i for _, i in epochs[0]] != [i for _, i in epochs[1]]


def test_a_stream_started_at_step_n_is_the_tail_of_the_whole_stream():
    whole = take(EpochBatchSampler(size=11, batch_size=4, seed=3), 9)
    for n in (1, 2, 5):
        assert take(EpochBatchSampler(size=11, batch_size=4, seed=3, start=n), 9 - n) == whole[n:]


def test_ranks_split_each_epoch_between_them():
    a = take(EpochBatchSampler(size=9, batch_size=2, seed=1, rank=0, world=2), 2)
    b = take(EpochBatchSampler(size=9, batch_size=2, seed=1, rank=1, world=2), 2)
    seen_a = {i for batch in a for _, i in batch}
    seen_b = {i for batch in b for _, i in batch}
    assert not seen_a & seen_b and len(seen_a) == len(seen_b) == 4


def test_fewer_items_than_a_batch_still_give_one_batch_per_epoch():
    batches = take(EpochBatchSampler(size=3, batch_size=8, seed=0), 2)
    assert [sorted(i for _, i in b) for b in batches] == [[0, 1, 2], [0, 1, 2]]
    assert [b[0][0] for b in batches] == [0, 1]
    with pytest.raises(ValueError):
        EpochBatchSampler(size=0, batch_size=8, seed=0)


def test_the_order_is_that_of_a_shuffling_dataloader_with_the_same_generator():
    for epoch in (0, 3):
        g = torch.Generator().manual_seed(5 * 100003 + epoch)
        loader = torch.utils.data.DataLoader(list(range(23)), 4, shuffle=True, generator=g, drop_last=True)
        expected = [b.tolist() for b in loader]
        assert EpochBatchSampler(size=23, batch_size=4, seed=5).epoch_batches(epoch) == expected


def test_balanced_epochs_draw_every_class_equally_often_and_resume_exactly():
    from collections import Counter

    from mol.train.sampling import balanced_order

    labels = [0] * 12 + [1] * 3 + [2] * 5  # 20 items: 7 places per class
    order = balanced_order(labels, torch.Generator().manual_seed(0))
    counts = Counter(labels[i] for i in order)
    assert counts == {0: 7, 1: 7, 2: 7}
    assert set(i for i in order if labels[i] == 1) == {12, 13, 14}  # the rare class repeats, whole
    assert len(set(i for i in order if labels[i] == 0)) == 7  # the common one: 7 of its 12, no repeats
    assert order != balanced_order(labels, torch.Generator().manual_seed(1))
    sampler = EpochBatchSampler(size=20, batch_size=7, seed=2, labels=labels)
    assert sampler.batches_per_epoch == 3  # 21 places
    whole = take(sampler, 8)
    for n in (1, 4):
        assert take(EpochBatchSampler(size=20, batch_size=7, seed=2, labels=labels, start=n), 8 - n) == whole[n:]
    seen = Counter(labels[i] for batch in whole[:3] for _, i in batch)
    assert seen == {0: 7, 1: 7, 2: 7}
    with pytest.raises(ValueError, match="labels"):
        EpochBatchSampler(size=5, batch_size=2, seed=0, labels=[0, 1])
