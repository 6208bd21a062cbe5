"""The `mol` command line. Every sub-command prints a one-line error (exit 2) on bad input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _cmd_bench(args: argparse.Namespace) -> int:
    from mol.bench import format_report, run_bench

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.data:
        from mol.bench import format_data_report, run_data_bench

        data_report = run_data_bench(
            args.data,
            batch=args.batch,
            workers=args.workers,
            device=args.device,
            batches=args.batches,
            progress=progress,
        )
        print(json.dumps(data_report.to_dict(), indent=2) if args.json else format_data_report(data_report))
        return 0
    report = run_bench(
        batch=args.batch,
        device=args.device,
        dtype=args.dtype,
        repeats=args.repeats,
        warmup=args.warmup,
        num_classes=args.classes,
        progress=progress,
        channels_last=args.channels_last,
        compile_mode=args.compile,
        flow_pairs=args.flow_pairs,
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def _cmd_import_official(args: argparse.Namespace) -> int:
    from mol.model.checkpoint import save_checkpoint
    from mol.model.official import from_official

    model = from_official(args.input, num_classes=args.classes)
    out = save_checkpoint(model, args.output, extra={"source": "official", "source_file": Path(args.input).name})
    n = sum(p.numel() for p in model.parameters())
    print(f"imported {args.input} ({model.num_classes} classes, {n / 1e6:.1f} M parameters) → {out}")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from mol.data.prepare import format_summary, prepare

    report = prepare(
        args.dataset,
        Path(args.root),
        Path(args.out),
        sheet=Path(args.sheet) if args.sheet else None,
        scheme=args.scheme,
        align=args.align,
        flow=args.flow,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(format_summary(report))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    import time

    from mol.data.synthetic import SynthConfig, generate_dataset
    from mol.errors import ConfigError

    start = time.perf_counter()
    if args.long:
        from mol.data.longvideo import write_long_benchmark

        for part, info in write_long_benchmark(args.out_dir, progress=not args.quiet).items():
            print(f"{part}: {info['videos']} videos, {info['frames']} frames → {Path(args.out_dir) / part}")
        print(
            f"long-video benchmark in {time.perf_counter() - start:.1f} s; tune on dev, report on test once\n"
            f"next: mol spot {Path(args.out_dir) / 'dev' / 'casme2-long'} --dataset casme2-long --tune --out spot-dev"
        )
        return 0
    if args.benchmark:
        from mol.data.benchmark import write_benchmark

        manifest = write_benchmark(args.out_dir, args.benchmark, progress=not args.quiet)
        for part, info in manifest["parts"].items():
            print(f"{part}: {info['videos']} videos of {', '.join(info['people'])} → {Path(args.out_dir) / part}")
        print(
            f"benchmark {manifest['name']} v{manifest['version']} ({args.benchmark}) in "
            f"{time.perf_counter() - start:.1f} s; choose settings on dev, report on test once\n"
            f"next: mol prepare --dataset casme2 --root {Path(args.out_dir) / 'dev'} --out dev.h5 "
            "--flow exact --align onset"
        )
        return 0
    if args.min_amplitude > args.max_amplitude:
        raise ConfigError(f"--min-amplitude {args.min_amplitude} exceeds --max-amplitude {args.max_amplitude}")
    config = SynthConfig(
        scheme=args.scheme,
        subjects=args.subjects,
        clips_per_class=args.clips_per_class,
        seed=args.seed,
        size=args.size,
        people=tuple(args.people.split(",")) if args.people else SynthConfig.people,
        face_images=list(args.face_image or []),
        amplitude=(args.min_amplitude, args.max_amplitude),
        fps=args.fps,
        jpeg_quality=args.jpeg_quality,
        blur=(0.0, args.max_blur),
    )
    summary = generate_dataset(args.out_dir, config, progress=not args.quiet)
    dataset = "casme2" if config.fps == 200 else "manifest"
    print(
        f"wrote {summary['videos']} videos ({summary['frames']} frames) of {', '.join(summary['people'])} "
        f"to {args.out_dir} in {time.perf_counter() - start:.1f} s\n"
        f"next: mol prepare --dataset {dataset} --scheme {args.scheme} --root {args.out_dir} --out DATA.h5 "
        "--flow exact --align onset"
    )
    return 0


def _cmd_spot(args: argparse.Namespace) -> int:
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


def _cmd_train(args: argparse.Namespace) -> int:
    from mol.train.config import load_config
    from mol.train.results import format_table
    from mol.train.run import train_run

    overrides = list(args.set or [])
    for name in ("model", "protocol", "device", "precision", "val_subjects", "seed", "init"):
        value = getattr(args, name)
        if value is not None:
            overrides.append(f"{name}={value}")
    if args.report_oracle:
        overrides.append("report_oracle=true")
    config = load_config(args.config, overrides)
    results = train_run(
        args.cache, Path(args.out), config, args.folds.split(",") if args.folds else None, progress=not args.quiet
    )
    if results is not None:
        print(format_table(results))
        print(f"results: {args.out}/metrics.json, folds.csv, per_dataset.csv, confusion.png, curves.png")
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from mol.train.pretrain import PretrainConfig, Pretrainer, pretrain_settings

    config = PretrainConfig(**pretrain_settings(args))
    card = Pretrainer(config, Path(args.out)).run(progress=not args.quiet)
    final = card["final"]
    print(f"pre-trained {card['steps']} steps ({card['clips_seen']} fresh clips) in {card['training_seconds']:.0f} s")
    for key in sorted(final):
        if key.endswith(("au_micro_f1", "au_balanced_accuracy", "flow_epe", "flow_epe_zero", "nme_percent")):
            print(f"  {key}: {final[key]}")
    print(
        f"written: {args.out}/shippable.safetensors (for --init PATH), pretrained.safetensors, card.json, "
        "eval.csv, log.csv, curves.png"
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from mol.train.compare import format_markdown, write_comparison

    names = args.names.split(",") if args.names else None
    result = write_comparison([Path(r) for r in args.run_dir], Path(args.out), args.resamples, args.seed, names)
    print(format_markdown(result))
    print(f"written: {args.out}/compare.md, compare.csv, compare.json, compare.png")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from mol.train.results import format_table, write_results

    runs = [Path(r) for r in args.run_dir]
    out = Path(args.out) if args.out else runs[0]
    print(format_table(write_results(runs, out)))
    return 0


def _with_init(args: argparse.Namespace) -> list[str]:
    """The --set overrides, then --init as one more."""
    return [*(args.set or []), *([f"init={args.init}"] if args.init else [])]


def _cmd_demo(args: argparse.Namespace) -> int:
    from mol.demo import run_demo

    run_demo(Path(args.out), _with_init(args), subjects=args.subjects, progress=not args.quiet)
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from mol.ablation import format_ablation, run_ablation

    out = Path(args.out)
    caches = list(args.cache or [])
    if not caches:
        from mol.demo import build_synthetic_cache

        caches = [str(build_synthetic_cache(out, args.subjects, progress=not args.quiet, steps=2))]
    summary = run_ablation(
        caches,
        out,
        preset=args.config,
        overrides=_with_init(args),
        variants=args.variants.split(",") if args.variants else None,
        folds=args.folds.split(",") if args.folds else None,
        progress=not args.quiet,
        seeds=args.seeds,
    )
    print(format_ablation(summary))
    print(f"results: {out}/ablation.json, .csv, .md, .png, ablation_seeds.csv; each run under {out}/VARIANT/seed_S/")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
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


def _number(kind: type = int, low: float | None = None, high: float | None = None, above: float | None = None):
    """An argparse type: a number of ``kind`` in [low, high] (and > ``above``), else an error that
    argparse prints with the option's name."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be more than {above}, got {text}")
        return value

    return parse


def _span(text: str) -> str:
    """An argparse type: a span in frames (48) or seconds (0.25s), checked when parsed."""
    from mol.errors import ConfigError
    from mol.infer.windows import span_value

    try:
        span_value(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _at_least(low: float, kind: type = int):
    return _number(kind, low=low)


def build_parser() -> argparse.ArgumentParser:
    from mol import __version__
    from mol.constants import (
        ALIGN_MODES,
        BENCHMARK_SCALES,
        DATASET_LAYOUTS,
        EXACT_FLOW,
        FLOW_METHODS,
        IDENTITY_SOURCES,
        MOTION_INPUTS,
    )
    from mol.data.schemes import SCHEMES
    from mol.train.config import BENCH_DTYPES, COMPILE_MODES, PRECISIONS, PROTOCOLS

    parser = argparse.ArgumentParser(
        prog="mol", description="MOL: micro-expression recognition with optical flow and landmarks."
    )
    parser.add_argument("--version", action="version", version=f"mol {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of every error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # options several commands share, defined once
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("--quiet", action="store_true", help="no progress bars")
    preset = argparse.ArgumentParser(add_help=False)
    preset.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value (repeatable), e.g. --set lr=1e-4; the keys are the fields of TrainConfig, "
        "each with its meaning, in src/mol/train/config.py (an unknown key's error lists them)",
    )
    folds = argparse.ArgumentParser(add_help=False)
    folds.add_argument("--folds", help="comma-separated fold names or indices to run (for splitting over machines)")
    init = argparse.ArgumentParser(add_help=False)
    init.add_argument(
        "--init",
        metavar="{scratch,pretrained,PATH}",
        help="where MOL's weights start: scratch (the paper), pretrained (the shipped weights of `mol pretrain`, "
        "see the README's model card) or a file `mol pretrain` wrote (default: the preset's init)",
    )
    people = argparse.ArgumentParser(add_help=False)
    people.add_argument(
        "--subjects", type=int, help="only the first N people of the benchmark's test part, for a quick check (all 4)"
    )

    def command(name: str, func, help: str, description: str | None = None, parents=()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description or help, parents=list(parents))
        p.set_defaults(func=func)
        return p

    p = command(
        "bench",
        _cmd_bench,
        "time a training step and an eval forward on random clips",
        "Time a full training step (forward, joint loss, backward, AdamW) and an eval "
        "forward after warm-up; report the median, clips/s and peak memory.",
    )
    p.add_argument("--batch", type=int, default=4, help="clips per batch (default 4)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default cpu)")
    p.add_argument("--dtype", choices=BENCH_DTYPES, default="float32", help="precision; bf16/fp16 use autocast")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per phase (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--classes", type=int, default=5, help="number of MER classes (default 5)")
    p.add_argument("--channels-last", action="store_true", help="convolution weights NHWC")
    p.add_argument("--compile", choices=COMPILE_MODES, default="none", help="torch.compile mode (default none)")
    p.add_argument(
        "--flow-pairs", type=int, default=7, help="frame pairs of 7 whose flow the training step supervises (default 7)"
    )
    p.add_argument("--data", action="append", metavar="CACHE", help="time the training loader on a cache instead")
    p.add_argument("--workers", type=_at_least(0), default=0, help="with --data: loader worker processes (default 0)")
    p.add_argument("--batches", type=int, default=30, help="with --data: timed batches (default 30)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = command(
        "import-official",
        _cmd_import_official,
        "convert a reference MOL .pth checkpoint to a mol safetensors checkpoint",
        "Read a state dict saved by the reference implementation (weights_only, no "
        "arbitrary unpickling), check every key and shape, and write a safetensors checkpoint "
        "that stores the model configuration too.",
    )
    p.add_argument("input", help="reference checkpoint (.pth)")
    p.add_argument("output", help="output checkpoint (.safetensors)")
    p.add_argument("--classes", type=int, default=None, help="expected number of classes (checked)")

    p = command(
        "prepare",
        _cmd_prepare,
        "turn a raw dataset folder and its annotation sheet into an aligned, cached store",
        "Read a dataset as its owners ship it, detect and align the face in every frame, "
        "compute ground-truth flow for every frame pair a clip uses, and write one HDF5 cache plus a "
        "report (JSON and CSV) of every video stored or skipped. Rerunning resumes.",
        [quiet],
    )
    p.add_argument("--dataset", required=True, choices=DATASET_LAYOUTS, help="the raw dataset's layout")
    p.add_argument("--root", required=True, help="the dataset folder (for manifest: the CSV or its folder)")
    p.add_argument("--out", required=True, help="the cache file to write, e.g. casme2.h5")
    p.add_argument("--sheet", help="annotation sheet (default: found inside --root)")
    p.add_argument("--scheme", choices=sorted(SCHEMES), help="class scheme (default: the dataset's own)")
    p.add_argument("--align", choices=ALIGN_MODES, default=ALIGN_MODES[0], help="alignment (default per-frame)")
    p.add_argument(
        "--flow",
        choices=(*FLOW_METHODS, EXACT_FLOW),
        default=FLOW_METHODS[0],
        help="flow method (default tvl1); exact: the ground truth of a `mol synth` dataset",
    )
    p.add_argument("--workers", type=_at_least(1), default=1, help="parallel processes over videos (default 1)")

    p = command(
        "synth",
        _cmd_synth,
        "generate synthetic micro-expression videos with exact flow and landmarks",
        "Write a dataset in the CASME II raw layout (frames, coding sheet) from real face "
        "photos moved by action-unit motion fields, plus its exact ground truth (ground_truth.h5). "
        "Same seed, same bytes.",
        [quiet],
    )
    p.add_argument("out_dir", help="output folder")
    p.add_argument(
        "--long",
        action="store_true",
        help="write the long-video spotting benchmark instead (OUT/{dev,test}/{casme2-long,samm-long})",
    )
    p.add_argument(
        "--benchmark",
        choices=BENCHMARK_SCALES,
        help="write the fixed benchmark instead (OUT/dev and OUT/test, different people; small: 70 videos, "
        "large: 390); the other options are then ignored",
    )
    p.add_argument("--scheme", default="casme2-5", help="class scheme: casme2-5 (default), samm-5 or megc-3")
    p.add_argument(
        "--subjects", type=_at_least(1), default=6, help="subjects, each a different person while photos last (6)"
    )
    p.add_argument("--clips-per-class", type=_at_least(1), default=2, help="clips per class and subject (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything drawn (default 0): same seed, same bytes")
    p.add_argument("--size", type=_at_least(64), default=256, help="frame side in pixels, at least 64 (default 256)")
    p.add_argument(
        "--people", help="comma-separated built-in photographs in subject order (default: all, see FACES.md)"
    )
    p.add_argument(
        "--face-image", action="append", help="your own face photo, used before the built-in ones (repeatable)"
    )
    amplitude = _number(float, low=0.0)
    p.add_argument("--min-amplitude", type=amplitude, default=0.5, help="apex displacement, aligned px (default 0.5)")
    p.add_argument("--max-amplitude", type=amplitude, default=2.5, help="apex displacement, aligned px (default 2.5)")
    p.add_argument("--fps", type=_number(float, above=0.0), default=200.0, help="frame rate; timings follow it (200)")
    p.add_argument(
        "--jpeg-quality", type=_number(int, 0, 100), default=90, help="JPEG quality 1-100 of the frames; 0 for PNG (90)"
    )
    p.add_argument(
        "--max-blur",
        type=_number(float, low=0.0),
        default=0.0,
        help="per-subject blur sigma up to this, px (default 0)",
    )

    p = command(
        "spot",
        _cmd_spot,
        "find micro- and macro-expressions in long videos (training-free), and score them",
        "Track the face, measure each facial region's motion relative to the head, and turn motion "
        "that comes and goes into intervals with onset, apex, offset, type and score. With --dataset, "
        "INPUT is a CAS(ME)^2 or SAMM-LV root: every video is spotted and scored with the MEGC metric "
        "(IoU >= 0.5); --tune chooses the settings there (use dev data only) and writes spot_settings.json.",
        [quiet],
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
        type=_number(float, above=0.0),
        help="frame rate of a frame folder (required for one; videos carry their own)",
    )

    p = command(
        "train",
        _cmd_train,
        "train and test MOL under a leakage-free protocol (LOSO, composite, cross-dataset, held-out people)",
        "Train one model per fold and test it on the fold's held-out subject(s). No model "
        "selection uses test data; --val-subjects holds out training subjects for that. Rerunning the "
        "same command resumes: finished folds are kept, the running fold restarts from its checkpoint.",
        [preset, folds, init, quiet],
    )
    p.add_argument("--cache", action="append", required=True, help="a prepared cache (repeat for several)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--config", default=None, help="preset name (e.g. casme2-5cls, reference) or YAML file")
    p.add_argument(
        "--model", help="the method: mol (default), ststnet or flow-hist (baselines on onset-apex flow, same folds)"
    )
    p.add_argument("--protocol", choices=PROTOCOLS, help="how videos are split into folds (default: the preset's)")
    p.add_argument("--val-subjects", type=int, dest="val_subjects", help="training subjects held out for selection")
    p.add_argument("--report-oracle", action="store_true", help="also report the best-test-step figure (optimistic)")
    p.add_argument("--device", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--precision", choices=PRECISIONS, help="training arithmetic (default: the preset's, float32)")
    p.add_argument("--seed", type=int, help="seed of the folds' validation split and the weights (default: preset's)")

    p = command(
        "pretrain",
        _cmd_pretrain,
        "pre-train MOL on an endless stream of generated clips (no clip seen twice)",
        "Train MOL's recognition layers on which action units moved (multi-label), its flow head on "
        "exact flow and its landmark head on exact landmarks, on fresh generated clips of procedural "
        "faces; measure transfer on identities never trained on. Rerunning the same command resumes. "
        "Writes OUT/shippable.safetensors, which `mol train --init PATH` starts from.",
        [quiet],
    )
    p.add_argument("--out", required=True, help="output folder (rerun to resume)")
    p.add_argument("--steps", type=_at_least(1), default=2000, help="optimizer steps in all (default 2000)")
    p.add_argument(
        "--time-budget",
        type=_at_least(0.0, float),
        default=0.0,
        help="stop after this many seconds of training, summed over resumes (default 0: no limit)",
    )
    p.add_argument("--batch", type=_at_least(1), default=8, help="clips per step (default 8)")
    p.add_argument("--lr", type=_at_least(0.0, float), default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument(
        "--motion-input",
        choices=MOTION_INPUTS,
        default="diff",
        help="recognition reads raw frames (the paper) or frame differences (default diff)",
    )
    p.add_argument(
        "--identities",
        choices=IDENTITY_SOURCES,
        default="procedural",
        help="faces of the stream: procedural (default), photos (--people) or mixed",
    )
    p.add_argument(
        "--head-motion",
        action="store_true",
        help="the head moves as far as the action units, and which way it moved is a target too",
    )
    p.add_argument(
        "--texture-share",
        type=_number(float, 0.0, 1.0),
        help="share of clips whose face is blended with a random smooth texture (default 0)",
    )
    p.add_argument("--people", help="built-in photographs in the pool, comma-separated (never the test people)")
    p.add_argument(
        "--eval-people",
        default="hopper,paul",
        help="photographs the pool never holds, to measure transfer (default hopper,paul: the dev part)",
    )
    p.add_argument(
        "--curriculum-steps",
        type=_at_least(0),
        default=300,
        help="steps at 4-8 px apex motion, then as many down to 0.5-2.5 px (default 300)",
    )
    p.add_argument("--eval-every", type=_at_least(0), default=100, help="steps between transfer measures (100)")
    p.add_argument("--eval-clips", type=_at_least(8), default=64, help="clips per measuring set (default 64)")
    p.add_argument("--checkpoint-every", type=_at_least(1), default=50, help="steps between resume points (50)")
    p.add_argument("--workers", type=_at_least(0), default=1, help="clip-generating processes (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--precision", choices=("float32", "bfloat16"), default="float32", help="training arithmetic (float32)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the stream, the measuring sets and the weights")
    p.add_argument("--face-cache", help="folder keeping the framed photographs (lets a machine without dlib use them)")

    for name, text in (
        ("evaluate", "recompute and print a run's tables from its saved predictions"),
        ("aggregate", "merge the folds of several run directories into one set of tables"),
    ):
        p = command(name, _cmd_evaluate, text)
        p.add_argument("run_dir", nargs="+" if name == "aggregate" else 1, help="run directory")
        p.add_argument("--out", help="where to write the tables (default: the first run directory)")

    p = command(
        "compare",
        _cmd_compare,
        "one table of several runs on the same videos, with paired bootstrap intervals",
        "Video-level accuracy, UAR and UF1 of each run, overall and per dataset, with the majority-"
        "class and stratified-guessing rows and a paired bootstrap interval over subjects for each run's "
        "difference from the first. Writes compare.md, .csv, .json and .png.",
    )
    p.add_argument("run_dir", nargs="+", help="run directories; the first is the reference")
    p.add_argument("--out", default="compare-out", help="output folder (default compare-out)")
    p.add_argument("--names", help="comma-separated labels of the runs (default: their directory names)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default 0)")

    p = command(
        "demo",
        _cmd_demo,
        "the main job on the embedded synthetic data: synth → prepare → train → evaluate → predict",
        "Run the whole system on synthetic micro-expressions in minutes on a CPU and print where every output lies.",
        [preset, people, init, quiet],
    )
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")

    p = command(
        "ablate",
        _cmd_ablate,
        "train MER alone, + flow, + flow + landmarks on the same folds and compare",
        "Test whether the auxiliary tasks help: training runs identical but for the flow and landmark "
        "loss weights (0/0, 10/0, 10/0.1), each with seeds 0..N-1. Without --cache, builds the demo's "
        "synthetic set first. Rerunning resumes.",
        [preset, folds, people, init, quiet],
    )
    p.add_argument("--cache", action="append", help="a prepared cache (default: the demo's synthetic set)")
    p.add_argument("--out", default="ablation-out", help="output folder (default ablation-out)")
    p.add_argument("--config", default="synthetic-demo", help="shared preset or YAML (default synthetic-demo)")
    p.add_argument("--variants", help="comma-separated subset of mer, mer_flow, mer_flow_landmarks")
    p.add_argument("--seeds", type=int, default=1, help="runs per variant, seeds 0..N-1, paired across variants")

    p = command(
        "predict",
        _cmd_predict,
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
        "--window", type=_span, help="windows mode: span in frames (48) or seconds (0.25s); default 48 frames"
    )
    p.add_argument("--stride", type=_span, help="step between windows in frames or seconds; default span/6")
    p.add_argument(
        "--fps", type=_number(float, above=0.0), help="frame rate of a frame folder (videos carry their own)"
    )
    p.add_argument("--align", choices=ALIGN_MODES, help="alignment (default: as the checkpoint's training data)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--classes", help="names of the model's classes in training order, comma-separated (default: the checkpoint's)"
    )
    p.add_argument("--classify-only", action="store_true", help="skip flow and landmarks per window (faster)")
    p.add_argument("--save-flow", action="store_true", help="also write every window's predicted flow (flows.npz)")
    return parser


def _check_output(args: argparse.Namespace) -> None:
    """An output path that cannot be made is refused in one line before any work."""
    from mol.files import check_output_path

    if args.command == "prepare":
        check_output_path(Path(args.out), "--out", folder=False)
    elif getattr(args, "out_dir", None):
        check_output_path(Path(args.out_dir), "OUT_DIR")
    elif getattr(args, "out", None):
        check_output_path(Path(args.out))


def main(argv: Sequence[str] | None = None) -> int:
    """Errors a user can fix (mol.errors) and OSError print one line naming the file and the fix
    (exit 2); anything else is a bug and shows its traceback. ``--debug`` shows every traceback."""
    from mol.errors import MolError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_output(args)
        return args.func(args)
    except (MolError, OSError) as exc:
        if args.debug:
            raise
        print(f"mol {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
