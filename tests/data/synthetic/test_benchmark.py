"""The benchmark: two parts with different people, a digest that pins the bytes, resumable."""

import json

import h5py
import pytest

from mol.data.synthetic.benchmark import BENCHMARK_FILE, PARTS, SCALES, part_config, tree_digest, write_benchmark

TINY = {"size": 128, "duration": (0.04, 0.05), "clips_per_class": 1, "jpeg_quality": 50}


def faces_of(root):
    with h5py.File(root / "ground_truth.h5", "r") as gt:
        return {gt[s][v].attrs["face"] for s in gt for v in gt[s]}


def test_parts_are_disjoint_in_people_and_pinned_by_digest(tmp_path):
    manifest = write_benchmark(tmp_path / "a", progress=False, **TINY)
    dev, test = (faces_of(tmp_path / "a" / part) for part in ("dev", "test"))
    assert dev == set(PARTS["dev"]["people"]) and test == set(PARTS["test"]["people"])
    assert not dev & test and len(dev) + len(test) == 6
    saved = json.loads((tmp_path / "a" / BENCHMARK_FILE).read_text())
    assert saved == manifest and saved["version"] >= 1
    for part in PARTS:
        assert saved["parts"][part]["sha256"] == tree_digest(tmp_path / "a" / part)
        assert saved["parts"][part]["videos"] == 5 * len(PARTS[part]["people"])  # TINY: 1 clip per class
    again = write_benchmark(tmp_path / "b", progress=False, **TINY)  # same version: same bytes
    assert again == manifest


def test_rerun_keeps_complete_parts_and_redoes_damaged_ones(tmp_path):
    write_benchmark(tmp_path, progress=False, **TINY)
    frame = next((tmp_path / "dev").rglob("*.jpg"))
    stamp = next((tmp_path / "test").rglob("*.jpg")).stat().st_mtime_ns
    frame.write_bytes(b"damaged")
    write_benchmark(tmp_path, progress=False, **TINY)
    assert frame.read_bytes()[:2] == b"\xff\xd8"  # regenerated as a JPEG
    assert next((tmp_path / "test").rglob("*.jpg")).stat().st_mtime_ns == stamp  # kept


def test_sizes_and_bad_names():
    assert part_config("test", "large").clips_per_class == SCALES["large"]["test"]
    assert 200 <= 5 * SCALES["large"]["test"] * len(PARTS["test"]["people"]) <= 300  # about CASME II's 255 videos
    with pytest.raises(ValueError, match="unknown benchmark part"):
        part_config("train")
    with pytest.raises(ValueError, match="unknown benchmark scale"):
        part_config("dev", "huge")
