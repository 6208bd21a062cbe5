"""Synthetic micro-expressions: determinism, exact ground truth that agrees with the frames,
and labels carried by motion rather than by appearance."""

import cv2
import numpy as np
import pandas as pd
import pytest

from mol.cli import main
from mol.constants import inter_ocular
from mol.data.cache import Cache
from mol.data.prepare import prepare
from mol.data.synthetic.dataset import generate_dataset, iter_videos, sheet_action_units
from mol.data.synthetic.ground_truth import GroundTruth, aligned_ground_truth
from mol.data.synthetic.motion import SCHEME_EMOTIONS, exact_flow, inverse_map, sample_field
from mol.data.synthetic.photos import FACE_PHOTOS, POOL_PHOTOS, load_face
from mol.data.synthetic.video import SynthConfig, subject_faces

SMALL = {"subjects": 2, "clips_per_class": 1, "size": 160, "duration": (0.12, 0.14)}


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
    frame = next(f for f in files if f.suffix == ".jpg")
    assert (other / frame).read_bytes() != (small_set / frame).read_bytes()


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


def test_warp_onto_shape_carries_each_landmark_to_its_target():
    from mol.data.synthetic.motion import warp_onto_shape
    from mol.data.synthetic.procedural import random_face

    image, landmarks = random_face(np.random.default_rng(3))
    image = cv2.GaussianBlur(image, (0, 0), 2.0)  # smooth, so that bilinear samples compare closely
    np.testing.assert_allclose(warp_onto_shape([(image, landmarks)], landmarks)[0], image, atol=1e-3)
    centre = landmarks.mean(0)
    target = centre + 1.05 * (landmarks - centre) + np.array([2.5, -1.5], np.float32)  # a new face shape
    (warped,) = warp_onto_shape([(image, landmarks)], target)
    # the warped image shows at each target what the image showed at its landmark (the inner face:
    # the jaw's ends may be pushed out of the frame)
    inner = slice(17, 68)
    shown, was = sample_field(warped[..., None], target[inner]), sample_field(image[..., None], landmarks[inner])
    np.testing.assert_allclose(shown, was, atol=1.5)
    assert np.abs(sample_field(warped[..., None], landmarks[inner]) - was).mean() > 2
    last = image.shape[0] - 1
    corners = np.array([[0, 0], [last, 0], [0, last], [last, last]])
    np.testing.assert_allclose(warped[corners[:, 1], corners[:, 0]], image[corners[:, 1], corners[:, 0]], atol=1e-3)


def test_frames_landmarks_and_flow_agree(small_set):
    truth = GroundTruth(small_set / "ground_truth.h5")
    subject, name = truth.video_keys()[0].split("/")
    video = truth.video(subject, name)
    frames = [
        cv2.imread(str(small_set / "CASME2_RAW_selected" / subject / name / f"img{i + 1}.jpg"), 0)
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
    # the onset-to-apex clip's exact flows carry its frames onto each other as well
    key_flows = g["onset_apex_flows"][()].astype(np.float32)
    k = int(np.argmax(np.abs(key_flows).reshape(7, -1).max(1)))
    i, j = entry.onset_apex_frames[k], entry.onset_apex_frames[k + 1]
    assert i < j and np.abs(key_flows[k]).max() > 0.1
    warped = cv2.remap(frames[j], xs + key_flows[k][..., 0], ys + key_flows[k][..., 1], cv2.INTER_LINEAR)
    assert np.abs(warped - frames[i])[inner].mean() < np.abs(frames[j] - frames[i])[inner].mean()
    truth = GroundTruth(small_set / "ground_truth.h5")
    video = truth.video(entry.subject, entry.video_id)
    identity = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (len(video.landmarks), 1, 1))
    _, raw_landmarks = aligned_ground_truth(video, identity, [], 144)
    np.testing.assert_allclose(raw_landmarks, video.landmarks, atol=1e-4)


def test_subjects_are_different_people_while_photographs_last(small_set):
    truth = GroundTruth(small_set / "ground_truth.h5")
    faces = {key.split("/")[0]: truth._file[key].attrs["face"] for key in truth.video_keys()}
    truth.close()
    assert len(set(faces.values())) == len(faces) == 2
    default = subject_faces(SynthConfig())  # by default every subject is a different person
    assert len(set(default)) == len(default) >= 6 and sorted(default) == sorted(FACE_PHOTOS)
    with pytest.warns(UserWarning, match="reuse a photograph"):
        reused = subject_faces(SynthConfig(subjects=len(FACE_PHOTOS) + 1))
    assert reused[-1] == reused[0]
    with pytest.raises(ValueError, match="unknown face photo"):
        subject_faces(SynthConfig(people=("nobody",)))
    with pytest.raises(ValueError, match="unknown face photo"):  # pre-training's pool only
        subject_faces(SynthConfig(people=tuple(POOL_PHOTOS)))


def test_every_builtin_photograph_has_a_face():
    for name in [*FACE_PHOTOS, *POOL_PHOTOS]:
        image, landmarks = load_face(name, 128)
        assert image.shape == (128, 128) and landmarks.shape == (68, 2)
        assert 20 < inter_ocular(landmarks) < 80  # framed like the alignment, whatever the photo's size


def test_sheet_and_video_names():
    assert sheet_action_units(["AU6", "AU12"]) == "6+12"
    assert sheet_action_units(["R14", "AU7"]) == "R14+7"
    config = SynthConfig(subjects=1, clips_per_class=1, size=128, duration=(0.04, 0.05))
    names = [video.name for _, _, video in iter_videos(config)]
    assert names == [f"EP{n:02d}_01" for n in range(1, 6)]


def test_timing_follows_the_frame_rate(tmp_path):
    fast, slow = SynthConfig(fps=200.0), SynthConfig(fps=100.0)
    assert fast.frame_range() == (24, 64) and slow.frame_range() == (12, 32)
    config = SynthConfig(subjects=1, clips_per_class=1, size=128, duration=(0.1, 0.12), fps=100.0, jpeg_quality=0)
    generate_dataset(tmp_path, config, progress=False)
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    assert (manifest["fps"] == 100.0).all() and len(manifest) == 5
    lengths = [len(list((tmp_path / v).glob("img*.png"))) for v in manifest["video"]]
    assert all(10 <= n <= 12 for n in lengths)
    report = prepare("manifest", tmp_path, tmp_path / "m.h5", flow="exact", progress=False)
    assert len(report.stored) == 5 and {v.fps for v in Cache(tmp_path / "m.h5").videos} == {100.0}


def test_blur_softens_the_frames():
    def sharpness(blur):
        config = SynthConfig(subjects=1, clips_per_class=1, size=128, duration=(0.04, 0.05), blur=blur)
        video = next(iter_videos(config))[2]
        return cv2.Laplacian(video.frames[0].astype(np.float32), cv2.CV_32F).var()

    assert sharpness((1.5, 1.5)) < 0.5 * sharpness((0.0, 0.0))


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
    """Read from generated videos, not from the tables: an "others" clip moves no action unit
    that a clip of a named class moves."""
    from mol.data.synthetic.dataset import iter_videos

    for scheme in ("casme2-5", "samm-5"):
        config = SynthConfig(scheme=scheme, subjects=1, clips_per_class=6, size=64, people=("kanade",))
        moved: dict[str, set[str]] = {}
        for _, _, video in iter_videos(config):
            moved.setdefault(video.class_name, set()).update(video.aus)
        named = set().union(*(aus for name, aus in moved.items() if name != "others"))
        assert moved["others"] and named and not moved["others"] & named, (scheme, moved)
