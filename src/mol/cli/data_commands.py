"""`mol import-official`, `mol prepare`, `mol synth`: weights and data in.

Each command's options sit beside its handler."""

from __future__ import annotations

import argparse
from pathlib import Path

from mol.cli.options import Shared, at_least, number
from mol.constants import ALIGN_MODES, BENCHMARK_SCALES, DATASET_LAYOUTS, EXACT_FLOW, FLOW_METHODS
from mol.data.schemes import SCHEMES


def add_import_official(shared: Shared) -> None:
    p = shared.command(
        "import-official",
        run_import_official,
        "convert a reference MOL .pth checkpoint to a mol safetensors checkpoint",
        "Read a state dict saved by the reference implementation (weights_only, no "
        "arbitrary unpickling), check every key and shape, and write a safetensors checkpoint "
        "that stores the model configuration too.",
    )
    p.add_argument("input", help="reference checkpoint (.pth)")
    p.add_argument("output", help="output checkpoint (.safetensors)")
    p.add_argument("--classes", type=int, default=None, help="expected number of classes (checked)")


def run_import_official(args: argparse.Namespace) -> int:
    from mol.model.checkpoint import save_checkpoint
    from mol.model.official import from_official

    model = from_official(args.input, num_classes=args.classes)
    out = save_checkpoint(model, args.output, extra={"source": "official", "source_file": Path(args.input).name})
    n = sum(p.numel() for p in model.parameters())
    print(f"imported {args.input} ({model.num_classes} classes, {n / 1e6:.1f} M parameters) → {out}")
    return 0


def add_prepare(shared: Shared) -> None:
    p = shared.command(
        "prepare",
        run_prepare,
        "turn a raw dataset folder and its annotation sheet into an aligned, cached store",
        "Read a dataset as its owners ship it, detect and align the face in every frame, "
        "compute ground-truth flow for every frame pair a clip uses, and write one HDF5 cache plus a "
        "report (JSON and CSV) of every video stored or skipped. Rerunning resumes.",
        [shared.quiet],
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
    p.add_argument("--workers", type=at_least(1), default=1, help="parallel processes over videos (default 1)")


def run_prepare(args: argparse.Namespace) -> int:
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


def add_synth(shared: Shared) -> None:
    p = shared.command(
        "synth",
        run_synth,
        "generate synthetic micro-expression videos with exact flow and landmarks",
        "Write a dataset in the CASME II raw layout (frames, coding sheet) from real face "
        "photos moved by action-unit motion fields, plus its exact ground truth (ground_truth.h5). "
        "Same seed, same bytes.",
        [shared.quiet],
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
        "--subjects", type=at_least(1), default=6, help="subjects, each a different person while photos last (6)"
    )
    p.add_argument("--clips-per-class", type=at_least(1), default=2, help="clips per class and subject (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything drawn (default 0): same seed, same bytes")
    p.add_argument("--size", type=at_least(64), default=256, help="frame side in pixels, at least 64 (default 256)")
    p.add_argument(
        "--people", help="comma-separated built-in photographs in subject order (default: all, see FACES.md)"
    )
    p.add_argument(
        "--face-image", action="append", help="your own face photo, used before the built-in ones (repeatable)"
    )
    amplitude = number(float, low=0.0)
    p.add_argument("--min-amplitude", type=amplitude, default=0.5, help="apex displacement, aligned px (default 0.5)")
    p.add_argument("--max-amplitude", type=amplitude, default=2.5, help="apex displacement, aligned px (default 2.5)")
    p.add_argument("--fps", type=number(float, above=0.0), default=200.0, help="frame rate; timings follow it (200)")
    p.add_argument(
        "--jpeg-quality", type=number(int, 0, 100), default=90, help="JPEG quality 1-100 of the frames; 0 for PNG (90)"
    )
    p.add_argument(
        "--max-blur",
        type=number(float, low=0.0),
        default=0.0,
        help="per-subject blur sigma up to this, px (default 0)",
    )


def run_synth(args: argparse.Namespace) -> int:
    import time

    from mol.data.synthetic import SynthConfig, generate_dataset
    from mol.errors import ConfigError

    start = time.perf_counter()
    if args.long:
        from mol.data.synthetic.long_dataset import write_long_benchmark

        for part, info in write_long_benchmark(args.out_dir, progress=not args.quiet).items():
            print(f"{part}: {info['videos']} videos, {info['frames']} frames → {Path(args.out_dir) / part}")
        print(
            f"long-video benchmark in {time.perf_counter() - start:.1f} s; tune on dev, report on test once\n"
            f"next: mol spot {Path(args.out_dir) / 'dev' / 'casme2-long'} --dataset casme2-long --tune --out spot-dev"
        )
        return 0
    if args.benchmark:
        from mol.data.synthetic.benchmark import write_benchmark

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


COMMANDS = (add_import_official, add_prepare, add_synth)
