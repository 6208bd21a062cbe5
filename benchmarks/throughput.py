"""Training throughput, one JSON line per configuration (the GPU measurement grid).

Each configuration runs `mol bench --json` in its own process, so peak memory is its own.
With --data, the training loader is timed too, at each worker count. Lines go to stdout
and, with --out, to a JSON-lines file (appended, so a grid can be spread over calls).

    python benchmarks/throughput.py --grid gpu --data synthetic.h5 --out throughput.jsonl
    python benchmarks/throughput.py --grid cpu
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

# (batch, dtype, extra flags): the reference points first, then one change at a time
GRIDS = {
    "gpu": [
        (32, "float32", []),
        (32, "bfloat16", []),
        (128, "bfloat16", []),
        (128, "bfloat16", ["--channels-last"]),
        (128, "bfloat16", ["--compile", "default"]),
        (128, "bfloat16", ["--compile", "reduce-overhead"]),  # CUDA graphs
        (128, "bfloat16", ["--compile", "max-autotune"]),
    ],
    "cpu": [
        (4, "float32", []),
        (4, "bfloat16", []),
        (4, "float32", ["--channels-last"]),
    ],
}
WORKERS = {"gpu": [0, 4, 8, 12], "cpu": [0, 1, 2]}


def run(args: list[str], timeout: float) -> tuple[dict | None, str]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mol", "bench", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout), ""


def model_line(batch: int, dtype: str, flags: list[str], device: str, timeout: float) -> dict:
    args = ["--batch", str(batch), "--dtype", dtype, "--device", device, "--repeats", "10", "--warmup", "3", *flags]
    started = time.perf_counter()
    report, error = run(args, timeout)
    line = {"kind": "model", "batch": batch, "dtype": dtype, "flags": " ".join(flags), "device": device}
    if report is None:
        return {**line, "error": error}
    return {
        **line,
        "device_name": report["device_name"],
        "train_ms": round(report["train_step"]["ms_median"], 2),
        "train_clips_s": round(report["train_step"]["clips_per_s"], 1),
        "train_peak_mib": round(report["train_step"]["peak_memory_mib"]),
        "eval_ms": round(report["eval_forward"]["ms_median"], 2),
        "eval_clips_s": round(report["eval_forward"]["clips_per_s"], 1),
        "eval_peak_mib": round(report["eval_forward"]["peak_memory_mib"]),
        "memory_kind": report["train_step"]["memory_kind"],
        "compile": report["compile"],
        "wall_s_incl_warmup": round(time.perf_counter() - started, 1),
        "torch": report["versions"]["torch"],
        "cuda": report["versions"]["cuda"],
    }


def data_line(cache: str, batch: int, workers: int, device: str, timeout: float) -> dict:
    args = ["--data", cache, "--batch", str(batch), "--workers", str(workers), "--device", device, "--batches", "40"]
    report, error = run(args, timeout)
    line = {"kind": "data", "batch": batch, "workers": workers, "device": device, "cache": cache}
    if report is None:
        return {**line, "error": error}
    keep = ("clips_per_s", "ms_per_batch_median", "bytes_per_clip_read", "peak_rss_mib_main", "peak_rss_mib_workers")
    return {**line, **{k: round(report[k], 1) if isinstance(report[k], float) else report[k] for k in keep}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", choices=sorted(GRIDS), default="cpu")
    parser.add_argument("--device", help="default: cuda for the gpu grid, cpu for the cpu grid")
    parser.add_argument("--data", help="a prepared cache: also time the training loader")
    parser.add_argument("--data-batch", type=int, help="loader batch (default: the grid's largest batch)")
    parser.add_argument("--only", choices=("model", "data"), help="run one half of the grid")
    parser.add_argument("--timeout", type=float, default=420, help="seconds per configuration (default 420)")
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args()
    device = args.device or ("cuda" if args.grid == "gpu" else "cpu")
    # quick configurations first (eager, then the loader), compiled ones last: a time limit
    # around the whole grid then cuts the slowest, not the basic figures
    eager = [c for c in GRIDS[args.grid] if "--compile" not in c[2]]
    compiled = [c for c in GRIDS[args.grid] if "--compile" in c[2]]
    lines = []
    if args.only != "data":
        lines += [lambda c=c: model_line(*c, device, args.timeout) for c in eager]
    if args.data and args.only != "model":
        batch = args.data_batch or max(b for b, _, _ in GRIDS[args.grid])
        lines += [lambda w=w: data_line(args.data, batch, w, device, args.timeout) for w in WORKERS[args.grid]]
    if args.only != "data":
        lines += [lambda c=c: model_line(*c, device, args.timeout) for c in compiled]
    for make in lines:
        line = json.dumps(make())
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(line + "\n")


if __name__ == "__main__":
    main()
