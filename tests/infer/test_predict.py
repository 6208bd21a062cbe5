"""`mol predict` on short videos written by the test from synthetic frames."""

import json
import re
import tracemalloc

import numpy as np
import pytest

from mol.cli import main
from mol.constants import ALIGNED_SIZE
from mol.data.align import NoFaceError
from mol.data.frames import FrameError
from mol.errors import ConfigError
from mol.infer.predict import predict
from mol.infer.windows import aligned_frames_of, parse_span, plan_windows, window_clips
from mol.model import MOL, save_checkpoint

from fakes import face_frames, training_record, write_frames, write_video


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    torch_model = MOL(num_classes=3)
    save_checkpoint(torch_model, path, extra={"classes": json.dumps(["surprise", "positive", "negative"])})
    return path


def test_video_through_the_whole_command(tmp_path, checkpoint, capsys):
    video = write_video(tmp_path / "face.avi", face_frames(32), fps=100)
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(video),
                "--mode",
                "windows",
                "--checkpoint",
                str(checkpoint),
                "--out",
                str(out),
                "--window",
                "16",
                "--stride",
                "0.08s",
                "--save-flow",
            ]
        )
        == 0
    )
    assert "3 windows" in capsys.readouterr().out
    data = json.loads((out / "predictions.json").read_text())
    assert data["fps"] == pytest.approx(100) and data["classes"] == ["surprise", "positive", "negative"]
    assert [w["start_frame"] for w in data["windows"]] == [0, 8, 16]
    first = data["windows"][0]
    assert first["sampled_frames"] == list(range(0, 16, 2)) and first["end_s"] == pytest.approx(0.15)
    assert sum(first["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert set(data["region_motion_px"]) == {"brows", "eyes", "nose", "mouth corners", "chin"}
    # every complete window has its own landmarks and region motion
    assert np.array(first["predicted_landmarks"]).shape == (7, 68, 2)
    assert all(len(w["region_motion_px"]) == 5 for w in data["windows"])
    assert (out / "predictions.csv").read_text().count("\n") == 1 + 3
    for name in ("probabilities.png", "flow.png", "landmarks.png", "regions.png"):
        assert (out / name).stat().st_size > 5000, name
    with np.load(out / "flows.npz") as flows:
        assert sorted(flows.files) == ["window_0", "window_1", "window_2"]
        assert flows["window_1"].shape == (7, 2, 128, 128)
    html = (out / "report.html").read_text()
    assert "face.avi" in html and html.count("data:image/png;base64,") == 4 and 'src="http' not in html


def test_face_leaving_midway_marks_windows_and_reports_times(tmp_path, checkpoint):
    frames = face_frames(32)
    for i in range(20, 32):
        frames[i] = np.full_like(frames[i], 100)  # the face is gone
    folder = write_frames(tmp_path / "frames", frames, pattern="f{:04d}.png")
    result = predict(folder, checkpoint, window="16", stride="4", fps=50.0, classify_only=True, mode="windows")
    assert result.frames_without_face == list(range(20, 32))
    complete = [w.complete for w in result.windows]
    assert complete == [True, True, False, False, False]
    assert result.windows[2].probabilities is None and result.windows[0].probabilities is not None
    # classify_only skipped the flow head everywhere but in the one window shown in detail
    assert [w.flow is not None for w in result.windows] == [w.index == result.best_window for w in result.windows]
    assert result.to_dict()["frames_without_face"][0]["time_s"] == pytest.approx(0.4)


def test_inputs_that_cannot_be_used(tmp_path, checkpoint, capsys):
    blank = write_video(tmp_path / "blank.avi", [np.full((120, 120), 90, np.uint8)] * 12)
    with pytest.raises(NoFaceError, match=r"blank\.avi: no face found"):
        predict(blank, checkpoint, window="8", mode="windows")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 300)
    assert main(["predict", str(corrupt), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")]) == 2
    assert "corrupt.mp4" in capsys.readouterr().err
    with pytest.raises(FrameError, match="no such file"):
        predict(tmp_path / "absent.mp4", checkpoint, mode="windows")
    short = write_video(tmp_path / "short.avi", face_frames(10))
    with pytest.raises(ValueError, match="fewer than one window of 16; --window 10 classifies it whole"):
        predict(short, checkpoint, window="16", mode="windows")


def test_a_video_without_a_face_fails_in_predict_and_spot(tmp_path, checkpoint, capsys):
    noise = np.random.default_rng(0).integers(0, 255, (60, 96, 96), dtype=np.uint8)
    video = write_video(tmp_path / "noise.avi", list(noise), fps=30)
    assert main(["predict", str(video), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "p")]) == 2
    assert "noise.avi: no face was found in any of its 60 frames" in capsys.readouterr().err
    assert not (tmp_path / "p" / "report.html").exists()
    assert main(["spot", str(video), "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "noise.avi: no face was found" in capsys.readouterr().err
    assert not (tmp_path / "s" / "intervals.json").exists()


def test_a_stretch_without_a_face_is_named_in_spot_and_predict(tmp_path, checkpoint, capsys):
    frames = face_frames(60)
    for i in range(30, 45):
        frames[i] = np.full_like(frames[i], 100)  # the face is gone for half a second
    video = write_video(tmp_path / "gone.avi", frames, fps=30)
    assert main(["spot", str(video), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    # the tracker carries the last box one frame into the blank stretch before it lets go
    stretch = r"No face in 1[45] of 60 frames: frames 3[01]-44 \(1\.0[03]-1\.50 s\)"
    assert re.search(stretch, capsys.readouterr().out)
    assert re.fullmatch(r"gone,3[01],44,1\.0[03]*,1\.5", (tmp_path / "s" / "faceless.csv").read_text().splitlines()[1])
    result = predict(video, checkpoint, classify_only=True)
    assert any(re.match(stretch, note) for note in result.notes)


def test_spans_are_checked_when_the_command_line_is_parsed(tmp_path, checkpoint, capsys):
    absent = str(tmp_path / "absent.avi")  # never read: the options are refused first
    for option, value in (("--stride", "-1"), ("--window", "0"), ("--window", "0s"), ("--stride", "x")):
        with pytest.raises(SystemExit) as exit_:
            main(["predict", absent, "--checkpoint", str(checkpoint), option, value])
        assert exit_.value.code == 2
        assert f"argument {option}: '{value}' is not a span" in capsys.readouterr().err


def test_checkpoint_of_another_layout(tmp_path, capsys):
    import torch

    pth = tmp_path / "reference.pth"
    torch.save({"conv_stack.conv_stack.0.weight": torch.zeros(8, 1, 4, 4)}, pth)
    video = write_video(tmp_path / "v.avi", face_frames(10))
    assert main(["predict", str(video), "--checkpoint", str(pth)]) == 2
    assert "import-official" in capsys.readouterr().err


def test_spans_in_frames_or_seconds():
    assert parse_span("48", 200.0, 10) == 48 and parse_span("0.25s", 200.0, 10) == 50
    assert parse_span(None, float("nan"), 10) == 10
    with pytest.raises(ValueError, match="frame rate"):
        parse_span("0.2s", float("nan"), 10)


def test_untrained_heads_are_not_shown_and_synthetic_training_is_said(tmp_path):
    record = training_record()
    path = tmp_path / "mer_only.safetensors"
    extra = {"classes": json.dumps(record["classes"]), "training": json.dumps(record)}
    save_checkpoint(MOL(num_classes=3), path, extra=extra)
    video = write_video(tmp_path / "face.avi", face_frames(24), fps=100)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="trained on 200 fps"):
        assert (
            main(
                [
                    "predict",
                    str(video),
                    "--checkpoint",
                    str(path),
                    "--out",
                    str(out),
                    "--window",
                    "16",
                    "--mode",
                    "windows",
                ]
            )
            == 0
        )
    data = json.loads((out / "predictions.json").read_text())
    assert data["hidden_heads"] == ["flow", "landmarks"]
    assert all(w["predicted_landmarks"] is None and w["region_motion_px"] is None for w in data["windows"])
    assert not any((out / name).exists() for name in ("flow.png", "landmarks.png", "regions.png"))
    notes = " ".join(data["notes"])
    assert "were not trained" in notes and "synthetic data" in notes and "200 fps" in notes
    page = (out / "report.html").read_text()
    assert "synthetic data" in page and "not trained" in page


def test_heads_no_better_than_their_baselines_on_held_out_people_are_hidden_and_chance_is_said():
    from mol.infer.notes import training_notes
    from mol.model.record import TrainingRecord

    held_out = {
        "subjects": 2,
        "videos": 20,
        "video_uar": 0.2,
        "video_uf1": 0.1,
        "chance_uar": 0.2,
        "flow_epe_px": 0.261,  # worse than zero flow: hidden
        "zero_flow_epe_px": 0.254,
        "landmark_nme_percent": 6.0,  # 21 % below the mean shape's: shown
        "mean_shape_nme_percent": 7.58,
    }

    def record(**changes):
        return TrainingRecord.from_dict(training_record(**{"trained_heads": ["mer", "flow", "landmarks"], **changes}))

    hidden, notes = training_notes(record(held_out=held_out))
    assert hidden == ["flow"]
    text = " ".join(notes)
    assert "0.261 px" in text and "0.254 px" in text and "no better than chance" in text
    held_out.update(landmark_nme_percent=7.2, video_uar=0.45)  # 5 % below: within the margin, hidden too
    hidden, notes = training_notes(record(held_out=held_out))
    assert hidden == ["flow", "landmarks"] and "no better than chance" not in " ".join(notes)
    untrained = record(held_out=held_out, trained_heads=["mer"])  # an untrained head is named once, as untrained
    hidden, notes = training_notes(untrained)
    assert hidden == ["flow", "landmarks"] and "0.261" not in " ".join(notes)


def test_region_motion_measures_the_flow_around_each_regions_landmarks():
    from mol.infer.prediction import REGIONS, region_motion

    points = np.zeros((68, 2), np.float32)
    for i, idx in enumerate(REGIONS.values()):
        points[idx] = [20 + 20 * i, 64]  # each region's landmarks at one spot, 20 px apart
    flow = np.zeros((7, 2, 128, 128), np.float32)
    mouth = 20 + 20 * list(REGIONS).index("mouth corners")
    flow[:, 0, 60:69, mouth - 4 : mouth + 5] = 3.0  # 3 px to the right, only at the mouth corners
    flow[:, 1, 60:69, mouth - 4 : mouth + 5] = 4.0  # and 4 px down: magnitude 5
    motion = region_motion(flow, points, radius=4.0)
    assert motion["mouth corners"] == pytest.approx(5.0)
    assert all(v == 0 for k, v in motion.items() if k != "mouth corners")


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory):
    """Two 30-fps recordings in the CAS(ME)^2 layout: one with blinks and head sway only, one
    with two planted micro-expressions as well."""
    from mol.data.synthetic.long_dataset import generate_long_dataset
    from mol.data.synthetic.longvideo import LongConfig

    root = tmp_path_factory.mktemp("long")
    quiet = LongConfig(fps=30, seconds=8, micro_per_minute=0, macro_per_minute=0, talking_per_minute=0)
    generate_long_dataset(root / "quiet", "casme2-long", ("collins",), config=quiet, progress=False, seed=5)
    planted = LongConfig(fps=30, seconds=10, micro_per_minute=12, macro_per_minute=0, talking_per_minute=0)
    generate_long_dataset(root / "planted", "casme2-long", ("biden",), config=planted, progress=False, seed=6)
    return root


def _only_recording(root):
    from mol.data.long_readers import read_long_dataset

    (record,) = read_long_dataset("casme2-long", root).records
    return record


def test_a_video_without_expressions_gets_no_class(long_videos, checkpoint, tmp_path, capsys):
    record = _only_recording(long_videos / "quiet")
    assert record.intervals == ()
    out = tmp_path / "out"
    assert main(["predict", str(record.source), "--checkpoint", str(checkpoint), "--fps", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "0 micro-expressions spotted and classified" in printed
    data = json.loads((out / "predictions.json").read_text())
    assert data["mode"] == "spot" and data["windows"] == []
    assert data["notes"][0].startswith("No micro-expression was found")
    assert not any("--window" in note for note in data["notes"])  # a long recording: no cut-clip hint
    assert (out / "timeline.png").stat().st_size > 3000 and "No micro-expression" in (out / "report.html").read_text()


def test_a_short_clip_without_a_spotted_expression_is_told_how_to_classify_it_whole(checkpoint, tmp_path):
    clip = write_video(tmp_path / "clip.avi", face_frames(12))
    out = tmp_path / "out"
    assert main(["predict", str(clip), "--checkpoint", str(checkpoint), "--fps", "30", "--out", str(out)]) == 0
    notes = json.loads((out / "predictions.json").read_text())["notes"]
    assert "run with --mode windows --window 12." in " ".join(notes)


def test_planted_micro_expressions_are_found_and_classified(long_videos, checkpoint):
    from mol.data.records import Interval
    from mol.infer.windows import clip_frames_of

    record = _only_recording(long_videos / "planted")
    planted = [i for i in record.intervals if i.kind == "micro"]
    assert len(planted) == 2
    result = predict(record.source, checkpoint, fps=30.0, classify_only=True)
    for truth in planted:
        hits = [w for w in result.windows if truth.iou(Interval(w.start, w.start, w.end, "micro")) >= 0.5]
        assert len(hits) == 1, (truth, [(w.start, w.end) for w in result.windows])
        (w,) = hits
        assert w.complete and w.frames == clip_frames_of(Interval(w.start, w.start, w.end, "micro"), result.num_frames)
        assert w.top_class in result.classes and sum(w.probabilities) == pytest.approx(1, abs=1e-4)


def test_clip_frames_follow_training_sampling():
    from mol.data.records import Interval
    from mol.infer.windows import clip_frames_of

    assert clip_frames_of(Interval(10, 20, 33, "micro"), 100) == list(range(10, 34, 3))  # 24 frames: stride 3
    assert clip_frames_of(Interval(50, 51, 53, "micro"), 100) == list(range(47, 55))  # widened around its centre
    assert clip_frames_of(Interval(0, 1, 2, "micro"), 100) == list(range(8))  # not before the first frame
    # a model trained on onset-to-apex clips: evenly from the spotted onset to the spotted apex
    assert clip_frames_of(Interval(10, 24, 33, "micro"), 100, "onset_apex") == list(range(10, 25, 2))


def test_windows_mode_memory_does_not_grow_with_the_videos_length(tmp_path, checkpoint):
    """Sliding windows over a 4x longer video hold only the frames of overlapping windows: the
    memory grows by per-frame landmarks and per-window results, not by frames (20.7 kB aligned)
    or predicted flows (0.46 MB a window)."""
    peaks = {}
    for length in (32, 32, 128):  # the first run loads the face models: not counted
        video = write_video(tmp_path / f"v{length}.avi", face_frames(length), fps=100)
        tracemalloc.start()
        result = predict(video, checkpoint, window="16", stride="8", mode="windows", batch_size=2)
        peaks[length] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(result.windows) == (length - 16) // 8 + 1
        assert all(w.region_motion is not None for w in result.windows)
    per_frame = (peaks[128] - peaks[32]) / 96
    # holding every aligned frame would cost ALIGNED_SIZE² bytes a frame
    assert per_frame < ALIGNED_SIZE**2 / 2, f"{per_frame:.0f} bytes more per frame"
    best = result.windows[result.best_window]
    assert result.flow is not None and [w.flow is None for w in result.windows].count(False) == 1
    assert result.aligned[best.frames].shape == (8, 144, 144)


def test_window_clips_stream_each_window_as_its_last_frame_is_read():
    decoded = []

    def frames():
        for i in range(40):
            decoded.append(i)
            yield np.full((144, 144), i, np.uint8)

    identity = np.tile(np.float64([[1, 0, 0], [0, 1, 0]]), (40, 1, 1))
    windows = plan_windows(40, 16, 8, np.ones(40, bool))
    order = []
    for w, clip in window_clips(frames(), identity, windows):
        assert len(decoded) == w.frames[-1] + 1  # yielded as soon as its last frame was read
        assert [int(c[72, 72]) for c in clip] == w.frames
        order.append(w.index)
    assert order == [w.index for w in windows]
    wanted = {f for w in windows for f in w.frames}
    once = [int(c[72, 72]) for c in aligned_frames_of(frames(), identity, wanted)]
    assert sorted(once) == sorted(wanted) and len(once) == len(set(once))


def test_the_notes_name_the_initialisation():
    from mol.infer.notes import training_notes
    from mol.model.record import TrainingRecord

    def notes(**changes):
        return " ".join(training_notes(TrainingRecord.from_dict(training_record(**changes)))[1])

    start = {"init": "pretrained", "version": "1", "file": "w.safetensors", "sha256": "abcd", "pretrain_steps": 711}
    text = notes(initialization=start)
    assert "pre-trained weights version 1" in text and "711 pre-training steps" in text
    assert "action-unit layer" not in text
    assert "class layer from its action-unit layer" in notes(initialization={**start, "class_layer": "action_units"})
    assert "from scratch" in notes(initialization={"init": "scratch"})
    assert "not recorded" in notes()


def test_classes_are_named_by_the_checkpoint_or_by_the_user(tmp_path, capsys):
    unnamed = tmp_path / "unnamed.safetensors"
    save_checkpoint(MOL(num_classes=3), unnamed)
    video = write_video(tmp_path / "face.avi", face_frames(24), fps=100)
    result = predict(video, unnamed, window="16", mode="windows", classify_only=True)
    assert result.classes == ["class_0", "class_1", "class_2"]
    assert any("does not name its classes" in note and "--classes" in note for note in result.notes)
    out = tmp_path / "out"
    argv = ["predict", str(video), "--checkpoint", str(unnamed), "--mode", "windows", "--window", "16"]
    assert main([*argv, "--out", str(out), "--classify-only", "--classes", "joy,fear,other"]) == 0
    assert ",p_joy,p_fear,p_other," in (out / "predictions.csv").read_text().splitlines()[0]
    assert "does not name its classes" not in (out / "report.html").read_text()
    assert main([*argv, "--out", str(tmp_path / "o2"), "--classes", "joy,fear"]) == 2
    assert "--classes: the model has 3 classes, got 2 names" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ststnet", "flow-hist"])
def test_models_that_read_onset_to_apex_flow_classify_the_spotted_micro_expressions(long_videos, tmp_path, name):
    from mol.infer import apex_predict
    from mol.model.registry import build_model

    torch_model = build_model(name, {"num_classes": 3}).eval()
    path = tmp_path / f"{name}.safetensors"
    record = training_record(input="onset_apex_flow", input_flow=["dis"], synthetic=False, flow=["tvl1"], fps=[])
    classes = json.dumps(["surprise", "positive", "negative"])
    save_checkpoint(torch_model, path, extra={"classes": classes, "training": json.dumps(record)})
    seen = []
    real_flow = apex_predict.compute_flow

    def spy(a, b, method):
        seen.append((a.shape, method))
        return real_flow(a, b, method)

    recording = _only_recording(long_videos / "planted")
    out = tmp_path / "out"
    apex_predict.compute_flow = spy
    try:
        assert (
            main(["predict", str(recording.source), "--checkpoint", str(path), "--fps", "30", "--out", str(out)]) == 0
        )
    finally:
        apex_predict.compute_flow = real_flow
    data = json.loads((out / "predictions.json").read_text())
    assert data["model"] == name and data["notes"][0].startswith(f"Model: {name}, which classifies the optical flow")
    classified = [w for w in data["windows"] if w["probabilities"]]
    assert len(classified) >= 2 and all(w["top_class"] in data["classes"] for w in classified)
    # one flow per micro-expression, onset to apex, on aligned frames, with the training method
    assert seen == [((ALIGNED_SIZE, ALIGNED_SIZE), "dis")] * len(classified)
    assert all(w["sampled_frames"][0] == w["start_frame"] for w in classified)
    assert f"<strong>{name}</strong>" in (out / "report.html").read_text()
    with pytest.raises(ConfigError, match="use --mode spot"):
        predict(recording.source, path, fps=30.0, mode="windows")


def test_the_report_shows_what_the_spotter_saw_and_every_spotted_interval(long_videos, checkpoint, tmp_path):
    import re

    recording = _only_recording(long_videos / "planted")
    out = tmp_path / "out"
    assert (
        main(["predict", str(recording.source), "--checkpoint", str(checkpoint), "--fps", "30", "--out", str(out)]) == 0
    )
    data = json.loads((out / "predictions.json").read_text())
    signal = data["spot_signal"]
    assert len(signal["regions"]) == 8 and signal["threshold_px"] > 0
    assert all(len(v) == len(signal["time_s"]) for v in signal["regions"].values())
    # every spotted interval peaks above the threshold the report draws
    peak = np.max(list(signal["regions"].values()), axis=0)
    times = np.array(signal["time_s"])
    for i in data["spotted"]:
        inside = (times >= i["onset_s"]) & (times <= i["offset_s"])
        assert peak[inside].max() > signal["threshold_px"]
    html = (out / "report.html").read_text()
    assert "what the spotter saw" in html and "the face at the onset, apex and offset" in html
    assert (out / "spot_signal.png").stat().st_size > 5000 and (out / "intervals.png").stat().st_size > 5000
    quiet = _only_recording(long_videos / "quiet")
    empty = tmp_path / "empty"
    assert (
        main(["predict", str(quiet.source), "--checkpoint", str(checkpoint), "--fps", "30", "--out", str(empty)]) == 0
    )
    page = (empty / "report.html").read_text()
    assert re.search(r"<td colspan=\"\d+\">none</td>", page) and "what the spotter saw" in page
