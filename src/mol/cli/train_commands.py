"""`mol train`, `pretrain`, `evaluate`, `aggregate`, `compare`, `demo`, `ablate` and `bench`.

Each command's options sit beside its handler."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mol.cli.options import Shared, at_least, number
from mol.constants import IDENTITY_SOURCES, MOTION_INPUTS
from mol.train.config import BENCH_DTYPES, COMPILE_MODES, PRECISIONS, PROTOCOLS


def with_init(args: argparse.Namespace) -> list[str]:
    """The --set overrides, then --init as one more."""
    return [*(args.set or []), *([f"init={args.init}"] if args.init else [])]


def add_train(shared: Shared) -> None:
    p = shared.command(
        "train",
        run_train,
        "train and test MOL under a leakage-free protocol (LOSO, composite, cross-dataset, held-out people)",
        "Train one model per fold and test it on the fold's held-out subject(s). No model "
        "selection uses test data; --val-subjects holds out training subjects for that. Rerunning the "
        "same command resumes: finished folds are kept, the running fold restarts from its checkpoint.",
        [shared.preset, shared.folds, shared.init, shared.quiet],
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


def run_train(args: argparse.Namespace) -> int:
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


def add_pretrain(shared: Shared) -> None:
    p = shared.command(
        "pretrain",
        run_pretrain,
        "pre-train MOL on an endless stream of generated clips (no clip seen twice)",
        "Train MOL's recognition layers on which action units moved (multi-label), its flow head on "
        "exact flow and its landmark head on exact landmarks, on fresh generated clips of procedural "
        "faces; measure transfer on identities never trained on. Rerunning the same command resumes. "
        "Writes OUT/shippable.safetensors, which `mol train --init PATH` starts from.",
        [shared.quiet],
    )
    p.add_argument("--out", required=True, help="output folder (rerun to resume)")
    p.add_argument("--steps", type=at_least(1), default=2000, help="optimizer steps in all (default 2000)")
    p.add_argument(
        "--time-budget",
        type=at_least(0.0, float),
        default=0.0,
        help="stop after this many seconds of training, summed over resumes (default 0: no limit)",
    )
    p.add_argument("--batch", type=at_least(1), default=8, help="clips per step (default 8)")
    p.add_argument("--lr", type=at_least(0.0, float), default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument(
        "--motion-input",
        choices=MOTION_INPUTS,
        default="diff",
        help="recognition reads raw frames (the paper) or frame differences (default diff)",
    )
    targets = (
        ("au", "1", "which action units moved"),
        ("head", "1", "which way the head moved, with --head-motion"),
        ("flow", "10", "the exact flow; 0 skips the flow head, several times faster"),
        ("landmark", "0.1", "the exact landmarks"),
    )
    for target, default, what in targets:
        p.add_argument(
            f"--loss-{target}",
            type=at_least(0.0, float),
            help=f"weight of the {target} loss: {what} (default {default}; 0 leaves it untrained)",
        )
    p.add_argument(
        "--identities",
        choices=IDENTITY_SOURCES,
        default="procedural",
        help="faces of the stream: procedural (default), photos (--people), mixed, or textures (no face: "
        "random textures moved as faces would)",
    )
    p.add_argument(
        "--head-motion",
        action="store_true",
        help="the head moves as far as the action units, and which way it moved is a target too",
    )
    p.add_argument(
        "--plain-motion",
        action="store_true",
        help="with --head-motion: the head's motion alone, no action units, blinks or photometry (a first "
        "stage for the raw input)",
    )
    p.add_argument(
        "--sharp-textures",
        action="store_true",
        help="random textures finer and stronger (blur 1-1.5 px, the capability check's kind): their motion shows more",
    )
    p.add_argument(
        "--texture-share",
        type=number(float, 0.0, 1.0),
        help="share of clips whose face is blended with a random smooth texture (default 0)",
    )
    p.add_argument(
        "--photo-share",
        type=number(float, 0.0, 1.0),
        help="with --identities mixed: the share of clips whose face is a photograph (default 0.5)",
    )
    p.add_argument(
        "--morph-share",
        type=number(float, 0.0, 1.0),
        help="share of photograph clips whose face is morphed part of the way (at most halfway) towards a new "
        "procedural face: people the pool does not hold (default 0)",
    )
    p.add_argument(
        "--people",
        help="built-in photographs in the pool, comma-separated: the synthetic subjects' (never the test people) "
        "and the pool-only cranston",
    )
    p.add_argument(
        "--eval-people",
        default="hopper,paul",
        help="photographs the pool never holds, to measure transfer (default hopper,paul: the dev part)",
    )
    p.add_argument(
        "--curriculum-steps",
        type=at_least(0),
        default=300,
        help="steps at 4-8 px apex motion, then as many down to 0.5-2.5 px (default 300)",
    )
    p.add_argument("--eval-every", type=at_least(0), default=100, help="steps between transfer measures (100)")
    p.add_argument("--eval-clips", type=at_least(8), default=64, help="clips per measuring set (default 64)")
    p.add_argument("--checkpoint-every", type=at_least(1), default=50, help="steps between resume points (50)")
    p.add_argument("--workers", type=at_least(0), default=1, help="clip-generating processes (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--precision", choices=("float32", "bfloat16"), default="float32", help="training arithmetic (float32)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the stream, the measuring sets and the weights")
    p.add_argument(
        "--init",
        help="start from the weights of an earlier `mol pretrain` run (its pretrained.safetensors): a later "
        "stage with other settings (default: scratch)",
    )
    p.add_argument(
        "--flow-only",
        action="store_true",
        help="train the flow head alone on top of --init's network (every other layer stays as it is); its "
        "deepest layers keep a start drawn from --seed, so that the shipped file holds the rest of the head "
        "and the seed (about 9 MB instead of 80)",
    )
    p.add_argument(
        "--flow-pyramid",
        type=at_least(0.0, float),
        help="weight of the flow decoder's coarser predictions (flow1..flow6, each against the exact flow averaged "
        "to its size) beside flow0 in the flow loss: FlowNet's multi-scale loss (default 0: flow0 alone, as the "
        "reference)",
    )
    p.add_argument("--face-cache", help="folder keeping the framed photographs (lets a machine without dlib use them)")


def run_pretrain(args: argparse.Namespace) -> int:
    from mol.train.pretrain import Pretrainer
    from mol.train.pretrain_config import PretrainConfig, pretrain_settings

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


def add_evaluate(shared: Shared) -> None:
    for name, text in (
        ("evaluate", "recompute and print a run's tables from its saved predictions"),
        ("aggregate", "merge the folds of several run directories into one set of tables"),
    ):
        p = shared.command(name, run_evaluate, text)
        p.add_argument("run_dir", nargs="+" if name == "aggregate" else 1, help="run directory")
        p.add_argument("--out", help="where to write the tables (default: the first run directory)")


def run_evaluate(args: argparse.Namespace) -> int:
    from mol.train.results import format_table, write_results

    runs = [Path(r) for r in args.run_dir]
    out = Path(args.out) if args.out else runs[0]
    print(format_table(write_results(runs, out)))
    return 0


def add_compare(shared: Shared) -> None:
    p = shared.command(
        "compare",
        run_compare,
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


def run_compare(args: argparse.Namespace) -> int:
    from mol.train.compare import format_markdown, write_comparison

    names = args.names.split(",") if args.names else None
    result = write_comparison([Path(r) for r in args.run_dir], Path(args.out), args.resamples, args.seed, names)
    print(format_markdown(result))
    print(f"written: {args.out}/compare.md, compare.csv, compare.json, compare.png")
    return 0


def add_demo(shared: Shared) -> None:
    p = shared.command(
        "demo",
        run_demo,
        "the main job on the embedded synthetic data: synth → prepare → train → evaluate → predict",
        "Run the whole system on synthetic micro-expressions in minutes on a CPU and print where every output lies.",
        [shared.preset, shared.people, shared.init, shared.quiet],
    )
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")


def run_demo(args: argparse.Namespace) -> int:
    from mol import demo

    demo.run_demo(Path(args.out), with_init(args), subjects=args.subjects, progress=not args.quiet)
    return 0


def add_ablate(shared: Shared) -> None:
    p = shared.command(
        "ablate",
        run_ablate,
        "train MER alone, + flow, + flow + landmarks on the same folds and compare",
        "Test whether the auxiliary tasks help: training runs identical but for the flow and landmark "
        "loss weights (0/0, 10/0, 10/0.1), each with seeds 0..N-1. Without --cache, builds the demo's "
        "synthetic set first. Rerunning resumes.",
        [shared.preset, shared.folds, shared.people, shared.init, shared.quiet],
    )
    p.add_argument("--cache", action="append", help="a prepared cache (default: the demo's synthetic set)")
    p.add_argument("--out", default="ablation-out", help="output folder (default ablation-out)")
    p.add_argument("--config", default="synthetic-demo", help="shared preset or YAML (default synthetic-demo)")
    p.add_argument("--variants", help="comma-separated subset of mer, mer_flow, mer_flow_landmarks")
    p.add_argument("--seeds", type=int, default=1, help="runs per variant, seeds 0..N-1, paired across variants")


def run_ablate(args: argparse.Namespace) -> int:
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
        overrides=with_init(args),
        variants=args.variants.split(",") if args.variants else None,
        folds=args.folds.split(",") if args.folds else None,
        progress=not args.quiet,
        seeds=args.seeds,
    )
    print(format_ablation(summary))
    print(f"results: {out}/ablation.json, .csv, .md, .png, ablation_seeds.csv; each run under {out}/VARIANT/seed_S/")
    return 0


def add_bench(shared: Shared) -> None:
    p = shared.command(
        "bench",
        run_bench,
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
    p.add_argument("--workers", type=at_least(0), default=0, help="with --data: loader worker processes (default 0)")
    p.add_argument("--batches", type=int, default=30, help="with --data: timed batches (default 30)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run_bench(args: argparse.Namespace) -> int:
    from mol import bench

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
    report = bench.run_bench(
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
    print(json.dumps(report.to_dict(), indent=2) if args.json else bench.format_report(report))
    return 0


COMMANDS = (add_train, add_pretrain, add_evaluate, add_compare, add_demo, add_ablate, add_bench)
