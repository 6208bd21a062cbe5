"""`mol demo`: the whole system on the embedded synthetic data, in minutes on a CPU.

the small synthetic benchmark's test part (4 different people, apex motion 0.5-2.5 px) →
prepare (exact flow, onset alignment) → LOSO training with the synthetic-demo preset → results tables → one test clip
through a trained fold's checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from mol.data.benchmark import part_config
from mol.data.cache import Cache
from mol.data.clips import ClipDataset
from mol.data.prepare import format_summary, prepare
from mol.data.synthetic import generate_dataset
from mol.model.checkpoint import load_checkpoint
from mol.train.config import load_config
from mol.train.results import format_table
from mol.train.run import train_run

DEMO_PART = "test"  # the demo reports on the benchmark's test people, as any result should


def build_synthetic_cache(
    out: Path, subjects: int | None = None, progress: bool = True, timings: dict | None = None, steps: int = 4
) -> Path:
    """The demo's data: the small synthetic benchmark's test part (``subjects``: only its first
    people, for quick checks) into out/synthetic, then `mol prepare` with exact flow and onset
    alignment into out/synthetic.h5."""
    timings = {} if timings is None else timings
    cache = out / "synthetic.h5"
    t = time.perf_counter()
    config = part_config(DEMO_PART, "small")
    if subjects is not None:
        config = replace(config, subjects=min(subjects, config.subjects))
    print(f"[1/{steps}] synthetic benchmark (small), {DEMO_PART} part: {', '.join(config.people[: config.subjects])}")
    generate_dataset(out / "synthetic", config, progress=progress)
    timings["synth"] = time.perf_counter() - t

    t = time.perf_counter()
    print(f"[2/{steps}] prepare (exact flow, onset alignment) → {cache}", flush=True)
    report = prepare("casme2", out / "synthetic", cache, flow="exact", align="onset", workers=2, progress=progress)
    print(format_summary(report))
    timings["prepare"] = time.perf_counter() - t
    return cache


def run_demo(out: Path, overrides: list[str] | None = None, subjects: int | None = None, progress: bool = True) -> dict:
    out = Path(out)
    timings = {}
    start = time.perf_counter()
    build_synthetic_cache(out, subjects, progress, timings, steps=4)

    t = time.perf_counter()
    print(f"[3/4] LOSO training, preset synthetic-demo → {out / 'run'}", flush=True)
    config = load_config("synthetic-demo", overrides)
    results = train_run([str(out / "synthetic.h5")], out / "run", config, progress=progress)
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    print("[4/4] predict one held-out clip with its fold's model", flush=True)
    cache = Cache(out / "synthetic.h5")
    first_fold = sorted((out / "run").glob("fold_*"))[0]
    model = load_checkpoint(first_fold / "model.safetensors").eval()
    subject = first_fold.name.split("_", 2)[-1]
    index = next(i for i, v in enumerate(cache.videos) if v.subject == subject)
    item = ClipDataset(cache, [index])[0]
    with torch.no_grad():
        out_model = model(item["clip"][None])
    probs = torch.softmax(out_model.mer_logits[0], 0).tolist()
    prediction = {
        "video": cache.videos[index].key,
        "true_class": cache.classes[item["label"]],
        "probabilities": dict(zip(cache.classes, [round(p, 4) for p in probs], strict=True)),
        # a head the preset never trained has no result to show
        "flow_epe_px": float((out_model.flow[0] - item["flow"]).norm(dim=0).mean()) if config.loss_flow > 0 else None,
    }
    (out / "prediction.json").write_text(json.dumps(prediction, indent=2))
    timings["predict"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start

    print("\n" + format_table(results))
    print(f"\none clip of {prediction['video']} (true: {prediction['true_class']}):")
    for name, p in prediction["probabilities"].items():
        print(f"  {name:<12}{p:6.3f} {'#' * round(40 * p)}")
    print("\noutputs:")
    for path, what in (
        (out / "synthetic", "synthetic videos, coding sheet, ground_truth.h5"),
        (out / "synthetic.h5", "aligned cache (+ .report.json/.csv)"),
        (out / "run" / "metrics.json", "metrics (clip and video level, per fold, per dataset)"),
        (out / "run" / "confusion.png", "confusion matrix"),
        (out / "run" / "curves.png", "training curves"),
        (first_fold / "model.safetensors", "a fold's checkpoint"),
        (out / "prediction.json", "the clip prediction above"),
    ):
        print(f"  {path}  — {what}")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    summary = {"timings_s": timings, "prediction": prediction, "video_level": results["video_level"]}
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    return summary
