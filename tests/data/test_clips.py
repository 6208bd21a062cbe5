"""Clips from a prepared cache: sampling, crops, landmark shifts, flips, normalisation."""

import numpy as np
import pytest
import torch

from mol.data.cache import Cache
from mol.data.clips import EVAL_OFFSET, MIRROR_68, ClipDataset, normalize_frames, pixel_statistics, to_model_inputs
from mol.data.prepare import prepare

from fakes import casme2_tree


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = casme2_tree(tmp_path_factory.mktemp("raw"), [(1, "EP01_01", "happiness", 50)], frames=19)
    out = tmp_path_factory.mktemp("c") / "c.h5"
    prepare("casme2", root, out, flow="farneback", progress=False)
    return Cache(out)


def test_reference_sampling_and_shapes(cache):
    ds = ClipDataset(cache)
    assert len(ds) == 2  # 19 frames: stride 2, clips at offsets 0 and 1
    item = ds[1]
    assert item["clip"].shape == (1, 8, 128, 128) and item["clip"].dtype == torch.float32
    assert item["flow"].shape == (2, 128, 128, 7) and item["landmarks"].shape == (136, 7)
    g = cache.group(cache.videos[0].key)
    frames = g["frames"][()]
    o = EVAL_OFFSET
    expected = normalize_frames(frames[[1, 3, 5, 7, 9, 11, 13, 15], o : o + 128, o : o + 128])
    torch.testing.assert_close(item["clip"][0], expected)
    # pair k of clip 1 is the flow from frame 1 + 2k to 3 + 2k, stored at index 1 + 2k
    flows = g["flows"][()].astype(np.float32)
    torch.testing.assert_close(
        item["flow"][:, :, :, 2], torch.from_numpy(flows[5, o : o + 128, o : o + 128].transpose(2, 0, 1))
    )
    lm = g["landmarks"][()]
    torch.testing.assert_close(item["landmarks"][:, 0].view(68, 2), torch.from_numpy(lm[3] - o))


def test_training_crops_shift_landmarks_once(cache):
    ds = ClipDataset(cache, train=True, seed=3)
    lm = cache.group(cache.videos[0].key)["landmarks"][()]
    for epoch in range(4):  # repeated reads never accumulate offsets
        ds.set_epoch(epoch)
        item = ds[0]
        offset = torch.from_numpy(lm[2]) - item["landmarks"][:, 0].view(68, 2)
        assert torch.allclose(offset, offset[0].expand_as(offset))
        assert 0 <= offset[0, 0] <= 16 and 0 <= offset[0, 1] <= 16
    ds.set_epoch(1)
    first = ds[0]["clip"]
    torch.testing.assert_close(ds[0]["clip"], first)  # deterministic per (seed, epoch, index)


def test_flip_mirrors_frames_flow_and_landmarks(cache):
    plain = ClipDataset(cache)[0]
    flipped_ds = ClipDataset(cache, train=True, flip=True, seed=0)
    flipped_ds._augmentation = lambda index, epoch=None: (EVAL_OFFSET, EVAL_OFFSET, True)  # flip at the eval crop
    assert any(ClipDataset(cache, train=True, flip=True, seed=s)._augmentation(0)[2] for s in range(10))
    item = flipped_ds[0]
    torch.testing.assert_close(item["clip"], plain["clip"].flip(-1))
    torch.testing.assert_close(item["flow"][0], -plain["flow"][0].flip(-2))
    torch.testing.assert_close(item["flow"][1], plain["flow"][1].flip(-2))
    lm, ref = item["landmarks"].view(68, 2, 7), plain["landmarks"].view(68, 2, 7)
    torch.testing.assert_close(lm[:, 0], 127 - ref[MIRROR_68, 0])
    torch.testing.assert_close(lm[:, 1], ref[MIRROR_68, 1])
    assert sorted(MIRROR_68) == list(range(68)) and all(MIRROR_68[MIRROR_68] == np.arange(68))


def test_normalisation_is_fixed():
    x = normalize_frames(np.array([0, 127, 255], dtype=np.uint8))
    torch.testing.assert_close(x, torch.tensor([-1.0, -0.5 / 127.5, 1.0]))


def test_dataloader_workers_open_their_own_handle(cache):
    loader = torch.utils.data.DataLoader(ClipDataset(cache, train=True), batch_size=2, num_workers=2)
    batch = next(iter(loader))
    assert batch["clip"].shape == (2, 1, 8, 128, 128) and batch["label"].tolist() == [1, 1]


def test_crop_jitter_sets_the_training_crop_range(cache):
    centred = ClipDataset(cache, train=True, crop_jitter=0)
    torch.testing.assert_close(centred[0]["clip"], ClipDataset(cache)[0]["clip"])
    narrow = ClipDataset(cache, train=True, crop_jitter=2, seed=5)
    offsets = {narrow._augmentation(i)[:2] for i in range(len(narrow))}
    assert all(6 <= o <= 10 for pair in offsets for o in pair)
    with pytest.raises(ValueError, match="crop_jitter"):
        ClipDataset(cache, train=True, crop_jitter=9)


def test_raw_items_finished_on_the_device_equal_finished_items(cache):
    finished = ClipDataset(cache, train=True, flip=True, seed=1)
    raw = ClipDataset(cache, train=True, flip=True, seed=1, raw=True)
    indices = list(range(len(raw)))
    assert any(finished._augmentation(i)[2] for i in indices) and not all(finished._augmentation(i)[2] for i in indices)
    item = raw[0]
    assert item["clip"].dtype == torch.uint8 and item["flow"].dtype == torch.float16
    assert item["flow"].shape == (7, 128, 128, 2) and item["landmarks"].shape == (7, 68, 2)
    batch = to_model_inputs(torch.utils.data.default_collate([raw[i] for i in indices]), "cpu")
    for k in ("clip", "flow", "landmarks"):
        torch.testing.assert_close(batch[k], torch.stack([finished[i][k] for i in indices]), rtol=0, atol=0)
    assert batch["clip"].shape == (len(indices), 1, 8, 128, 128) and batch["flow"].shape[1:] == (2, 128, 128, 7)


def test_an_epoch_index_pair_gives_that_epochs_augmentation(cache):
    ds = ClipDataset(cache, train=True, flip=True, seed=2)
    ds.set_epoch(3)
    expected = [ds[i]["clip"] for i in range(len(ds))]
    ds.set_epoch(0)
    got = [ds[(3, i)]["clip"] for i in range(len(ds))]
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(ds[i]["clip"], e) for i, e in enumerate(expected))  # epoch 0 differs


def test_subject_normalisation_uses_each_subjects_own_frame_statistics(tiny_synthetic_cache):
    cache = Cache(tiny_synthetic_cache)
    ds = ClipDataset(cache, normalize="subject")
    raw = ClipDataset(cache, normalize="subject", raw=True)
    seen = {}
    for i in range(len(ds)):
        entry = cache.videos[ds.refs[i].video]
        if entry.subject in seen:
            continue
        frames = np.concatenate(
            [cache.group(v.key)["frames"][()] for v in cache.videos if v.subject == entry.subject]
        ).astype(np.float64)
        mean, std = frames.mean(), frames.std()
        seen[entry.subject] = mean
        ref = ds.refs[i]
        o = EVAL_OFFSET
        picked = cache.group(entry.key)["frames"][list(ref.frames), o : o + 128, o : o + 128]
        expected = torch.from_numpy(((picked - mean) / std).astype(np.float32))
        torch.testing.assert_close(ds[i]["clip"][0], expected, rtol=1e-5, atol=1e-5)
        batch = to_model_inputs(torch.utils.data.default_collate([raw[i]]), "cpu")
        torch.testing.assert_close(batch["clip"][0], ds[i]["clip"], rtol=1e-6, atol=1e-6)
    assert len(seen) == 3 and len({round(m, 3) for m in seen.values()}) == 3  # the subjects do differ
    with pytest.raises(ValueError, match="normalize"):
        ClipDataset(cache, normalize="video")


def test_several_test_crops_show_every_clip_at_random_offsets(tiny_synthetic_cache):
    cache = Cache(tiny_synthetic_cache)
    single = ClipDataset(cache, [0])
    five = ClipDataset(cache, [0], eval_crops=5, seed=4)
    assert len(five) == 5 * len(single)
    items = [five[i] for i in range(5)]
    assert {(it["video"], it["start"]) for it in items} == {(single[0]["video"], single[0]["start"])}
    offsets = [five._augmentation(i)[:2] for i in range(5)]
    assert all(0 <= o <= 2 * EVAL_OFFSET for pair in offsets for o in pair) and len(set(offsets)) > 1
    again = ClipDataset(cache, [0], eval_crops=5, seed=4)
    torch.testing.assert_close(again[3]["clip"], items[3]["clip"])  # the same crops every time
    assert len(ClipDataset(cache, [0], train=True, eval_crops=5)) == len(single)  # training ignores it


def test_items_mark_the_frames_whose_landmarks_were_borrowed(tiny_synthetic_cache, tmp_path):
    import shutil

    import h5py

    copy = tmp_path / "borrowed.h5"
    shutil.copy(tiny_synthetic_cache, copy)
    first = Cache(copy).videos[0]
    with h5py.File(copy, "r+") as f:
        found = f["videos"][first.key]["face_found"]
        values = found[()]
        values[first.flow_stride * 3] = False  # frame 3 of clip 0 (frames 0, s, 2s, ...)
        found[...] = values
    item = ClipDataset(Cache(copy), [0])[0]
    assert item["landmark_mask"].tolist() == [True, True, False, True, True, True, True]  # frames 1..7
    batch = to_model_inputs(torch.utils.data.default_collate([ClipDataset(Cache(copy), [0], raw=True)[0]]), "cpu")
    assert batch["landmark_mask"].shape == (1, 7)


def test_pixel_statistics_of_an_array_or_frames_one_at_a_time():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 12, 12), dtype=np.uint8)
    expected = (frames.mean(), frames.std())
    np.testing.assert_allclose(pixel_statistics(frames), expected)
    np.testing.assert_allclose(pixel_statistics(f for f in frames), expected)
    assert pixel_statistics(np.full((2, 4, 4), 9, np.uint8)) == (9.0, 1.0)  # flat: scale 1, not 0


def test_onset_apex_sampling_takes_one_clip_from_onset_to_apex_with_its_flows(tiny_synthetic_cache, tmp_path):
    import shutil

    import h5py

    from mol.data.cache import CacheError

    cache = Cache(tiny_synthetic_cache)
    ds = ClipDataset(cache, sampling="onset_apex", raw=True)
    assert len(ds) == len(cache.videos)  # one clip per video
    o = EVAL_OFFSET
    for i in (0, len(ds) - 1):
        entry = cache.videos[ds.refs[i].video]
        frames_at = list(entry.onset_apex_frames)
        g = cache.group(entry.key)
        item = ds[i]
        np.testing.assert_array_equal(item["clip"].numpy(), g["frames"][()][frames_at, o : o + 128, o : o + 128])
        np.testing.assert_array_equal(item["flow"].numpy(), g["onset_apex_flows"][:, o : o + 128, o : o + 128])
        np.testing.assert_allclose(item["landmarks"].numpy(), g["landmarks"][()][frames_at[1:]] - o)
        assert item["start"] == frames_at[0]
    with pytest.raises(ValueError, match="clip sampling"):
        ClipDataset(cache, sampling="apex")
    copy = tmp_path / "old.h5"
    shutil.copy(tiny_synthetic_cache, copy)
    with h5py.File(copy, "r+") as f:
        del f["videos"][cache.videos[1].key].attrs["onset_apex_frames"]  # as an older mol made it
    with pytest.raises(CacheError, match=f"{cache.videos[1].key}.*mol prepare"):
        ClipDataset(Cache(copy), sampling="onset_apex")


def test_labels_are_the_items_labels_without_reading_frames(tiny_synthetic_cache):
    cache = Cache(tiny_synthetic_cache)
    for ds in (ClipDataset(cache, raw=True), ClipDataset(cache, raw=True, eval_crops=2, sampling="onset_apex")):
        assert ds.labels() == [ds[i]["label"] for i in range(len(ds))]
