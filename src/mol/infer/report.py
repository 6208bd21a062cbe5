"""The files `mol predict` writes: predictions.json/.csv, PNGs and a self-contained report.html."""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

import numpy as np

from mol.infer.prediction import Prediction
from mol.infer.visualize import (
    plot_flow,
    plot_landmarks,
    plot_probabilities,
    plot_regions_and_saliency,
    plot_spot_signal,
    plot_thumbnails,
    plot_timeline,
)


def write_outputs(prediction: Prediction, out: Path, save_flow: bool = False) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "predictions.json", "csv": out / "predictions.csv"}
    with_flow = [w for w in prediction.windows if w.flow is not None]
    if save_flow and with_flow:
        files["flows"] = out / "flows.npz"  # per window: (7, 2, 128, 128) float16 over its sampled pairs
        np.savez_compressed(files["flows"], **{f"window_{w.index}": w.flow for w in with_flow})
    data = prediction.to_dict()
    if prediction.mode == "spot":
        files["timeline"] = out / "timeline.png"
        plot_timeline(prediction, files["timeline"])
    if prediction.trace is not None:
        files["spot_signal"] = out / "spot_signal.png"
        plot_spot_signal(prediction, files["spot_signal"])
    if prediction.thumbnails:
        files["thumbnails"] = out / "intervals.png"
        plot_thumbnails(prediction, files["thumbnails"])
    if prediction.windows:
        files["probabilities"] = out / "probabilities.png"
        plot_probabilities(prediction, files["probabilities"])
    # only heads the checkpoint trained are drawn: an untrained head's output is not a result
    if prediction.best_window is not None and prediction.flow is not None:
        files["flow"], files["regions"] = out / "flow.png", out / "regions.png"
        plot_flow(prediction, files["flow"])
        data["region_motion_px"] = plot_regions_and_saliency(prediction, files["regions"])
    if prediction.best_window is not None and prediction.predicted_landmarks is not None:
        files["landmarks"] = out / "landmarks.png"
        plot_landmarks(prediction, files["landmarks"])
    files["json"].write_text(json.dumps(data, indent=2))
    with open(files["csv"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "window",
                "start_frame",
                "end_frame",
                "start_s",
                "end_s",
                "complete",
                *[f"p_{c}" for c in prediction.classes],
                "top_class",
            ]
        )
        for w in data["windows"]:
            probs = w["probabilities"] or {}
            writer.writerow(
                [
                    w["index"],
                    w["start_frame"],
                    w["end_frame"],
                    f"{w['start_s']:.4f}",
                    f"{w['end_s']:.4f}",
                    w["complete"],
                    *[probs.get(c, "") for c in prediction.classes],
                    w["top_class"] or "",
                ]
            )
    files["html"] = out / "report.html"
    files["html"].write_text(_html(prediction, data, files))
    return files


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(alt)
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'


def _html(prediction: Prediction, data: dict, files: dict[str, Path]) -> str:
    e = html.escape
    rows = []
    for w in data["windows"]:
        probs = w["probabilities"]
        cells = "".join(f"<td>{probs[c]:.3f}</td>" if probs else "<td>–</td>" for c in prediction.classes)
        status = "" if w["complete"] else ' class="missing"'
        rows.append(
            f"<tr{status}><td>{w['index']}</td><td>{w['start_frame']}–{w['end_frame']}</td>"
            f"<td>{w['start_s']:.3f}–{w['end_s']:.3f}</td>{cells}<td>{e(w['top_class'] or 'no face')}</td></tr>"
        )
    missing = ", ".join(f"{m['frame']} ({m['time_s']:.3f} s)" for m in data["frames_without_face"]) or "none"
    figures = []
    for key, alt in (
        ("timeline", "spotted expressions along the video, micro-expressions with their class"),
        ("spot_signal", "what the spotter saw: each region's motion over time and the threshold it must pass"),
        ("thumbnails", "the face at the onset, apex and offset of every spotted interval, with its class"),
        ("probabilities", "class probabilities over time"),
        ("flow", "aligned frames and predicted flow (colour wheel: hue = direction)"),
        ("landmarks", "predicted (red) and detected (green) landmarks"),
        ("regions", "where the face moved, and F5C saliency"),
    ):
        if key in files:
            figures.append(_img(files[key], alt))
    header = "".join(f"<th>{e(c)}</th>" for c in prediction.classes)
    heading = "Spotted micro-expressions" if prediction.mode == "spot" else "Windows"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(prediction.model_name)} prediction: {e(Path(prediction.input).name)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}
tr.missing{{color:#999}}p.note{{background:#fff3cd;padding:6px 10px}}
img{{max-width:100%}}figure{{margin:1.5em 0}}code{{background:#f3f3f3}}</style></head>
<body><h1>Micro-expressions of {e(Path(prediction.input).name)}</h1>
<p>input <code>{e(prediction.input)}</code>: {prediction.num_frames} frames at {prediction.fps:.1f} fps;
frames without a face: {e(missing)}</p>
{"".join(f'<p class="note"><strong>{e(note)}</strong></p>' for note in prediction.notes)}
<p>model: <strong>{e(prediction.model_name)}</strong> <code>{e(json.dumps(prediction.model_config))}</code>;
classes: {e(", ".join(prediction.classes))}</p>
{"".join(figures)}
<h2>{heading}</h2><table><tr><th>window</th><th>frames</th><th>time (s)</th>{header}<th>top class</th></tr>
{"".join(rows) or f'<tr><td colspan="{len(prediction.classes) + 4}">none</td></tr>'}</table></body></html>
"""
