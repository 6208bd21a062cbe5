"""Where does pre-trained action-unit detection stop transferring: which action units, and is it
the features or only the threshold?

For pre-trained weights (whose class layer scores the stream's action units), each action unit's
detection on fresh clips at the benchmark's amplitudes (0.5-2.5 px) of identities never in a
pre-training pool: procedural faces from a held-out seed, and photographs of people (by default
the dev part's). Per action unit: balanced accuracy at the 0.5 threshold the transfer measure
uses, and the area under the ROC curve (AUC), which no threshold moves: an AUC well above 0.5
with a balanced accuracy near 0.5 means the evidence is in the output but miscalibrated, which a
fine-tuned class layer can fix; an AUC near 0.5 means it is not there.

    python benchmarks/au_transfer.py --out au-v1 [--init pretrained|PATH] [--motion-input diff]
        [--people hopper,paul] [--clips 256] [--seed 11] [--amplitude 0.5,2.5]

Writes OUT/au_transfer.csv (a row per set and action unit), OUT/au_transfer.json (the same with
the means and the command) and OUT/au_transfer.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from mol.data.synthetic.stream import STREAM_AUS
from mol.files import write_text_atomically
from mol.model.mol import MOL
from mol.model.pretrained import resolve_init, start_from
from mol.train.pretrain_config import PretrainConfig
from mol.train.pretrain_measures import batch_to_device, make_eval_sets


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive clip scores above a negative one (ties count half); NaN when
    either kind is absent."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))  # ties share their mean rank
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def parse_amplitude(text: str) -> tuple[float, float]:
    """The text LOW,HIGH in px as (LOW, HIGH), with 0 < LOW <= HIGH."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(f"--amplitude wants LOW,HIGH in px (e.g. 0.5,2.5), got {text!r}") from None
    if not 0 < low <= high:
        raise SystemExit(f"--amplitude wants 0 < LOW <= HIGH, got {text!r}")
    return low, high


def per_unit(probs: np.ndarray, truth: np.ndarray) -> list[dict]:
    """A row per action unit: positives, balanced accuracy at 0.5, AUC."""
    rows = []
    for k, name in enumerate(STREAM_AUS):
        positive = truth[:, k] >= 0.5
        pred = probs[:, k] >= 0.5
        both = positive.any() and (~positive).any()
        balanced = 0.5 * (pred[positive].mean() + (~pred[~positive]).mean()) if both else float("nan")
        rows.append(
            {
                "au": name,
                "positives": int(positive.sum()),
                "clips": len(positive),
                "balanced_accuracy": round(float(balanced), 4),
                "auc": round(roc_auc(probs[:, k], positive), 4),
            }
        )
    return rows


@torch.no_grad()
def detect(model: MOL, batches: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, truth), each (clips, action units)."""
    probs, truth = [], []
    for raw in batches:
        b = batch_to_device(raw, torch.device("cpu"))
        logits = model(b["clip"], heads=("mer",)).mer_logits[:, : len(STREAM_AUS)]
        probs.append(torch.sigmoid(logits).numpy())
        truth.append(b["aus"][:, : len(STREAM_AUS)].numpy())
    return np.concatenate(probs), np.concatenate(truth)


def plot(table: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(table["set"]))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(sets)
    x = np.arange(len(STREAM_AUS))
    for i, name in enumerate(sets):
        part = table[table["set"] == name]
        ax.bar(x + i * width, part["auc"], width, label=f"{name} (mean {part['auc'].mean():.3f})")
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xticks(x + width * (len(sets) - 1) / 2, STREAM_AUS, rotation=45)
    ax.set_ylabel("AUC (chance 0.5)")
    ax.set_ylim(0.3, 1.0)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--init", default="pretrained", help="pretrained (the shipped weights) or a file")
    parser.add_argument("--motion-input", default="diff", choices=("raw", "diff"))
    parser.add_argument("--people", default="hopper,paul", help="photographs measured (never the test people)")
    parser.add_argument("--clips", type=int, default=256, help="clips per set")
    parser.add_argument("--seed", type=int, default=11, help="seed of the measuring clips")
    parser.add_argument("--face-cache", default="", help="folder of framed photographs (mol pretrain's)")
    parser.add_argument(
        "--amplitude", default="0.5,2.5", help="LOW,HIGH: apex motion of the clips, aligned px (the benchmark's)"
    )
    args = parser.parse_args()
    amplitude = parse_amplitude(args.amplitude)
    config = PretrainConfig(
        motion_input=args.motion_input,
        eval_people=tuple(p for p in args.people.split(",") if p),
        eval_clips=args.clips,
        seed=args.seed,
        face_cache=args.face_cache,
    ).validate()
    model = MOL(num_classes=len(STREAM_AUS), motion_input=args.motion_input)
    start_from(model, args.init, class_layer=True)
    model.eval()
    rows = []
    for eval_set in make_eval_sets(config, amplitude):
        probs, truth = detect(model, eval_set.batches)
        rows += [{"set": eval_set.name, **row} for row in per_unit(probs, truth)]
        print(f"{eval_set.name}: measured {len(probs)} clips", file=sys.stderr)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "au_transfer.csv", index=False)
    means = table.groupby("set", sort=False)[["balanced_accuracy", "auc"]].mean().round(4)
    summary = {
        "command": "python benchmarks/au_transfer.py " + " ".join(sys.argv[1:]),
        "weights": str(resolve_init(args.init, args.motion_input)),
        "amplitude_px": list(amplitude),
        "means": means.to_dict(orient="index"),
        "per_unit": rows,
    }
    write_text_atomically(args.out / "au_transfer.json", json.dumps(summary, indent=2))
    plot(table, args.out / "au_transfer.png", f"action units at {amplitude[0]:g}-{amplitude[1]:g} px from {args.init}")
    print(means.to_string())
    print(table.pivot(index="au", columns="set", values="auc").loc[list(STREAM_AUS)].to_string())


if __name__ == "__main__":
    main()
