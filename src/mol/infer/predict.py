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

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mol.constants import (
    ALIGNED_SIZE,
    CLIP_FRAMES,
    CROP,
    EVAL_OFFSET,
    FRAME_PAIRS,
    NUM_LANDMARKS,
)
from mol.data.align import NoFaceError, detect_landmarks, fit_alignment
from mol.data.clips import PIXEL_MEAN, PIXEL_SCALE, normalize_frames, pixel_statistics
from mol.data.records import Interval
from mol.errors import ConfigError
from mol.infer.notes import name_classes, training_notes
from mol.infer.prediction import Prediction, region_motion
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


class Stopwatch:
    """Seconds spent in each named phase, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._clock, 4)
        self._clock = now


@dataclass
class TrainedModel:
    """A checkpoint ready to predict: the model, its training record, what the record says a
    reader must know (``notes``) and which heads' outputs are not shown (``hidden``)."""

    model: torch.nn.Module
    name: str  # the registered model: mol, ststnet, flow-hist
    metadata: dict[str, str]
    record: TrainingRecord | None
    classes: list[str]
    hidden: list[str]
    notes: list[str]

    @property
    def reads_apex_flow(self) -> bool:
        return get_model(self.name).input == "apex_flow"

    @property
    def sampling(self) -> str:
        return self.record.clip_sampling if self.record else "strided"

    @property
    def normalize(self) -> str:
        return self.record.normalize if self.record else "fixed"

    @property
    def alignment(self) -> str:
        return self.record.alignment if self.record else "per-frame"

    @property
    def trained_fps(self) -> tuple[float, ...]:
        return self.record.fps if self.record else ()


def load_trained(checkpoint: str | Path, device: str, mode: str, class_names: list[str] | None = None) -> TrainedModel:
    """The checkpoint's model (eval mode), record, notes and class names; a model that cannot
    run in ``mode`` is refused before any frame is read."""
    metadata = read_checkpoint_metadata(checkpoint)
    name = metadata.get("model", "mol")
    if get_model(name).input == "apex_flow":
        from mol.infer.apex_predict import check_mode

        check_mode(mode, name)
    model = load_checkpoint(checkpoint, device, expected=None).eval()
    record = TrainingRecord.from_metadata(metadata, str(checkpoint))
    hidden, notes = training_notes(record)
    classes, class_note = name_classes(model.config.num_classes, metadata, class_names, checkpoint)
    if class_note:
        notes.append(class_note)
    return TrainedModel(model, name, metadata, record, classes, hidden, notes)


def frame_rate_note(input_path: Path, rate: float, trained_rates: tuple[float, ...]) -> str | None:
    """A warning when the video's frame rate is none the model was trained on."""
    if not trained_rates or not rate > 0 or any(abs(rate - r) <= 0.5 for r in trained_rates):
        return None
    return (
        f"{input_path}: {rate:g} fps, but the model was trained on {', '.join(f'{r:g}' for r in trained_rates)} "
        "fps video; a window of frames spans a different time, so motions look faster or slower"
    )


@dataclass
class Located:
    """The windows to classify and what finding them saw. Spot mode keeps the windows' aligned
    frames (``aligned``); windows mode aligns each window's frames when it is classified
    (``matrices``). ``leading_notes`` go before the checkpoint's notes, ``trailing_notes`` after."""

    windows: list[Window]
    landmarks: np.ndarray  # (L, 68, 2) detected, aligned pixels
    missing: list[int]  # frames without a face
    aligned: np.ndarray | SparseFrames | None = None
    matrices: np.ndarray | None = None
    spotted: list[Interval] = field(default_factory=list)
    trace: SpotTrace | None = None
    thumbnails: dict[int, list[np.ndarray]] = field(default_factory=dict)
    leading_notes: list[str] = field(default_factory=list)
    trailing_notes: list[str] = field(default_factory=list)

    def clips(self, frames, complete: list[Window]):
        """(window, its aligned frames) for each window of ``complete``, one at a time."""
        if self.matrices is None:
            return ((w, self.aligned[w.frames]) for w in complete)
        return window_clips(frames, self.matrices, complete)  # memory does not grow with length

    def frames_for_statistics(self, frames, complete: list[Window]) -> np.ndarray:
        seen = sorted({f for w in complete for f in w.frames})
        if self.matrices is None:
            return self.aligned[seen]
        return aligned_frames_of(frames, self.matrices, set(seen))


def locate_spotted(frames, rate: float, trained: TrainedModel, spot_settings, align: str, device: str) -> Located:
    """Spot mode: the spotted micro-expressions as windows, their frames read in one pass and
    aligned; a model that reads onset-to-apex flow classifies them here."""
    from mol.infer.spot_run import faceless_note
    from mol.infer.spot_view import interval_thumbnails, spot_trace, thumbnail_frames

    signals, spotted = spot_video(frames, rate, spot_settings)
    micro = [i for i in spotted if i.kind == "micro"]
    leading = []
    if not micro:
        leading.append(f"No micro-expression was found in this video ({len(spotted)} macro-expressions were).")
        if CLIP_FRAMES <= len(frames) <= 2 * rate:  # a clip cut around one expression lacks the quiet context
            leading.append(
                f"To classify the whole input as one expression (a clip already cut from onset to offset), "
                f"run with --mode windows --window {len(frames)}."
            )
    faceless = faceless_note(signals)
    if faceless:
        leading.append(faceless)
    if trained.reads_apex_flow:  # the class of each spotted micro-expression's onset-to-apex flow
        from mol.infer.apex_predict import describe, input_flow_method, onset_apex_of, predict_apex_flow

        wanted = {f for i in micro for f in onset_apex_of(i)}
    else:
        windows = spotted_windows(micro, len(frames), trained.sampling)
        wanted = {f for w in windows for f in w.frames}
    raw = read_selected(frames, wanted | thumbnail_frames(spotted))  # one pass over the video
    if trained.reads_apex_flow:
        method = input_flow_method(trained.record, trained.metadata)
        leading.append(describe(trained.name, method, align))
        windows, aligned, landmarks = predict_apex_flow(raw, micro, trained.model, method, align, device)
        for w in windows:
            w.top_class = None if w.probabilities is None else trained.classes[int(np.argmax(w.probabilities))]
    else:
        aligned, landmarks = align_windows(windows, raw, align)
    return Located(
        windows=windows,
        landmarks=landmarks,
        missing=[int(f) for f in signals.frames[~signals.face_found]],
        aligned=aligned,
        spotted=spotted,
        trace=spot_trace(signals, spot_settings),
        thumbnails=interval_thumbnails(raw, signals, spotted),
        leading_notes=leading,
    )


def locate_windows(frames, input_path: Path, rate: float, trained: TrainedModel, window, stride, align: str) -> Located:
    """Windows mode: windows of ``window`` frames every ``stride`` over the whole video, the face
    aligned in every frame (only the matrices are kept)."""
    span = parse_span(window, rate, 48)  # before decoding: a bad span is refused at once
    step = parse_span(stride, rate, max(1, span // 6), "--stride")
    try:
        alignment = fit_alignment(frames, align, ALIGNED_SIZE, detect_landmarks, unreadable=set(frames.unreadable))
    except NoFaceError:
        raise NoFaceError(f"{input_path}: no face found in any of its {len(frames)} frames") from None
    trailing = []
    if trained.sampling == "onset_apex":
        trailing.append(
            "This model was trained on clips from a micro-expression's onset to its apex; sliding "
            "windows sample whole windows instead, unlike its training (the spot mode samples as it did)."
        )
    return Located(
        windows=plan_windows(len(frames), span, step, alignment.face_found),
        landmarks=alignment.landmarks,
        missing=alignment.missing_faces,
        matrices=alignment.matrices,
        trailing_notes=trailing,
    )


def classify(
    trained: TrainedModel,
    chunk: list[tuple[Window, np.ndarray]],
    heads: tuple[str, ...],
    pixels: tuple[float, float],
    landmarks: np.ndarray,
    device: str,
    keep_flow: bool,
) -> None:
    """One batch of (window, aligned frames) through the model; fills the windows' outputs:
    class probabilities, saliency, and the flow and landmarks of the ``heads`` asked for."""
    o = EVAL_OFFSET
    batch = torch.stack([normalize_frames(c[:, o : o + CROP, o : o + CROP], *pixels)[None] for _, c in chunk])
    with torch.no_grad():
        out = trained.model(batch.to(device), heads=heads)
    saliency = out.motion_features.abs().mean(dim=(1, 2)).float().cpu().numpy()  # (B, 16, 16)
    probs = torch.softmax(out.mer_logits.float(), 1).cpu().tolist()
    for j, ((w, _), p) in enumerate(zip(chunk, probs, strict=True)):
        w.probabilities = [round(v, 6) for v in p]
        w.top_class = trained.classes[int(np.argmax(p))]
        w.saliency = saliency[j]
        if out.flow is not None:
            flow = out.flow[j].permute(3, 0, 1, 2).cpu().numpy().astype(np.float16)
            w.region_motion = region_motion(flow, landmarks[w.frames[0]] - o)
            w.flow = flow if keep_flow else None  # (7, 2, 128, 128) float16: 0.46 MB a window
        if out.landmarks is not None:
            w.predicted_landmarks = out.landmarks[j].T.reshape(FRAME_PAIRS, NUM_LANDMARKS, 2).float().cpu().numpy()


def classify_windows(
    trained: TrainedModel,
    located: Located,
    frames,
    heads: tuple[str, ...],
    batch_size: int,
    device: str,
    keep_flows: bool,
) -> tuple[tuple[float, float], tuple[Window, np.ndarray] | None]:
    """Classify every complete window not yet classified, in batches; return the pixel scaling
    used and (window, aligned frames) of the one where the model is most confident."""
    complete = [w for w in located.windows if w.complete and w.probabilities is None]
    # a model trained on per-subject statistics sees this video (one person) by its own
    pixels = (PIXEL_MEAN, PIXEL_SCALE)
    if trained.normalize != "fixed" and complete:
        pixels = pixel_statistics(located.frames_for_statistics(frames, complete))
    best: tuple[Window, np.ndarray] | None = None
    for chunk in batched(located.clips(frames, complete), batch_size):
        classify(trained, chunk, heads, pixels, located.landmarks, device, keep_flows)
        leader = max(chunk, key=lambda item: max(item[0].probabilities))
        if best is None or max(leader[0].probabilities) > max(best[0].probabilities):
            best = leader
    return pixels, best


def _prediction(
    input_path: Path, rate: float, num_frames: int, trained: TrainedModel, located: Located, mode: str
) -> Prediction:
    return Prediction(
        input=str(input_path),
        fps=rate,
        classes=trained.classes,
        model_config=trained.model.config.to_dict(),
        num_frames=num_frames,
        frames_without_face=located.missing,
        windows=located.windows,
        aligned=SparseFrames({}),
        landmarks=located.landmarks,
        mode=mode,
        spotted=located.spotted,
        model_name=trained.name,
        trace=located.trace,
        thumbnails=located.thumbnails,
    )


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
    input_path, watch = Path(input_path), Stopwatch()
    trained = load_trained(checkpoint, device, mode, class_names)
    align = align or trained.alignment
    watch.lap("load model")
    frames, video_fps = read_input(input_path)
    rate = float(fps) if fps else video_fps
    rate_note = frame_rate_note(input_path, rate, trained.trained_fps)
    if rate_note:
        warnings.warn(rate_note, stacklevel=2)
    watch.lap("read frames")
    if mode == "spot":
        located = locate_spotted(frames, rate, trained, spot_settings, align, device)
        watch.lap("spot and align")
    else:
        located = locate_windows(frames, input_path, rate, trained, window, stride, align)
        watch.lap("detect and align")
    # only the heads the checkpoint trained run: an untrained head's output is not a result
    detail = ("mer", *(head for head in ("flow", "landmarks") if head not in trained.hidden))
    every = ("mer",) if classify_only else detail
    pixels, best = classify_windows(trained, located, frames, every, batch_size, device, keep_flows)
    watch.lap("model on every window")
    result = _prediction(input_path, rate, len(frames), trained, located, mode)
    if best is not None:  # shown in detail, with its flow and landmarks
        result.best_window = best[0].index
        result.aligned = SparseFrames(dict(zip(best[0].frames, best[1], strict=True)))
        if every != detail or (best[0].flow is None and "flow" in detail):
            classify(trained, [best], detail, pixels, located.landmarks, device, keep_flow=True)
    result.training = None if trained.record is None else asdict(trained.record)
    result.hidden_heads = trained.hidden
    rate_notes = [rate_note] if rate_note else []
    result.notes = [*located.leading_notes, *trained.notes, *rate_notes, *located.trailing_notes]
    watch.lap("details of the best window")
    result.seconds = watch.seconds
    return result
