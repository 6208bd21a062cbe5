"""`mol predict`: a trained model on a real video.

By default (``mode="spot"``) the spotter (:mod:`mol.infer.spot`) first finds the micro- and
macro-expressions in the video; each micro-expression is then sampled from its own interval as a
training clip is (8 frames at stride ⌊length/8⌋, the interval widened to 8 frames if shorter),
aligned with the same code as `mol prepare`, and classified. A video without micro-expressions
gets no class at all, and the result says so. Only the clips' frames are kept in memory, so a
long video costs no more memory than a short one.

``mode="windows"`` slides windows of a configurable span over the whole video instead and
classifies every one of them (the model has no "no expression" class: every window gets one of
the trained classes). Frames without a face are reported with their times; a window that needs
such a frame is marked incomplete and not predicted.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mol.constants import (
    ALIGNED_SIZE,
    BROWS,
    CROP,
    EVAL_OFFSET,
    EYES,
    FRAME_PAIRS,
    LANDMARK_PARTS,
    NUM_LANDMARKS,
)
from mol.data.align import NoFaceError, detect_landmarks, fit_alignment
from mol.data.clips import PIXEL_MEAN, PIXEL_SCALE, normalize_frames, pixel_statistics
from mol.data.records import Interval
from mol.errors import ConfigError
from mol.infer.notes import name_classes, training_notes
from mol.infer.spot_view import SpotTrace
from mol.infer.windows import (
    SparseFrames,
    Window,
    align_windows,
    aligned_frames_of,
    batched,
    parse_span,
    plan_windows,
    read_input,
    read_selected,
    spot_video,
    spotted_windows,
    window_clips,
)
from mol.model.checkpoint import load_checkpoint, read_checkpoint_metadata
from mol.model.record import TrainingRecord
from mol.model.registry import get_model

# facial regions for "where the face moved": landmark indices of the 68-point scheme
REGIONS: dict[str, list[int]] = {
    "brows": list(BROWS),
    "eyes": list(EYES),
    "nose": list(LANDMARK_PARTS["nose"]),
    "mouth corners": [48, 54, 60, 64],
    "chin": [*range(6, 11), 57, 58, 59],
}


def region_motion(flow: np.ndarray, points: np.ndarray, radius: float = 6.0) -> dict[str, float]:
    """Mean flow magnitude (px per frame pair) within ``radius`` of each region's landmarks.
    flow (P, 2, H, W); points (68, 2) in the same pixels."""
    magnitude = np.linalg.norm(flow.astype(np.float32), axis=1).mean(0)
    h, w = magnitude.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = {}
    for name, idx in REGIONS.items():
        mask = np.zeros((h, w), bool)
        for x, y in points[idx]:
            mask |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
        out[name] = round(float(magnitude[mask].mean()), 4) if mask.any() else None
    return out


@dataclass
class Prediction:
    """Everything `mol predict` found, as a typed object (see :func:`predict`)."""

    input: str
    fps: float
    classes: list[str]
    model_config: dict
    num_frames: int
    frames_without_face: list[int]
    windows: list[Window]
    aligned: SparseFrames = field(repr=False)  # the best window's aligned frames, (144, 144) uint8 each
    landmarks: np.ndarray = field(repr=False)  # (L, 68, 2) detected, aligned pixels
    best_window: int | None = None  # the window shown in detail
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went
    training: dict | None = None  # the checkpoint's training record (heads, data, preprocessing)
    hidden_heads: list[str] = field(default_factory=list)  # untrained, or no better than trivial on held-out people
    notes: list[str] = field(default_factory=list)  # what a reader must know before reading the results
    mode: str = "windows"  # "spot": windows are the spotted micro-expressions; "windows": sliding windows
    spotted: list[Interval] = field(default_factory=list)  # every spotted interval (spot mode)
    model_name: str = "mol"  # the registered model that classified (mol, ststnet, flow-hist)
    trace: SpotTrace | None = field(default=None, repr=False)  # spot mode: what the spotter saw
    # spot mode: the face at onset, apex and offset of each spotted interval (by its index), 96 px
    thumbnails: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def flow(self) -> np.ndarray | None:
        """(7, 2, 128, 128) predicted flow of the best window."""
        return None if self.best_window is None else self.windows[self.best_window].flow

    @property
    def predicted_landmarks(self) -> np.ndarray | None:
        """(7, 68, 2) predicted landmarks of the best window, crop pixels."""
        return None if self.best_window is None else self.windows[self.best_window].predicted_landmarks

    @property
    def saliency(self) -> np.ndarray | None:
        """(16, 16) F5C saliency of the best window."""
        return None if self.best_window is None else self.windows[self.best_window].saliency

    def time_of(self, frame: int) -> float:
        return frame / self.fps if self.fps > 0 else math.nan

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "fps": self.fps,
            "classes": self.classes,
            "model": self.model_name,
            "model_config": self.model_config,
            "num_frames": self.num_frames,
            "frames_without_face": [{"frame": f, "time_s": self.time_of(f)} for f in self.frames_without_face],
            "best_window": self.best_window,
            "seconds": self.seconds,
            "training": self.training,
            "hidden_heads": self.hidden_heads,
            "notes": self.notes,
            "mode": self.mode,
            "spot_signal": None if self.trace is None else self.trace.to_dict(self.fps),
            "spotted": [
                {**i.to_dict(), "onset_s": self.time_of(i.onset), "offset_s": self.time_of(i.offset)}
                for i in self.spotted
            ],
            "windows": [
                {
                    "predicted_landmarks": None
                    if w.predicted_landmarks is None
                    else np.round(w.predicted_landmarks, 2).tolist(),
                    "index": w.index,
                    "start_frame": w.start,
                    "end_frame": w.end,
                    "start_s": self.time_of(w.start),
                    "end_s": self.time_of(w.end),
                    "sampled_frames": w.frames,
                    "complete": w.complete,
                    "probabilities": None
                    if w.probabilities is None
                    else dict(zip(self.classes, w.probabilities, strict=True)),
                    "top_class": w.top_class,
                    "region_motion_px": w.region_motion,
                }
                for w in self.windows
            ],
        }


def predict(
    input_path: str | Path,
    checkpoint: str | Path,
    window: str | int | None = None,
    stride: str | int | None = None,
    device: str = "cpu",
    fps: float | None = None,
    batch_size: int = 8,
    align: str | None = None,
    classify_only: bool = False,
    mode: str = "spot",
    spot_settings=None,
    keep_flows: bool = False,
    class_names: list[str] | None = None,
) -> Prediction:
    """Run a trained MOL checkpoint over a video file or a folder of frames.

    ``mode="spot"``: the spotted micro-expressions are the windows; ``"windows"``: windows of
    ``window`` frames every ``stride`` frames. Every complete window gets class probabilities,
    and predicted flow and landmarks from the heads the checkpoint trained (``classify_only``
    skips those heads, ~15× cheaper); ``keep_flows`` keeps every window's predicted flow (0.46 MB
    each; otherwise only the best window's). ``align`` defaults to the alignment the checkpoint's
    training data used; ``spot_settings`` to the spotter's built-in settings. Memory does not
    grow with the video's length beyond per-frame landmarks and per-window results."""
    if mode not in ("spot", "windows"):
        raise ConfigError(f"predict mode must be spot or windows, got {mode!r}")
    input_path = Path(input_path)
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 4)
        clock = now

    metadata = read_checkpoint_metadata(checkpoint)
    model_name = metadata.get("model", "mol")
    reads_apex_flow = get_model(model_name).input == "apex_flow"
    if reads_apex_flow:
        from mol.infer.apex_predict import check_mode

        check_mode(mode, model_name)
    model = load_checkpoint(checkpoint, device, expected=None).eval()
    record = TrainingRecord.from_metadata(metadata, str(checkpoint))
    hidden, notes = training_notes(record)
    if align is None:
        align = record.alignment if record else "per-frame"
    classes, class_note = name_classes(model.config.num_classes, metadata, class_names, checkpoint)
    if class_note:
        notes.append(class_note)
    lap("load model")
    frames, video_fps = read_input(input_path)
    rate = float(fps) if fps else video_fps
    trained_rates = record.fps if record else ()
    if trained_rates and rate > 0 and all(abs(rate - r) > 0.5 for r in trained_rates):
        message = (
            f"{input_path}: {rate:g} fps, but the model was trained on {', '.join(f'{r:g}' for r in trained_rates)} "
            "fps video; a window of frames spans a different time, so motions look faster or slower"
        )
        warnings.warn(message, stacklevel=2)
        notes.append(message)
    lap("read frames")
    spotted: list[Interval] = []
    trace, thumbnails = None, {}
    sampling = record.clip_sampling if record else "strided"
    if mode == "spot":
        signals, spotted = spot_video(frames, rate, spot_settings)
        micro = [i for i in spotted if i.kind == "micro"]
        from mol.infer.spot_run import faceless_note
        from mol.infer.spot_view import interval_thumbnails, spot_trace, thumbnail_frames

        if reads_apex_flow:  # the class of each spotted micro-expression's onset-to-apex flow
            from mol.infer.apex_predict import describe, input_flow_method, onset_apex_of, predict_apex_flow

            wanted = {f for i in micro for f in onset_apex_of(i)}
        else:
            windows = spotted_windows(micro, len(frames), sampling)
            wanted = {f for w in windows for f in w.frames}
        raw = read_selected(frames, wanted | thumbnail_frames(spotted))  # one pass over the video
        if reads_apex_flow:
            method = input_flow_method(record, metadata)
            notes.insert(0, describe(model_name, method, align))
            windows, aligned_frames, landmarks = predict_apex_flow(raw, micro, model, method, align, device)
            for w in windows:
                w.top_class = None if w.probabilities is None else classes[int(np.argmax(w.probabilities))]
        else:
            aligned_frames, landmarks = align_windows(windows, raw, align)
        missing = [int(f) for f in signals.frames[~signals.face_found]]
        trace, thumbnails = spot_trace(signals, spot_settings), interval_thumbnails(raw, signals, spotted)
        del raw
        faceless = faceless_note(signals)
        if faceless:
            notes.insert(0, faceless)
        lap("spot and align")
        if not micro:
            notes.insert(0, f"No micro-expression was found in this video ({len(spotted)} macro-expressions were).")
    else:
        span = parse_span(window, rate, 48)  # before decoding: a bad span is refused at once
        step = parse_span(stride, rate, max(1, span // 6), "--stride")
        try:
            alignment = fit_alignment(frames, align, ALIGNED_SIZE, detect_landmarks, unreadable=set(frames.unreadable))
        except NoFaceError:
            raise NoFaceError(f"{input_path}: no face found in any of its {len(frames)} frames") from None
        if sampling == "onset_apex":
            notes.append(
                "This model was trained on clips from a micro-expression's onset to its apex; sliding "
                "windows sample whole windows instead, unlike its training (the spot mode samples as it did)."
            )
        windows = plan_windows(len(frames), span, step, alignment.face_found)
        landmarks, missing = alignment.landmarks, alignment.missing_faces
        lap("detect and align")
    o = EVAL_OFFSET
    complete = [w for w in windows if w.complete and w.probabilities is None]  # those MOL has yet to see
    if mode == "spot":
        clips = ((w, aligned_frames[w.frames]) for w in complete)
    else:  # aligned one frame at a time as the windows need them: memory does not grow with length
        clips = window_clips(frames, alignment.matrices, complete)
    # a model trained on per-subject statistics sees this video (one person) by its own
    normalize = record.normalize if record else "fixed"
    if normalize == "fixed" or not complete:
        pixels = (PIXEL_MEAN, PIXEL_SCALE)
    else:
        seen = sorted({f for w in complete for f in w.frames})
        if mode == "spot":
            pixels = pixel_statistics(aligned_frames[seen])
        else:
            pixels = pixel_statistics(aligned_frames_of(frames, alignment.matrices, set(seen)))

    def run(chunk: list[tuple[Window, np.ndarray]], heads: tuple[str, ...], keep_flow: bool) -> None:
        """One batch of (window, aligned frames) through the model; fills the windows' outputs."""
        batch = torch.stack([normalize_frames(c[:, o : o + CROP, o : o + CROP], *pixels)[None] for _, c in chunk])
        with torch.no_grad():
            out = model(batch.to(device), heads=heads)
        saliency = out.motion_features.abs().mean(dim=(1, 2)).float().cpu().numpy()  # (B, 16, 16)
        probs = torch.softmax(out.mer_logits.float(), 1).cpu().tolist()
        for j, ((w, _), p) in enumerate(zip(chunk, probs, strict=True)):
            w.probabilities = [round(v, 6) for v in p]
            w.top_class = classes[int(np.argmax(p))]
            w.saliency = saliency[j]
            if out.flow is not None:
                flow = out.flow[j].permute(3, 0, 1, 2).cpu().numpy().astype(np.float16)
                w.region_motion = region_motion(flow, landmarks[w.frames[0]] - o)
                w.flow = flow if keep_flow else None  # (7, 2, 128, 128) float16: 0.46 MB a window
            if out.landmarks is not None:
                w.predicted_landmarks = out.landmarks[j].T.reshape(FRAME_PAIRS, NUM_LANDMARKS, 2).float().cpu().numpy()

    # only the heads the checkpoint trained run: an untrained head's output is not a result
    detail = ("mer", *(head for head in ("flow", "landmarks") if head not in hidden))
    every = ("mer",) if classify_only else detail
    best: tuple[Window, np.ndarray] | None = None  # the window where the model is most confident
    for chunk in batched(clips, batch_size):
        run(chunk, every, keep_flows)
        leader = max(chunk, key=lambda item: max(item[0].probabilities))
        if best is None or max(leader[0].probabilities) > max(best[0].probabilities):
            best = leader
    lap("model on every window")
    result = Prediction(
        input=str(input_path),
        fps=rate,
        classes=classes,
        model_config=model.config.to_dict(),
        num_frames=len(frames),
        frames_without_face=missing,
        windows=windows,
        aligned=SparseFrames({}),
        landmarks=landmarks,
        mode=mode,
        spotted=spotted,
        model_name=model_name,
        trace=trace,
        thumbnails=thumbnails,
    )
    if best is not None:  # shown in detail, with its flow and landmarks
        result.best_window = best[0].index
        result.aligned = SparseFrames(dict(zip(best[0].frames, best[1], strict=True)))
        if every != detail or (best[0].flow is None and "flow" in detail):
            run([best], detail, keep_flow=True)
    result.training = None if record is None else asdict(record)
    result.hidden_heads, result.notes = hidden, notes
    lap("details of the best window")
    result.seconds = seconds
    return result
