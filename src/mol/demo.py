"""`mol demo`: the whole system on the embedded synthetic data, in minutes on a CPU.

the small synthetic benchmark's test part (4 different people, apex motion 0.5-2.5 px) →
prepare (exact flow, onset alignment) → joint training (recognition, flow, landmarks) on two
people with the synthetic-demo preset, tested on the other two (one held-out split, not LOSO,
to fit a few minutes) → results tables, with flow EPE and landmark NME beside their trivial
baselines → one held-out clip through the trained checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from mol.data.cache import Cache
from mol.data.clips import ClipDataset
from mol.data.prepare import format_summary, prepare
from mol.data.synthetic import generate_dataset
from mol.data.synthetic.benchmark import part_config
from mol.model.checkpoint import load_checkpoint
from mol.train.config import load_config
from mol.train.folders import FoldFolder, RunFolder
from mol.train.losses import LossWeights
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


def demo_split(people: int) -> list[str]:
    """The held-out people of the demo's single split: the second half of the subjects (the
    test part's 4 people: Collins and Biden train, Obama and Kanade are tested)."""
    return [f"sub{i + 1:02d}" for i in range(people // 2, people)]


def run_demo(out: Path, overrides: list[str] | None = None, subjects: int | None = None, progress: bool = True) -> dict:
    out = Path(out)
    load_config("synthetic-demo", overrides)  # a bad setting stops here, before minutes of work
    timings = {}
    start = time.perf_counter()
    cache_path = build_synthetic_cache(out, subjects, progress, timings, steps=4)
    cache = Cache(cache_path)
    people = len({v.subject for v in cache.videos})
    held_out = demo_split(people)

    t = time.perf_counter()
    print(f"[3/4] joint training (preset synthetic-demo), testing people {', '.join(held_out)} → {out / 'run'}")
    split = ["protocol=holdout", f"test_subjects={','.join(held_out)}"]
    config = load_config("synthetic-demo", [*split, *(overrides or [])])
    results = train_run([str(cache_path)], out / "run", config, progress=progress)
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    print("[4/4] predict one held-out clip with the trained model", flush=True)
    run = RunFolder(out / "run")
    fold = run.folds()[0]
    prediction = predict_one_clip(fold.model, cache, held_out, config)
    (out / "prediction.json").write_text(json.dumps(prediction, indent=2))
    timings["predict"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start

    print("\n" + format_table(results))
    print(f"\none clip of {prediction['video']} (true: {prediction['true_class']}):")
    for name, p in prediction["probabilities"].items():
        print(f"  {name:<12}{p:6.3f} {'#' * round(40 * p)}")
    print_outputs(out, run, fold)
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    summary = {
        "timings_s": timings,
        "held_out_people": held_out,
        "prediction": prediction,
        "video_level": results["video_level"],
        "test_ground_truth_errors": results["test_ground_truth_errors"],
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=2))
    return summary


def predict_one_clip(checkpoint: Path, cache: Cache, held_out: list[str], config) -> dict:
    """The trained model on the first clip of a held-out person: class probabilities, and the
    flow's EPE beside zero flow's where the preset trained the flow head."""
    model = load_checkpoint(checkpoint).eval()
    index = next(i for i, v in enumerate(cache.videos) if v.subject in held_out)
    item = ClipDataset(cache, [index], normalize=config.normalize)[0]
    trained = LossWeights(config.loss_mer, config.loss_flow, config.loss_landmark).heads()
    with torch.no_grad():  # a head the preset never trained has no result to show: it is not run
        out_model = model(item["clip"][None], heads=("mer", *(h for h in trained if h != "mer")))
    flow = out_model.flow
    probs = torch.softmax(out_model.mer_logits[0], 0).tolist()
    return {
        "video": cache.videos[index].key,
        "true_class": cache.classes[item["label"]],
        "probabilities": dict(zip(cache.classes, [round(p, 4) for p in probs], strict=True)),
        "flow_epe_px": None if flow is None else float((flow[0] - item["flow"]).norm(dim=0).mean()),
        "zero_flow_epe_px": None if flow is None else float(item["flow"].norm(dim=0).mean()),
    }


def print_outputs(out: Path, run: RunFolder, fold: FoldFolder) -> None:
    print("\noutputs:")
    for path, what in (
        (out / "synthetic", "synthetic videos, coding sheet, ground_truth.h5"),
        (out / "synthetic.h5", "aligned cache (+ .report.json/.csv)"),
        (run.metrics, "metrics: recognition, flow EPE and landmark NME beside their trivial baselines"),
        (run.confusion, "confusion matrix"),
        (run.curves, "training curves"),
        (fold.model, "the trained checkpoint"),
        (out / "prediction.json", "the clip prediction above"),
    ):
        print(f"  {path}  — {what}")
