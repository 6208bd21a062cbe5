"""Pictures of a prediction: class probabilities over time, flow in the colour-wheel coding,
landmarks on the frames, where the face moved, and a saliency map of the F5C features."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mol.data.clips import CROP, EVAL_OFFSET
from mol.infer.prediction import Prediction, region_motion


def _plt():
    from mol.figures import pyplot

    return pyplot()


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """(2, H, W) or (H, W, 2) flow → RGB uint8: hue = direction, brightness = speed."""
    f = flow if flow.shape[-1] == 2 else np.moveaxis(flow, 0, -1)
    magnitude, angle = cv2.cartToPolar(f[..., 0].astype(np.float32), f[..., 1].astype(np.float32))
    scale = max_magnitude or float(np.percentile(magnitude, 99)) or 1.0
    hsv = np.zeros((*magnitude.shape, 3), np.uint8)
    hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)  # OpenCV hue spans 0..180
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def colour_wheel(size: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    wheel = flow_to_rgb(np.stack([xs, ys], -1), max_magnitude=1.0)
    wheel[np.hypot(xs, ys) > 1] = 255
    return wheel


def plot_timeline(prediction: Prediction, path: Path) -> None:
    """The spotted intervals along the video (red micro, orange macro), each classified
    micro-expression labelled with its class and probability."""
    plt = _plt()
    scale = 1 / prediction.fps if prediction.fps > 0 else 1.0
    fig, ax = plt.subplots(figsize=(10, 2.2))
    ax.plot([0, prediction.num_frames * scale], [0, 0], color="0.8", lw=1)
    colours = {"micro": "tab:red", "macro": "tab:orange"}
    for i in prediction.spotted:
        ax.broken_barh([(i.onset * scale, max(i.length, 1) * scale)], (-0.3, 0.6), color=colours[i.kind])
    for w in prediction.windows:
        text = f"{w.top_class} {max(w.probabilities):.2f}" if w.probabilities else "no face"
        ax.annotate(text, ((w.start + w.end) / 2 * scale, 0.35), ha="center", fontsize=8, rotation=20)
    ax.set_ylim(-0.6, 1.2)
    ax.set_yticks([])
    ax.set_xlabel("time (s)" if prediction.fps > 0 else "frame")
    found = sum(i.kind == "micro" for i in prediction.spotted)
    ax.set_title(
        f"spotted: {found} micro- (red, classified) and {len(prediction.spotted) - found} macro-expressions (orange)"
        if prediction.spotted
        else "no expression spotted"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_probabilities(prediction: Prediction, path: Path) -> None:
    plt = _plt()
    use_time = prediction.fps > 0
    centre = [(w.start + w.end) / 2 for w in prediction.windows]
    x = [prediction.time_of(c) for c in centre] if use_time else centre
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for k, name in enumerate(prediction.classes):
        y = [w.probabilities[k] if w.probabilities else np.nan for w in prediction.windows]
        ax.plot(x, y, marker="o", ms=3, label=name)
    half = 0.5 * (x[1] - x[0] if len(x) > 1 else 1)  # half the spacing between window centres
    for w, xc in zip(prediction.windows, x, strict=True):
        if not w.complete:
            ax.axvspan(
                xc - half,
                xc + half,
                color="grey",
                alpha=0.2,
                lw=0,
            )
    ax.set_ylim(0, 1)
    ax.set_xlabel("window centre (s)" if use_time else "window centre (frame)")
    ax.set_ylabel("probability")
    ax.set_title("class probabilities over time (grey: windows with frames lacking a face)")
    ax.legend(fontsize=8, ncol=min(5, len(prediction.classes)))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_flow(prediction: Prediction, path: Path) -> None:
    plt = _plt()
    window = prediction.windows[prediction.best_window]
    o = EVAL_OFFSET
    frames = prediction.aligned[window.frames][:, o : o + CROP, o : o + CROP]
    scale = float(np.percentile(np.linalg.norm(prediction.flow, axis=1), 99)) or 1.0
    fig, axes = plt.subplots(2, 8, figsize=(16, 4.4))
    for k in range(8):
        axes[0, k].imshow(frames[k], cmap="gray", vmin=0, vmax=255)
        axes[0, k].set_title(f"frame {window.frames[k]}", fontsize=8)
    for k in range(7):
        axes[1, k].imshow(flow_to_rgb(prediction.flow[k], scale))
        axes[1, k].set_title(f"flow {window.frames[k]}→{window.frames[k + 1]}", fontsize=8)
    axes[1, 7].imshow(colour_wheel())
    axes[1, 7].set_title(f"direction; full = {scale:.2f} px", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"window {window.index}: aligned frames and predicted flow", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_landmarks(prediction: Prediction, path: Path) -> None:
    plt = _plt()
    window = prediction.windows[prediction.best_window]
    o = EVAL_OFFSET
    fig, axes = plt.subplots(1, 7, figsize=(16, 2.8))
    for k in range(7):
        frame = window.frames[k + 1]
        axes[k].imshow(prediction.aligned[frame, o : o + CROP, o : o + CROP], cmap="gray", vmin=0, vmax=255)
        detected = prediction.landmarks[frame] - o
        axes[k].scatter(detected[:, 0], detected[:, 1], s=4, c="tab:green", label="detected (dlib)")
        pred = prediction.predicted_landmarks[k]
        axes[k].scatter(pred[:, 0], pred[:, 1], s=4, c="tab:red", label="predicted (MOL)")
        axes[k].set_xlim(0, CROP)
        axes[k].set_ylim(CROP, 0)
        axes[k].axis("off")
        axes[k].set_title(f"frame {frame}", fontsize=8)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_regions_and_saliency(prediction: Prediction, path: Path) -> dict[str, float]:
    plt = _plt()
    window = prediction.windows[prediction.best_window]
    motion = region_motion(prediction.flow, prediction.landmarks[window.frames[0]] - EVAL_OFFSET)
    o = EVAL_OFFSET
    face = prediction.aligned[window.frames[0], o : o + CROP, o : o + CROP]
    saliency = cv2.resize(prediction.saliency, (CROP, CROP), interpolation=cv2.INTER_CUBIC)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    left.barh(list(motion), list(motion.values()), color="tab:blue")
    left.invert_yaxis()
    left.set_xlabel("mean predicted flow magnitude (px per frame pair)")
    left.set_title("where the face moved")
    right.imshow(face, cmap="gray", vmin=0, vmax=255)
    right.imshow(saliency, cmap="inferno", alpha=0.45)
    right.axis("off")
    right.set_title("F5C feature saliency (mean |activation|)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return motion


def plot_spot_signal(prediction: Prediction, path: Path) -> None:
    """Each facial region's motion that comes and goes (the spotter's micro-expression signal)
    over time, the threshold a peak must pass (dashed) and the spotted intervals shaded."""
    trace = prediction.trace
    plt = _plt()
    use_time = prediction.fps > 0
    x = trace.frames / prediction.fps if use_time else trace.frames
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for k, name in enumerate(trace.regions):
        ax.plot(x, trace.signal[:, k], lw=0.9, label=name)
    ax.axhline(trace.threshold, color="k", ls="--", lw=1, label=f"threshold {trace.threshold:.2f} px")
    colours = {"micro": "tab:red", "macro": "tab:orange"}
    scale = 1 / prediction.fps if use_time else 1.0
    for i in prediction.spotted:
        ax.axvspan(i.onset * scale, (i.offset + 1) * scale, color=colours[i.kind], alpha=0.15)
    ax.set_xlabel("time (s)" if use_time else "frame")
    ax.set_ylabel("motion (aligned px)")
    ax.set_title("what the spotter saw: each region's motion that comes and goes (micro scale; shaded: spotted)")
    ax.legend(fontsize=7, ncol=5, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_thumbnails(prediction: Prediction, path: Path) -> None:
    """One row per spotted interval: the face at its onset, apex and offset, with its kind,
    frames and, for a classified micro-expression, its class."""
    plt = _plt()
    rows = [n for n in range(len(prediction.spotted)) if prediction.thumbnails.get(n)]
    classes = {(w.start, w.end): w for w in prediction.windows}
    fig, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.9 * len(rows)), squeeze=False)
    for r, n in enumerate(rows):
        interval = prediction.spotted[n]
        w = classes.get((interval.onset, interval.offset)) if interval.kind == "micro" else None
        verdict = (
            "macro"
            if interval.kind == "macro"
            else "micro: "
            + (f"{w.top_class} {max(w.probabilities):.2f}" if w is not None and w.probabilities else "not classified")
        )
        moments = zip(("onset", "apex", "offset"), (interval.onset, interval.apex, interval.offset), strict=True)
        for c, (image, (moment, frame)) in enumerate(zip(prediction.thumbnails[n], moments, strict=False)):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{moment} {prediction.time_of(frame):.2f} s", fontsize=7)
        axes[r, 0].set_ylabel(verdict, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
