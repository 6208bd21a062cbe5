"""Several seeds of several training recipes on the same videos: mean ± sd per recipe, and a paired
subject-bootstrap interval of each recipe's difference from a reference recipe, averaged over the
seeds it shares with it (seed s of one recipe is paired with seed s of the other).

    python benchmarks/seed_comparison.py --out cmp \\
        "scratch=runs/scr-s0,runs/scr-s1,runs/scr-s2" "pretrained=runs/pre-s0,runs/pre-s1,runs/pre-s2"

The first recipe is the reference. Every run must have been tested on the same videos (the same
cache and folds). ``--subject S`` keeps one held-out person's videos and resamples videos instead
(for a fold whose other person is not a clean measure). Writes seeds.json, seeds.csv (one row per
run) and seeds.md, with each recipe's paired difference seed by seed beside the interval: the
interval holds the predictions of each seed fixed, so it does not carry the spread between seeds.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from mol.files import write_csv_atomically, write_text_atomically
from mol.train.compare import METRICS, RunVideos, interval, load_run_videos, paired_bootstrap, scores, subject_ids


def parse_groups(items: list[str]) -> dict[str, list[Path]]:
    groups = {}
    for item in items:
        name, sep, dirs = item.partition("=")
        if not sep or not dirs:
            raise SystemExit(f"expected NAME=RUN[,RUN…], got {item!r}")
        groups[name] = [Path(d) for d in dirs.split(",") if d]
    return groups


def only_subject(run: RunVideos, subject: str) -> RunVideos:
    """The run's videos of one held-out subject (``dataset/subject`` or ``subject``)."""
    key = run.table["dataset"].astype(str) + "/" + run.table["subject"].astype(str)
    keep = (key == subject) | (run.table["subject"].astype(str) == subject)
    if not keep.any():
        raise SystemExit(f"{run.name}: no video of subject {subject!r}")
    return replace(run, table=run.table[keep.to_numpy()].reset_index(drop=True))


def compare_seeds(groups: dict[str, list[Path]], resamples: int, seed: int, subject: str | None = None) -> dict:
    """``subject``: only that held-out person's videos, resampled video by video (one person
    cannot be resampled as a unit)."""
    runs = {name: [load_run_videos(d) for d in dirs] for name, dirs in groups.items()}
    if subject:
        runs = {name: [only_subject(r, subject) for r in seeds] for name, seeds in runs.items()}
    first = next(iter(runs.values()))[0]
    for name, seeds in runs.items():
        for run in seeds:
            if not run.table[["dataset", "subject", "video", "label"]].equals(
                first.table[["dataset", "subject", "video", "label"]]
            ):
                raise SystemExit(f"{name}: {run.name} was tested on other videos than {first.name}")
    labels = first.table["label"].to_numpy()
    groups_ids = np.arange(len(first.table)) if subject else subject_ids(first.table)
    n = len(first.classes)
    flat = [(name, i, run) for name, seeds in runs.items() for i, run in enumerate(seeds)]
    boot = paired_bootstrap(labels, [r.table["pred"].to_numpy() for _, _, r in flat], groups_ids, n, resamples, seed)
    index = {(name, i): k for k, (name, i, _) in enumerate(flat)}
    reference = next(iter(runs))
    rows, per_run = [], []
    # (seeds, metrics) per recipe, each run scored once
    values_of = {
        name: np.array([[scores(labels, r.table["pred"].to_numpy(), n)[m] for m in METRICS] for r in seeds])
        for name, seeds in runs.items()
    }
    for name, seeds in runs.items():
        values = values_of[name]
        for i in range(len(seeds)):
            per_run.append(
                {
                    "recipe": name,
                    "seed_index": i,
                    "run": str(groups[name][i]),
                    **dict(zip(METRICS, values[i], strict=True)),
                }
            )
        row = {"recipe": name, "seeds": len(seeds), "videos": len(labels)}
        for m, metric in enumerate(METRICS):
            row[f"{metric}_mean"] = float(values[:, m].mean())
            row[f"{metric}_sd"] = float(values[:, m].std(ddof=1)) if len(seeds) > 1 else 0.0
        shared = [i for i in range(len(seeds)) if (reference, i) in index]
        if name != reference and shared:
            for m, metric in enumerate(METRICS):
                diff = np.mean([boot[:, index[(name, i)], m] - boot[:, index[(reference, i)], m] for i in shared], 0)
                by_seed = [float(values[i, m] - values_of[reference][i, m]) for i in shared]
                row[f"delta_{metric}"] = float(np.mean(by_seed))
                row[f"delta_{metric}_ci95"] = interval(diff)
                row[f"delta_{metric}_by_seed"] = by_seed
        rows.append(row)
    unit = "video" if subject else "subject"
    return {
        "reference": reference,
        "resamples": resamples,
        "resampling_unit": unit,
        "subject": subject,
        "classes": first.classes,
        "recipes": rows,
        "runs": per_run,
    }


def _delta(row: dict, metric: str) -> str:
    if f"delta_{metric}" not in row:
        return "—"
    low, high = row[f"delta_{metric}_ci95"]
    return f"{row[f'delta_{metric}']:+.3f} [{low:+.3f}, {high:+.3f}]"


def markdown(result: dict) -> str:
    lines = [
        f"Video level, mean ± sd over seeds; Δ = paired difference from {result['reference']} (seed s with seed s), "
        f"averaged over seeds, 95 % interval from {result['resamples']} {result['resampling_unit']} bootstrap resamples"
        + (f"; held-out subject {result['subject']} only." if result["subject"] else "."),
        "",
        "| recipe | seeds | videos | UAR | UF1 | Δ UAR [95 % CI] | Δ UF1 [95 % CI] | Δ UF1 by seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["recipes"]:
        by_seed = ", ".join(f"{d:+.3f}" for d in r.get("delta_uf1_by_seed", [])) or "—"
        lines.append(
            f"| {r['recipe']} | {r['seeds']} | {r['videos']} | {r['uar_mean']:.3f} ± {r['uar_sd']:.3f} | "
            f"{r['uf1_mean']:.3f} ± {r['uf1_sd']:.3f} | {_delta(r, 'uar')} | {_delta(r, 'uf1')} | {by_seed} |"
        )
    lines += [
        "",
        f"The interval resamples {result['resampling_unit']}s with each seed's predictions fixed: it does not "
        "carry the spread between fine-tuning seeds, which the last column shows.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "groups", nargs="+", help="NAME=RUN,RUN,… (one run directory per seed); the first is the reference"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subject", help="only this held-out subject's videos (DATASET/SUBJECT or SUBJECT)")
    args = parser.parse_args()
    result = compare_seeds(parse_groups(args.groups), args.resamples, args.seed, args.subject)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(args.out / "seeds.json", json.dumps(result, indent=2) + "\n")
    write_csv_atomically(args.out / "seeds.csv", result["runs"])
    text = markdown(result)
    write_text_atomically(args.out / "seeds.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
