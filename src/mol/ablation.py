"""`mol ablate`: do the auxiliary tasks help? MER alone vs + flow vs + flow + landmarks.

Each variant is an ordinary `mol train` run (same preset, same folds, same schedule) that
differs only in the loss weights, once per seed (out/VARIANT/seed_S), so every run directory
has the usual tables. Rerunning resumes: finished runs and folds are kept. Without --cache the
demo's synthetic set is built first (out/synthetic.h5).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mol.errors import ConfigError
from mol.figures import markdown_table, signed_interval
from mol.model.record import HEAD_ERRORS
from mol.train.compare import RESAMPLES, bootstrap_indices, interval, load_run_videos, scores, subject_ids
from mol.train.config import load_config
from mol.train.folders import RunFolder
from mol.train.run import train_run


@dataclass(frozen=True)
class Variant:
    name: str  # also the run directory under out/
    label: str
    loss_flow: float
    loss_landmark: float


# the joint objective's weights: MER 1, flow 10, landmarks 0.1
VARIANTS = (
    Variant("mer", "MER alone", 0.0, 0.0),
    Variant("mer_flow", "MER + flow", 10.0, 0.0),
    Variant("mer_flow_landmarks", "MER + flow + landmarks", 10.0, 0.1),
)


def variant_by_name(names: list[str] | None) -> list[Variant]:
    if not names:
        return list(VARIANTS)
    known = {v.name: v for v in VARIANTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; variants are {', '.join(known)}")
    return [known[n] for n in names]


ERRORS = tuple(name for pair in HEAD_ERRORS.values() for name in pair)  # the heads' errors and their baselines'
SUMMARISED = ("video_uar", "video_uf1", *ERRORS)


def seed_dir(out: Path, variant: Variant, seed: int) -> Path:
    return out / variant.name / f"seed_{seed}"


def run_ablation(
    caches: list[str],
    out: Path,
    preset: str = "synthetic-demo",
    overrides: list[str] | None = None,
    variants: list[str] | None = None,
    folds: list[str] | None = None,
    progress: bool = True,
    seeds: int = 1,
    resamples: int = RESAMPLES,
) -> dict:
    """Train every variant with seeds 0..seeds-1 on the same folds (seed s of every variant
    shares its initialisation draws and batch order: the runs are paired); write
    ablation.json/.csv/.md/.png and return the table."""
    if seeds < 1:
        raise ConfigError(f"seeds must be ≥ 1, got {seeds}")
    out = Path(out)
    for seed in range(seeds):
        for variant in variant_by_name(variants):
            weights = ["loss_mer=1.0", f"loss_flow={variant.loss_flow}", f"loss_landmark={variant.loss_landmark}"]
            config = load_config(preset, [*(overrides or []), *weights, f"seed={seed}"])
            where = seed_dir(out, variant, seed)
            print(f"== {variant.label}, seed {seed} → {where}", flush=True)
            if train_run(caches, where, config, folds, progress=progress) is None:
                return {}  # a non-zero rank under torchrun: rank 0 writes the table
    summary = summarize(out, preset, overrides, caches, resamples)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(summary, indent=2))
    _write_csv(out / "ablation.csv", summary["variants"])
    _write_csv(out / "ablation_seeds.csv", summary["runs"])
    (out / "ablation.md").write_text(format_ablation(summary) + "\n")
    if summary["variants"]:
        plot_ablation(summary["variants"], out / "ablation.png", summary["chance_uar"])
    return summary


def finished_runs(out: Path) -> dict[str, dict[int, Path]]:
    """{variant: {seed: run directory}} of every finished run under out/ (earlier calls too)."""
    found: dict[str, dict[int, Path]] = {}
    for variant in VARIANTS:
        for run in sorted((out / variant.name).glob("seed_*")):
            if RunFolder(run).metrics.is_file():
                found.setdefault(variant.name, {})[int(run.name.split("_")[1])] = run
    return found


def summarize(out: Path, preset: str, overrides, caches, resamples: int = RESAMPLES) -> dict:
    """Per variant: mean and spread over seeds, and a paired bootstrap over subjects of its
    difference from MER alone (on the seeds both have), resampling people, not clips."""
    found = finished_runs(out)
    runs = [_run_row(v, seed, path) for v in VARIANTS for seed, path in sorted(found.get(v.name, {}).items())]
    videos = {(r["variant"], r["seed"]): load_run_videos(found[r["variant"]][r["seed"]]) for r in runs}
    rows = []
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant.name]
        if not mine:
            continue
        row = {"variant": variant.name, "label": variant.label, "seeds": len(mine)}
        for key in SUMMARISED:
            values = [r[key] for r in mine if r[key] is not None]
            row[f"{key}_mean"] = round(float(np.mean(values)), 4) if values else None
            row[f"{key}_sd"] = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else None
        row.update(_difference_from_mer(variant, videos, resamples))
        rows.append(row)
    return {
        "preset": preset,
        "overrides": list(overrides or []),
        "caches": [str(Path(c).resolve()) for c in caches],
        "chance_uar": runs[0]["chance_uar"] if runs else None,
        "resamples": resamples,
        "variants": rows,
        "runs": runs,
    }


def _difference_from_mer(variant: Variant, videos: dict, resamples: int) -> dict:
    """Mean over shared seeds of (variant − MER alone) video UF1 and UAR, with a 95 % interval
    from resampling subjects (the same draw for both, and for every seed)."""
    empty = {f"diff_{m}": None for m in ("uf1", "uar")} | {f"diff_{m}_ci": None for m in ("uf1", "uar")}
    seeds = sorted(s for v, s in videos if v == variant.name and ("mer", s) in videos)
    if variant.name == "mer" or not seeds:
        return empty
    base = videos[("mer", seeds[0])]
    labels, groups, n = base.table["label"].to_numpy(), subject_ids(base.table), len(base.classes)
    pairs = [
        (videos[(variant.name, s)].table["pred"].to_numpy(), videos[("mer", s)].table["pred"].to_numpy()) for s in seeds
    ]

    def difference(rows: np.ndarray) -> np.ndarray:
        d = [
            [scores(labels[rows], a[rows], n)[m] - scores(labels[rows], b[rows], n)[m] for m in ("uf1", "uar")]
            for a, b in pairs
        ]
        return np.mean(d, axis=0)

    point = difference(np.arange(len(labels)))
    rng = np.random.default_rng(0)
    boot = np.array([difference(rows) for rows in bootstrap_indices(groups, resamples, rng)])
    out = {}
    for i, m in enumerate(("uf1", "uar")):
        out[f"diff_{m}"] = round(float(point[i]), 4)
        out[f"diff_{m}_ci"] = [round(v, 4) for v in interval(boot[:, i])]
    return out


def _predictions(videos: dict, variant: str, seed: int) -> np.ndarray:
    return videos[(variant, seed)].table["pred"].to_numpy()


def _run_row(variant: Variant, seed: int, run: Path) -> dict:
    results = json.loads(RunFolder(run).metrics.read_text())
    video = results["video_level"]
    aux = results["test_ground_truth_errors"]
    return {
        "variant": variant.name,
        "seed": seed,
        "folds": len(results["per_fold_clip_level"]),
        "videos": video["n"],
        "video_uar": round(video["uar"], 4),
        "video_uf1": round(video["uf1"], 4),
        **{name: aux.get(name) for name in ERRORS},
        "chance_uar": results["chance_uar"],
        "train_seconds": round(sum(f["seconds"] for f in results["folds"]), 1),
    }


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        if rows:
            writer = csv.DictWriter(fh, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def format_ablation(summary: dict) -> str:
    def spread(row: dict, key: str, fmt: str = ".3f") -> str:
        mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
        if mean is None:
            return "—"
        return format(mean, fmt) + ("" if sd is None else f" ± {format(sd, fmt)}")

    def diff(row: dict, key: str) -> str:
        return signed_interval(row[f"diff_{key}"], row[f"diff_{key}_ci"])

    def versus(row: dict, key: str, baseline: str, fmt: str) -> str:
        value = spread(row, key, fmt)
        base = row[f"{baseline}_mean"]
        return value if value == "—" or base is None else f"{value} (trivial {format(base, fmt)})"

    chance = summary["chance_uar"]
    lines = [
        f"chance UAR {chance:.3f}; preset {summary['preset']} {' '.join(summary['overrides'])}".rstrip()
        if chance is not None
        else "no finished runs",
        "mean ± sd over seeds; differences from MER alone averaged over paired seeds, with a 95 % "
        f"interval from {summary['resamples']} resamples of the test subjects",
    ]
    header = ["variant", "seeds", "video UAR", "video UF1", "ΔUF1 vs MER [95 % CI]", "test flow EPE px", "test NME %"]
    rows = [
        [
            r["label"],
            str(r["seeds"]),
            spread(r, "video_uar"),
            spread(r, "video_uf1"),
            diff(r, "uf1"),
            versus(r, "flow_epe_px", "zero_flow_epe_px", ".3f"),
            versus(r, "landmark_nme_percent", "mean_shape_nme_percent", ".2f"),
        ]
        for r in summary["variants"]
    ]
    lines += markdown_table(header, rows)
    return "\n".join(lines)


def plot_ablation(rows: list[dict], path: Path, chance_uar: float) -> None:
    from mol.figures import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(2.2 * len(rows) + 2, 3.8))
    x = np.arange(len(rows))
    for offset, key, name in ((-0.2, "video_uar", "video UAR"), (0.2, "video_uf1", "video UF1")):
        sds = [r[f"{key}_sd"] or 0.0 for r in rows]
        bars = ax.bar(x + offset, [r[f"{key}_mean"] for r in rows], width=0.38, yerr=sds, capsize=3, label=name)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.axhline(chance_uar, color="grey", ls="--", lw=1, label="chance UAR")
    ax.set_xticks(x, [r["label"] for r in rows])
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out subjects")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Do the auxiliary tasks help? same folds and schedule; mean ± sd over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
