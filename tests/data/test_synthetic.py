"""Synthetic micro-expressions: determinism, exact ground truth that agrees with the frames,
and labels carried by motion rather than by appearance."""

import cv2
import numpy as np
import pytest

from mol.cli import main
from mol.data.cache import Cache
from mol.data.prepare import prepare
from mol.data.synthetic import (
    SCHEME_EMOTIONS,
    GroundTruth,
    SynthConfig,
    aligned_ground_truth,
    exact_flow,
    generate_dataset,
    inverse_map,
    sample_field,
)

SMALL = {"subjects": 2, "clips_per_class": 1, "size": 160, "length": (24, 28)}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, SynthConfig(**SMALL), progress=False)
    return out


def test_same_seed_same_bytes(small_set, tmp_path):
    again = tmp_path / "again"
    generate_dataset(again, SynthConfig(**SMALL), progress=False)
    files = sorted(p.relative_to(small_set) for p in small_set.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((small_set / f).read_bytes() == (again / f).read_bytes() for f in files)
    other = tmp_path / "other"
    generate_dataset(other, SynthConfig(**{**SMALL, "seed": 1}), progress=False)
    assert (other / files[0]).read_bytes() != (small_set / files[0]).read_bytes() or len(files) < 2


def test_layout_is_read_like_casme2(small_set):
    report = prepare("casme2", small_set, small_set.parent / "dis.h5", flow="dis", progress=False)
    assert len(report.stored) == 2 * 5 and not report.skipped
    cache = Cache(small_set.parent / "dis.h5")
    assert sorted({v.emotion for v in cache.videos}) == sorted(SCHEME_EMOTIONS["casme2-5"])
    assert all(24 <= v.num_frames <= 28 and v.apex > v.onset for v in cache.videos)


def test_inverse_map_solves_the_forward_motion():
    rng = np.random.default_rng(0)
    size = 64
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    field = np.stack([np.sin(xs / 9.0) * 1.5, np.cos(ys / 7.0) * 1.2], -1).astype(np.float32)
    p = inverse_map(field)
    residual = p + sample_field(field, p) - np.stack([xs, ys], -1)
    assert np.abs(residual[4:-4, 4:-4]).max() < 1e-3
    pts = rng.uniform(10, 50, (5, 2)).astype(np.float32)
    flow = exact_flow(np.zeros_like(field), field, pts)
    np.testing.assert_allclose(flow, sample_field(field, pts), atol=1e-5)


def test_frames_landmarks_and_flow_agree(small_set):
    truth = GroundTruth(small_set / "ground_truth.h5")
    subject, name = truth.video_keys()[0].split("/")
    video = truth.video(subject, name)
    frames = [
        cv2.imread(str(small_set / "CASME2_RAW_selected" / subject / name / f"img{i + 1}.png"), 0)
        for i in (video.onset, video.apex)
    ]
    flow = video.flow(video.onset, video.apex)
    ys, xs = np.mgrid[0 : video.size, 0 : video.size].astype(np.float32)
    warped = cv2.remap(frames[1].astype(np.float32), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
    lm = video.landmarks[video.onset]
    x0, y0 = lm.min(0).astype(int) + 5
    x1, y1 = lm.max(0).astype(int) - 5
    face = (slice(y0, y1), slice(x0, x1))
    warp_error = np.abs(warped - frames[0])[face].mean()
    still_error = np.abs(frames[1].astype(np.float32) - frames[0])[face].mean()
    assert warp_error < 4.0 and warp_error < 0.8 * still_error
    # landmarks move exactly with the flow
    moved = lm + sample_field(flow, lm)
    np.testing.assert_allclose(moved, video.landmarks[video.apex], atol=0.05)
    truth.close()


def test_prepare_exact_carries_ground_truth_through_alignment(small_set):
    out = small_set.parent / "exact.h5"
    prepare("casme2", small_set, out, flow="exact", progress=False)
    cache = Cache(out)
    entry = cache.videos[0]
    g = cache.group(entry.key)
    frames, flows = g["frames"][()].astype(np.float32), g["flows"][()].astype(np.float32)
    s = entry.flow_stride
    ys, xs = np.mgrid[0:144, 0:144].astype(np.float32)
    n = entry.apex - s if entry.apex >= s else 0
    warped = cv2.remap(frames[n + s], xs + flows[n][..., 0], ys + flows[n][..., 1], cv2.INTER_LINEAR)
    inner = (slice(30, 114), slice(30, 114))
    assert np.abs(warped - frames[n])[inner].mean() < np.abs(frames[n + s] - frames[n])[inner].mean()
    truth = GroundTruth(small_set / "ground_truth.h5")
    video = truth.video(entry.subject, entry.video_id)
    identity = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (len(video.landmarks), 1, 1))
    _, raw_landmarks = aligned_ground_truth(video, identity, [], 144)
    np.testing.assert_allclose(raw_landmarks, video.landmarks, atol=1e-4)


def _ridge_probe(train_x, train_y, test_x, classes, alpha=10.0):
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / std, (test_x - mean) / std
    targets = np.eye(classes)[train_y]
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ targets)
    return (b @ w).argmax(1)


def test_labels_come_from_motion_not_appearance(tmp_path):
    config = SynthConfig(subjects=6, clips_per_class=3, size=128, length=(24, 30), seed=7)
    generate_dataset(tmp_path, config, progress=False)
    truth = GroundTruth(tmp_path / "ground_truth.h5")
    classes = list(SCHEME_EMOTIONS["casme2-5"])
    pixels, motion, labels, subjects = [], [], [], []
    for key in truth.video_keys():
        subject, name = key.split("/")
        video = truth.video(subject, name)
        onset = cv2.imread(str(tmp_path / "CASME2_RAW_selected" / subject / name / f"img{video.onset + 1}.png"), 0)
        pixels.append(cv2.resize(onset, (16, 16), interpolation=cv2.INTER_AREA).ravel().astype(np.float64))
        flow = video.flow(video.onset, video.apex)
        flow = flow - np.median(flow.reshape(-1, 2), axis=0)  # remove the head drift
        motion.append(cv2.resize(flow, (12, 12), interpolation=cv2.INTER_AREA).ravel().astype(np.float64))
        labels.append(classes.index(video.class_name))
        subjects.append(subject)
    pixels, motion, labels, subjects = map(np.array, (pixels, motion, labels, subjects))
    acc = {"pixels": [], "motion": []}
    for held_out in np.unique(subjects):  # leave one subject out
        test = subjects == held_out
        for name, x in (("pixels", pixels), ("motion", motion)):
            pred = _ridge_probe(x[~test], labels[~test], x[test], len(classes))
            acc[name].append((pred == labels[test]).mean())
    chance = 1 / len(classes)
    assert np.mean(acc["pixels"]) < chance + 0.15, acc
    assert np.mean(acc["motion"]) > 0.6, acc


def test_cli_synth_and_bad_face_image(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100), 128, np.uint8))
    assert main(["synth", str(tmp_path / "s"), "--face-image", str(blank), "--quiet"]) == 2
    assert "blank.png: no face found" in capsys.readouterr().err
    assert (
        main(
            [
                "synth",
                str(tmp_path / "ok"),
                "--subjects",
                "1",
                "--clips-per-class",
                "1",
                "--size",
                "128",
                "--scheme",
                "megc-3",
                "--quiet",
            ]
        )
        == 0
    )
    assert "wrote 3 videos" in capsys.readouterr().out
    assert (tmp_path / "ok" / "ground_truth.h5").is_file()


def test_others_never_shares_an_action_unit_with_the_named_emotions():
    from mol.data.synthetic import EMOTION_AUS, others_combinations

    for scheme in ("casme2-5", "samm-5"):
        named = {
            au
            for emotions in SCHEME_EMOTIONS[scheme].values()
            for e in emotions
            if e != "others"
            for combo in EMOTION_AUS[e]
            for au in combo
        }
        combos = others_combinations(scheme)
        assert combos and all(not named & set(c) for c in combos)
