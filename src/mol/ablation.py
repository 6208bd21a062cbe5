"""`mol ablate`: do the auxiliary tasks help? MER alone vs + flow vs + flow + landmarks.

Each variant is an ordinary `mol train` run (same preset, same folds, same seeds, same
schedule) that differs only in the loss weights, so every run directory has the usual
tables. Rerunning resumes: finished variants and folds are kept. Without --cache the
demo's synthetic set is built first (out/synthetic.h5).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mol.train.config import load_config
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
        raise ValueError(f"unknown variant(s) {unknown}; variants are {', '.join(known)}")
    return [known[n] for n in names]


def run_ablation(
    caches: list[str],
    out: Path,
    preset: str = "synthetic-demo",
    overrides: list[str] | None = None,
    variants: list[str] | None = None,
    folds: list[str] | None = None,
    progress: bool = True,
) -> dict:
    """Train every variant on the same folds; write ablation.json/.csv/.png and return the table."""
    out = Path(out)
    for variant in variant_by_name(variants):
        weights = ["loss_mer=1.0", f"loss_flow={variant.loss_flow}", f"loss_landmark={variant.loss_landmark}"]
        config = load_config(preset, [*(overrides or []), *weights])
        print(f"== {variant.label} → {out / variant.name}", flush=True)
        if train_run(caches, out / variant.name, config, folds, progress=progress) is None:
            return {}  # a non-zero rank under torchrun: rank 0 writes the table
    # the table covers every variant finished under out/, also those run by earlier calls
    rows = [
        _row(v, json.loads((out / v.name / "metrics.json").read_text()))
        for v in VARIANTS
        if (out / v.name / "metrics.json").is_file()
    ]
    summary = {
        "preset": preset,
        "overrides": list(overrides or []),
        "caches": [str(Path(c).resolve()) for c in caches],
        "chance_uar": rows[0]["chance_uar"] if rows else None,
        "variants": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(summary, indent=2))
    _write_csv(out / "ablation.csv", rows)
    if rows:
        plot_ablation(rows, out / "ablation.png")
    return summary


def _row(variant: Variant, results: dict) -> dict:
    fold_uar = [f["uar"] for f in results["per_fold_clip_level"]]
    video, clip = results["video_level"], results["clip_level"]
    aux = results["test_ground_truth_errors"]
    return {
        "variant": variant.name,
        "label": variant.label,
        "loss_flow": variant.loss_flow,
        "loss_landmark": variant.loss_landmark,
        "folds": len(fold_uar),
        "videos": video["n"],
        "video_uar": round(video["uar"], 4),
        "video_uf1": round(video["uf1"], 4),
        "video_accuracy": round(video["accuracy"], 4),
        "clip_uar": round(clip["uar"], 4),
        "clip_uf1": round(clip["uf1"], 4),
        "fold_clip_uar_mean": round(float(np.mean(fold_uar)), 4),
        "fold_clip_uar_std": round(float(np.std(fold_uar)), 4),
        "test_flow_epe_px": None if aux["flow_epe_px"] is None else round(aux["flow_epe_px"], 4),
        "test_landmark_nme_percent": None
        if aux["landmark_nme_percent"] is None
        else round(aux["landmark_nme_percent"], 3),
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
    def num(value, fmt):
        return "—" if value is None else format(value, fmt)

    lines = [
        f"chance UAR {summary['chance_uar']:.3f}; preset {summary['preset']} {' '.join(summary['overrides'])}".rstrip(),
        "| variant | video UAR | video UF1 | clip UAR | fold UAR (mean ± sd) | test flow EPE px | test NME % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["variants"]:
        lines.append(
            f"| {r['label']} | {r['video_uar']:.3f} | {r['video_uf1']:.3f} | {r['clip_uar']:.3f} | "
            f"{r['fold_clip_uar_mean']:.3f} ± {r['fold_clip_uar_std']:.3f} | "
            f"{num(r['test_flow_epe_px'], '.3f')} | {num(r['test_landmark_nme_percent'], '.2f')} |"
        )
    return "\n".join(lines)


def plot_ablation(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2.2 * len(rows) + 2, 3.8))
    x = np.arange(len(rows))
    for offset, key, name in ((-0.2, "video_uar", "video UAR"), (0.2, "video_uf1", "video UF1")):
        bars = ax.bar(x + offset, [r[key] for r in rows], width=0.38, label=name)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.axhline(rows[0]["chance_uar"], color="grey", ls="--", lw=1, label="chance UAR")
    ax.set_xticks(x, [r["label"] for r in rows])
    ax.set_ylim(0, 1)
    ax.set_ylabel("held-out subjects (LOSO)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Do the auxiliary tasks help? same folds, same schedule")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
