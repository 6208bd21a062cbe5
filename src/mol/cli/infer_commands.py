"""`mol spot` and `mol predict`: finding and recognising expressions in videos.

Each command's options sit beside its handler."""

from __future__ import annotations

import argparse
from pathlib import Path

from mol.cli.options import Shared, number, span
from mol.constants import ALIGN_MODES


def add_spot(shared: Shared) -> None:
    p = shared.command(
        "spot",
        run_spot,
        "find micro- and macro-expressions in long videos (training-free), and score them",
        "Track the face, measure each facial region's motion relative to the head, and turn motion "
        "that comes and goes into intervals with onset, apex, offset, type and score. With --dataset, "
        "INPUT is a CAS(ME)^2 or SAMM-LV root: every video is spotted and scored with the MEGC metric "
        "(IoU >= 0.5); --tune chooses the settings there (use dev data only) and writes spot_settings.json.",
        [shared.quiet],
    )
    p.add_argument("input", help="a video file or frame folder, or with --dataset a dataset root")
    p.add_argument("--dataset", choices=("casme2-long", "samm-long"), help="INPUT is a long-video dataset root")
    p.add_argument("--sheet", help="the dataset's expression sheet (default: found inside INPUT)")
    p.add_argument("--out", default="spot-out", help="output folder (default spot-out)")
    p.add_argument("--settings", help="spot_settings.json from a --tune run (default: the built-in settings)")
    p.add_argument("--tune", action="store_true", help="choose settings on this dataset's annotations (dev only)")
    p.add_argument("--baseline", action="store_true", help="the trivial baseline: thresholded frame differences")
    p.add_argument(
        "--fps",
        type=number(float, above=0.0),
        help="frame rate of a frame folder (required for one; videos carry their own)",
    )


def run_spot(args: argparse.Namespace) -> int:
    from mol.infer.spot_eval import format_summary
    from mol.infer.spot_run import (
        faceless_note,
        load_settings,
        measure_video,
        run_spot_dataset,
        write_faceless,
        write_intervals,
    )

    settings = load_settings(Path(args.settings) if args.settings else None)
    if args.baseline:
        from dataclasses import replace

        settings = replace(settings, signal="difference")
    out = Path(args.out)
    if args.dataset:
        summary = run_spot_dataset(
            args.dataset,
            Path(args.input),
            out,
            settings,
            tune_settings=args.tune,
            sheet=Path(args.sheet) if args.sheet else None,
            progress=not args.quiet,
        )
        print(format_summary(summary["evaluation"]))
        if summary["videos_without_face"]:
            print(f"warning: no face in any frame of {', '.join(summary['videos_without_face'])} (see faceless.csv)")
        print(
            f"{summary['videos']} videos, {summary['frames']} frames, front-end {summary['frames_per_second']} "
            f"frames/s; skipped {len(summary['skipped'])} sheet rows; wrote {out}/spotting_metrics.json, .csv, "
            f"intervals.csv, timeline.png" + (f", {out}/spot_settings.json" if args.tune else "")
        )
        return 0
    if args.tune:
        from mol.errors import ConfigError

        raise ConfigError("--tune needs annotated videos: give a dataset root with --dataset casme2-long|samm-long")
    from mol.infer.spot import spot

    source = Path(args.input)
    signals = measure_video(source, args.fps or 0.0, out / "signals" / f"{source.stem}.npz", not args.quiet)
    signals.require_face(source)
    intervals = spot(signals, settings)
    write_intervals({source.stem: intervals}, {source.stem: signals.fps}, out)
    write_faceless({source.stem: signals}, out)
    note = faceless_note(signals)
    if note:
        print(f"note: {note}")
    for i in intervals:
        print(f"{i.kind:5s} frames {i.onset}-{i.offset} ({i.onset / signals.fps:.2f}-{i.offset / signals.fps:.2f} s)")
    print(
        f"{len(intervals) or 'no'} expression{'s' if len(intervals) != 1 else ''} found; "
        f"wrote {out}/intervals.csv, intervals.json, faceless.csv"
    )
    return 0


def add_predict(shared: Shared) -> None:
    p = shared.command(
        "predict",
        run_predict,
        "run a trained model over a video or a folder of frames; write tables, PNGs and report.html",
        "Spot the micro-expressions in the video (as `mol spot`), align each like `mol prepare` and "
        "classify it, or with --mode windows classify sliding windows; report class probabilities, "
        "predicted flow and landmarks, where the face moved. Any model `mol train` makes works: MOL "
        "reads the aligned clip, STSTNet and the flow histogram the onset-to-apex flow of each "
        "spotted micro-expression (spot mode only).",
    )
    p.add_argument("input", help="video file (mp4, avi, mov) or folder of frames")
    p.add_argument(
        "--checkpoint", required=True, help="model.safetensors of a `mol train` fold (mol, ststnet or flow-hist)"
    )
    p.add_argument("--out", default="prediction", help="output folder (default prediction)")
    p.add_argument(
        "--mode",
        choices=("spot", "windows"),
        default="spot",
        help="spot (default): find micro-expressions first and classify each; windows: classify sliding windows",
    )
    p.add_argument("--spot-settings", help="spot_settings.json of `mol spot --tune` (default: built-in settings)")
    p.add_argument(
        "--window", type=span, help="windows mode: span in frames (48) or seconds (0.25s); default 48 frames"
    )
    p.add_argument("--stride", type=span, help="step between windows in frames or seconds; default span/6")
    p.add_argument("--fps", type=number(float, above=0.0), help="frame rate of a frame folder (videos carry their own)")
    p.add_argument("--align", choices=ALIGN_MODES, help="alignment (default: as the checkpoint's training data)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--classes", help="names of the model's classes in training order, comma-separated (default: the checkpoint's)"
    )
    p.add_argument("--classify-only", action="store_true", help="skip flow and landmarks per window (faster)")
    p.add_argument("--save-flow", action="store_true", help="also write every window's predicted flow (flows.npz)")


def run_predict(args: argparse.Namespace) -> int:
    import time

    from mol.infer.predict import predict
    from mol.infer.report import write_outputs
    from mol.infer.spot_run import load_settings

    start = time.perf_counter()
    result = predict(
        args.input,
        args.checkpoint,
        window=args.window,
        stride=args.stride,
        device=args.device,
        fps=args.fps,
        align=args.align,
        classify_only=args.classify_only,
        mode=args.mode,
        spot_settings=load_settings(Path(args.spot_settings)) if args.spot_settings else None,
        keep_flows=args.save_flow,
        class_names=args.classes.split(",") if args.classes else None,
    )
    files = write_outputs(result, Path(args.out), save_flow=args.save_flow)
    done = [w for w in result.windows if w.complete]
    what = "micro-expressions spotted and classified" if result.mode == "spot" else "windows"
    print(
        f"{result.input}: {result.num_frames} frames, {len(result.windows)} {what} "
        f"({len(result.windows) - len(done)} without a face in a sampled frame), "
        f"{len(result.frames_without_face)} frames without a face; {time.perf_counter() - start:.1f} s"
    )
    if result.mode == "spot":
        for i in result.spotted:
            print(f"  spotted {i.kind:5s} frames {i.onset:>5}-{i.offset:<5}")
    for note in result.notes:
        print(f"note: {note}")
    for w in done[:10]:
        print(f"  window {w.index:>3} frames {w.start:>5}-{w.end:<5} {w.top_class:<12} {max(w.probabilities):.3f}")
    if len(done) > 10:
        print(f"  … {len(done) - 10} more in {files['csv']}")
    print("outputs: " + ", ".join(str(p) for p in files.values()))
    return 0


COMMANDS = (add_spot, add_predict)
