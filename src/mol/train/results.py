"""Run results: tables a person reads and files a script reads, from saved fold predictions.

Everything here is recomputed from ``fold_*/predictions.csv`` (and ``history.json``), so
`mol evaluate` and `mol aggregate` give the same tables as the run that wrote them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from mol.data.multicache import RunData
from mol.errors import ConfigError
from mol.files import atomic_write
from mol.model.record import HeldOut
from mol.train.folders import RunFolder
from mol.train.metrics import classification_metrics, confusion_matrix

# predictions.csv: a row per test clip. Its columns after the class probabilities (p_<class>):
# the trainer's prediction key → column, each head's error beside its trivial baseline's
ERROR_COLUMNS = (
    ("epe", "flow_epe"),
    ("zero_epe", "zero_flow_epe"),
    ("nme", "landmark_nme"),
    ("mean_nme", "mean_shape_nme"),
)
VIDEO_KEY = ["dataset", "subject", "video"]

PER_FOLD_NOTE = (
    "descriptive only: per-fold figures average over the classes in that fold's labels; the reported "
    "figures come from the confusion matrix summed over all folds"
)
OPTIMISTIC = "OPTIMISTIC: selects each fold's best step on its test subject (uses test labels)"


def load_predictions(run_dirs: list[Path]) -> tuple[pd.DataFrame, list[str], list[dict]]:
    frames, classes, folds = [], None, []
    for path in run_dirs:
        run = RunFolder(path)
        run.check_is_run()
        run_classes = run.read_classes()
        if classes is not None and run_classes != classes:
            raise ConfigError(f"{path}: classes {run_classes} differ from {classes}")
        classes = run_classes
        for fold in run.finished_folds():
            summary = fold.read_done()
            if any(f["fold"] == summary["fold"] for f in folds):
                raise ConfigError(f"fold {summary['fold']} appears in more than one run directory")
            table = pd.read_csv(fold.predictions, dtype={"subject": str, "video": str})
            table["fold"] = summary["fold"]
            frames.append(table)
            folds.append({**summary, "dir": str(fold.path)})
    if not frames:
        raise ConfigError(f"no finished fold in {', '.join(map(str, run_dirs))}")
    return pd.concat(frames, ignore_index=True), classes, folds


def prediction_table(pred: dict, data: RunData) -> pd.DataFrame:
    """A fold's test predictions (the trainer's arrays: cache, video, start, label, probs and the
    heads' errors where measured) as the rows of predictions.csv."""
    entries = [data.caches[int(c)].videos[int(v)] for c, v in zip(pred["cache"], pred["video"], strict=True)]
    table = pd.DataFrame(
        {
            "dataset": [e.dataset for e in entries],
            "subject": [e.subject for e in entries],
            "video": [e.video_id for e in entries],
            "clip_start": np.asarray(pred["start"], dtype=np.int64),
            "label": np.asarray(pred["label"], dtype=np.int64),
        }
    )
    probs = np.asarray(pred["probs"])
    for i, name in enumerate(data.classes[: probs.shape[1]]):
        table[f"p_{name}"] = probs[:, i]
    for key, column in ERROR_COLUMNS:
        table[column] = np.asarray(pred[key], dtype=np.float64) if key in pred else np.nan
    return table


def write_predictions(path: Path, table: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6f"))


def _metrics(labels: np.ndarray, preds: np.ndarray, n: int) -> dict:
    cm = confusion_matrix(labels, preds, n)
    return {**classification_metrics(cm), "n": len(labels), "confusion": cm.tolist()}


def video_table(table: pd.DataFrame, classes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """A row per video, sorted by VIDEO_KEY (its key columns and label), and its class
    probabilities (V, C): a video's prediction averages its clips' probabilities."""
    videos = table.groupby(VIDEO_KEY, sort=True)
    probs = videos[[f"p_{c}" for c in classes]].mean().to_numpy()
    return videos["label"].first().reset_index(), probs


def video_predictions(table: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probabilities, datasets) a row per video (see :func:`video_table`)."""
    videos, probs = video_table(table, classes)
    return videos["label"].to_numpy(), probs, videos["dataset"].to_numpy()


def ground_truth_errors(table: pd.DataFrame) -> dict[str, float | None]:
    """The flow and landmark heads' mean test errors beside their trivial baselines' (the names
    of mol.model.record.HEAD_ERRORS); None where no clip measured one."""

    def mean_of(column: str) -> float | None:
        """A column's mean; None where no fold computed it (older runs lack the baselines)."""
        return float(table[column].mean()) if column in table and table[column].notna().any() else None

    return {
        "flow_epe_px": mean_of("flow_epe"),
        "zero_flow_epe_px": mean_of("zero_flow_epe") if mean_of("flow_epe") is not None else None,
        "landmark_nme_percent": mean_of("landmark_nme"),
        "mean_shape_nme_percent": mean_of("mean_shape_nme"),
    }


def held_out_scores(table: pd.DataFrame, classes: list[str], subjects: int) -> HeldOut | None:
    """What a fold's model scored on the people it was not trained on, for its checkpoint's
    training record: video-level UAR and UF1 beside chance, the heads' errors beside their
    baselines (rounded to 4 places). None where nothing was tested."""
    if table.empty:
        return None
    labels, probs, _ = video_predictions(table, classes)
    video = _metrics(labels, probs.argmax(1), len(classes))
    errors = {k: round(v, 4) for k, v in ground_truth_errors(table).items() if v is not None}
    return HeldOut(
        subjects=subjects,
        videos=len(labels),
        video_uar=round(video["uar"], 4),
        video_uf1=round(video["uf1"], 4),
        chance_uar=round(1 / len(classes), 4),
        **errors,
    )


def compute_results(table: pd.DataFrame, classes: list[str], folds: list[dict]) -> dict:
    n = len(classes)
    prob_cols = [f"p_{c}" for c in classes]
    clip = _metrics(table["label"].to_numpy(), table[prob_cols].to_numpy().argmax(1), n)
    video_labels, video_probs, video_datasets = video_predictions(table, classes)
    video = _metrics(video_labels, video_probs.argmax(1), n)
    per_dataset = {}
    for name in sorted(set(video_datasets)):
        keep = video_datasets == name
        per_dataset[name] = _metrics(video_labels[keep], video_probs[keep].argmax(1), n)
    per_fold = []
    for name, part in table.groupby("fold", sort=True):
        m = classification_metrics(confusion_matrix(part["label"], part[prob_cols].to_numpy().argmax(1), n))
        per_fold.append({"fold": name, "clips": len(part), **{k: round(v, 4) for k, v in m.items()}})
    auxiliary = ground_truth_errors(table)
    return {
        "classes": classes,
        "chance_uar": 1.0 / n,
        "clip_level": clip,
        "video_level": video,
        "per_dataset_video_level": per_dataset,
        "per_fold_clip_level": per_fold,
        "per_fold_note": PER_FOLD_NOTE,
        "test_ground_truth_errors": auxiliary,
        "folds": folds,
        "model_selection": sorted({f.get("selection", "") for f in folds}),
    }


def oracle_results(run_dirs: list[Path], classes: list[str]) -> dict | None:
    """The reference's protocol: each fold's best step chosen on its test subject."""
    n, cm = len(classes), np.zeros((len(classes), len(classes)), np.int64)
    found = False
    for run in run_dirs:
        for fold in RunFolder(run).folds():
            evaluations = (fold.read_history() or {}).get("evaluations", [])
            if not evaluations:
                continue
            found = True
            best = max(evaluations, key=lambda e: np.mean(np.array(e["pred"]) == np.array(e["label"])))
            cm += confusion_matrix(best["label"], best["pred"], n)
    if not found:
        return None
    return {"note": OPTIMISTIC, **classification_metrics(cm), "confusion": cm.tolist()}


def format_table(results: dict) -> str:
    lines = [
        f"classes: {', '.join(results['classes'])} (chance UAR {results['chance_uar']:.3f})",
        f"model selection: {'; '.join(results['model_selection'])}",
        f"{'level':<22}{'n':>6}{'acc':>8}{'UAR':>8}{'UF1':>8}{'WF1':>8}",
    ]
    rows = [("clip", results["clip_level"]), ("video", results["video_level"])]
    rows += [(f"video, {name}", m) for name, m in results["per_dataset_video_level"].items()]
    for name, m in rows:
        lines.append(f"{name:<22}{m['n']:>6}{m['accuracy']:>8.3f}{m['uar']:>8.3f}{m['uf1']:>8.3f}{m['wf1']:>8.3f}")
    aux = results["test_ground_truth_errors"]
    if aux["flow_epe_px"] is not None:
        baseline = aux.get("zero_flow_epe_px")
        lines.append(
            f"test flow EPE {aux['flow_epe_px']:.3f} px against the cache's ground truth"
            + ("" if baseline is None else f" (predicting no motion: {baseline:.3f} px)")
        )
    if aux["landmark_nme_percent"] is not None:
        baseline = aux.get("mean_shape_nme_percent")
        lines.append(
            f"test landmark NME {aux['landmark_nme_percent']:.2f} %"
            + ("" if baseline is None else f" (the training set's mean shape: {baseline:.2f} %)")
        )
    if results.get("oracle"):
        o = results["oracle"]
        lines.append(f"oracle (best test step per fold) UAR {o['uar']:.3f} UF1 {o['uf1']:.3f}  <- {OPTIMISTIC}")
    return "\n".join(lines)


def plot_confusion(cm: list[list[int]], classes: list[str], path: Path, title: str) -> None:
    from mol.figures import pyplot

    plt = pyplot()

    cm_arr = np.array(cm)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    rates = cm_arr / np.maximum(cm_arr.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{cm_arr[i, j]}\n{rates[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(run_dirs: list[Path], path: Path) -> None:
    from mol.figures import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for run in run_dirs:
        for fold in RunFolder(run).folds():
            history = (fold.read_history() or {}).get("history", [])
            if not history:
                continue
            steps = [h["step"] for h in history]
            for ax, key in zip(axes, ("total", "mer", "flow", "landmark"), strict=True):
                ax.plot(steps, [h[key] for h in history], lw=0.8, label=fold.name)
    for ax, key in zip(axes, ("joint loss", "MER cross-entropy", "flow MSE / 7", "landmark L1 / IOD"), strict=True):
        ax.set_title(key)
        ax.set_xlabel("step")
    if len(axes[0].lines) <= 12:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(run_dirs: list[Path], out: Path) -> dict:
    """Compute and write metrics.json, folds.csv, per_dataset.csv, confusion.png, curves.png."""
    table, classes, folds = load_predictions(run_dirs)
    results = compute_results(table, classes, folds)
    results["oracle"] = oracle_results(run_dirs, classes)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    atomic_write(RunFolder(out).metrics, lambda tmp: tmp.write_text(text))
    with open(out / "folds.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["fold", "clips", "accuracy", "uar", "uf1", "wf1"])
        writer.writeheader()
        writer.writerows(results["per_fold_clip_level"])
    with open(out / "per_dataset.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["dataset", "videos", "accuracy", "uar", "uf1", "wf1"])
        for name, m in results["per_dataset_video_level"].items():
            writer.writerow([name, m["n"], *(round(m[k], 4) for k in ("accuracy", "uar", "uf1", "wf1"))])
    plot_confusion(
        results["video_level"]["confusion"],
        classes,
        RunFolder(out).confusion,
        f"video level, UF1 {results['video_level']['uf1']:.3f}",
    )
    plot_curves(run_dirs, RunFolder(out).curves)
    (out / "results.txt").write_text(format_table(results) + "\n")
    return results
