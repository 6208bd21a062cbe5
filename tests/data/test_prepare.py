"""`mol prepare` end to end on a small CASME II-like tree built from a real face photo."""

import json
import tracemalloc

import h5py
import numpy as np
import pytest

from mol.cli import main
from mol.constants import ALIGNED_SIZE
from mol.data.apex import onset_apex_frames, onset_apex_indices, onset_apex_pairs
from mol.data.cache import FORMAT_VERSION, Cache, CacheError
from mol.data.flow import compute_flow
from mol.data.prepare import prepare, process_video
from mol.data.records import VideoRecord

from fakes import casme2_tree, face_frames, write_video

OPTIONS_DIS = {"align": "per-frame", "flow": "dis", "size": 144}

VIDEOS = [
    (1, "EP01_01", "happiness", 48),
    (1, "EP01_02", "Surprise", "/"),
    (2, "EP02_01", "others", 50),
    (2, "EP02_02", "sadness", 50),  # not in the 5-class scheme: skipped and reported
    (3, "MISSING_01", "disgust", 50),  # sheet row whose folder is missing
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return casme2_tree(tmp_path_factory.mktemp("casme2"), VIDEOS, frames=17)


@pytest.fixture(scope="module")
def prepared(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "casme2.h5"
    report = prepare("casme2", dataset, out, flow="dis", progress=False)
    return out, report


def test_cache_contents_and_attributes(prepared):
    out, _ = prepared
    cache = Cache(out)
    assert cache.classes == ["surprise", "happiness", "disgust", "repression", "others"]
    assert cache.options["flow"] == "dis" and cache.options["align"] == "per-frame"
    by_id = {v.video_id: v for v in cache.videos}
    assert set(by_id) == {"EP01_01", "EP01_02", "EP02_01"}
    v = by_id["EP01_01"]
    assert (v.subject, v.label, v.emotion, v.onset, v.apex, v.num_frames, v.flow_stride) == (
        "sub01",
        1,
        "happiness",
        46,
        48,
        17,
        2,
    )
    assert by_id["EP01_02"].apex == -1 and by_id["EP01_02"].label == 0
    assert v.action_units == "AU4"  # the sheet's cell, as written: fine-tuning reads it (class_init)
    g = cache.group(v.key)
    assert g["frames"].shape == (17, 144, 144) and g["frames"].dtype == np.uint8
    assert g["landmarks"].shape == (17, 68, 2) and g["flows"].shape == (14, 144, 144, 2)
    assert g["flows"].dtype == np.float16 and g.attrs["fps"] == 200


def test_the_onset_to_apex_clip_and_its_flows_are_stored(prepared):
    cache = Cache(prepared[0])
    for v in cache.videos:  # EP01_01 has an apex; EP01_02's is "/" (the middle of the clip instead)
        onset, apex, _ = onset_apex_indices(v)
        assert list(v.onset_apex_frames) == onset_apex_frames(onset, apex)
        g = cache.group(v.key)
        frames, stored = g["frames"][()], g["onset_apex_flows"][()]
        assert stored.shape == (7, 144, 144, 2) and stored.dtype == np.float16
        for k, (i, j) in enumerate(onset_apex_pairs(onset, apex)):
            expected = np.zeros((144, 144, 2)) if i == j else compute_flow(frames[i], frames[j], "dis")
            np.testing.assert_allclose(stored[k], expected, atol=2e-2)


def test_report_lists_every_video_with_a_reason(prepared):
    out, _ = prepared
    data = json.loads(out.with_name("casme2.h5.report.json").read_text())
    reasons = {row["key"]: row["reason"] for row in data["videos"] if row["status"] == "skipped"}
    assert any("MISSING_01" in k and "folder missing" in r for k, r in reasons.items())
    assert any("EP02_02" in k and "sadness" in r for k, r in reasons.items())
    summary = data["summary"]
    assert summary["videos_stored"] == 3 and summary["flow_calls"] == 3 * 14
    assert summary["reference_flow_calls"] == 5 * summary["flow_calls"]
    assert out.with_name("casme2.h5.report.csv").read_text().count("\n") == 1 + 5
    assert not out.with_name("casme2.h5.parts").exists()


def test_rerun_resumes_and_keeps_what_is_stored(prepared, dataset):
    out, _ = prepared
    before = Cache(out).group(Cache(out).videos[0].key)["frames"][()]
    report = prepare("casme2", dataset, out, flow="dis", progress=False)
    assert {r["status"] for r in report.rows} == {"kept", "skipped"}
    np.testing.assert_array_equal(Cache(out).group(Cache(out).videos[0].key)["frames"][()], before)


def test_interrupted_run_resumes_from_its_shards(dataset, tmp_path, monkeypatch):
    out = tmp_path / "c.h5"
    import mol.data.prepare as prep

    calls = []
    real = prep.process_video

    def dies_on_third(record, *args):
        calls.append(record.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(record, *args)

    monkeypatch.setattr(prep, "process_video", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        prepare("casme2", dataset, out, flow="dis", progress=False)
    assert not out.exists() and len(list(out.with_name("c.h5.parts").glob("*.h5"))) == 2
    monkeypatch.setattr(prep, "process_video", real)
    report = prepare("casme2", dataset, out, flow="dis", progress=False)
    assert sorted(r["status"] for r in report.rows if r["status"] != "skipped") == ["kept", "kept", "stored"]
    assert len(Cache(out).videos) == 3


def test_other_options_or_versions_are_refused(prepared, dataset, tmp_path):
    out, _ = prepared
    with pytest.raises(CacheError, match="other options"):
        prepare("casme2", dataset, out, flow="farneback", progress=False)
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:
        f.attrs["format"] = "mol-cache"
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(CacheError, match="format version"):
        Cache(old)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(out.read_bytes()[:4096])
    with pytest.raises(CacheError, match="truncated"):
        Cache(truncated)


def test_parallel_workers_give_the_same_cache(dataset, prepared, tmp_path):
    out = tmp_path / "parallel.h5"
    prepare("casme2", dataset, out, flow="dis", workers=2, progress=False)
    serial, parallel = Cache(prepared[0]), Cache(out)
    assert [v.key for v in serial.videos] == [v.key for v in parallel.videos]
    key = serial.videos[2].key
    np.testing.assert_array_equal(serial.group(key)["flows"][()], parallel.group(key)["flows"][()])


def test_cli_prepare_and_its_errors(dataset, tmp_path, capsys):
    out = tmp_path / "cli.h5"
    assert (
        main(["prepare", "--dataset", "casme2", "--root", str(dataset), "--out", str(out), "--flow", "dis", "--quiet"])
        == 0
    )
    text = capsys.readouterr().out
    assert "videos stored: 3" in text and "MISSING_01" in text
    assert main(["prepare", "--dataset", "samm", "--root", str(dataset), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mol prepare: error:") and "--sheet" in err


def test_onset_alignment_uses_the_sheets_onset_and_records_it(tmp_path):
    import pandas as pd

    root = casme2_tree(tmp_path / "raw", [(1, "EP01_01", "happiness", 55)], frames=17)  # frames 46..62
    sheet = root / "CASME2-coding-20140508.xlsx"
    table = pd.read_excel(sheet)
    table["OnsetFrame"] = 50  # the fifth frame file
    table.to_excel(sheet, index=False)
    report = prepare("casme2", root, tmp_path / "c.h5", flow="dis", align="onset", progress=False)
    row = next(r for r in report.rows if r["status"] == "stored")
    assert row["aligned_on"] == "frame 4 (annotated onset)"
    cache = Cache(tmp_path / "c.h5")
    assert int(cache.group(cache.videos[0].key).attrs["align_reference"]) == 4


def _peak_bytes(run) -> int:
    """Peak of the memory Python and NumPy allocate while ``run()`` runs."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_videos_length(tmp_path):
    """A video 4x longer needs no more memory than its landmarks: frames are decoded, aligned and
    written, and flows computed and written, one at a time (an aligned frame is 20.7 kB, its
    flow 83 kB; a 10-minute 1080p video decoded at once would be ~37 GB)."""
    peaks = {}
    for length in (24, 24, 96):  # the first run loads the face models: not counted
        video = write_video(tmp_path / f"v{length}.avi", face_frames(length), fps=100)
        record = VideoRecord("casme2", "sub01", f"v{length}", "happiness", video, fps=100)
        shard = tmp_path / f"v{length}.h5"
        peaks[length] = _peak_bytes(lambda: process_video(record, 1, OPTIONS_DIS, shard))  # noqa: B023
    with h5py.File(shard) as f:  # the 96-frame video, whole
        assert f["frames"].shape == (96, 144, 144) and f["flows"].shape[0] == 7 * (96 // 8)
    per_frame = (peaks[96] - peaks[24]) / 72
    # holding every aligned frame would cost ALIGNED_SIZE² bytes a frame
    assert per_frame < ALIGNED_SIZE**2 / 2, f"{per_frame:.0f} bytes more per frame"


def test_the_summary_names_the_reports_with_their_folder(tmp_path):
    from mol.data.prepare import PrepareReport, format_summary

    cache = tmp_path / "nodir" / "x.h5"
    text = format_summary(PrepareReport(cache))
    assert f"report: {cache}.report.json, {cache}.report.csv" in text


def test_an_out_that_cannot_be_made_beside_a_real_root_is_one_line(tmp_path, capsys):
    from mol.cli import main

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    root = tmp_path / "root"
    root.mkdir()
    assert main(["prepare", "--dataset", "casme2", "--root", str(root), "--out", str(a_file / "x.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Errno" not in err and str(a_file) in err
