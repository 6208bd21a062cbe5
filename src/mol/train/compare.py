"""`mol compare`: several runs on the same videos, one table, with paired bootstrap intervals.

Every figure is video level (a video's prediction averages its clips' probabilities), computed
from the confusion matrix pooled over folds, as the field reports it. Uncertainty comes from the
people, not the clips: a bootstrap resample draws subjects with replacement and takes all their
videos, the same draw for every run, so each run's difference from the first run is paired.

Two trivial rows show chance on the same videos: the majority class and stratified guessing,
each using, for every video, the class frequencies of the videos of all other subjects (the
training set of leave-one-subject-out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mol.errors import ConfigError
from mol.figures import markdown_table, signed_interval
from mol.train.folders import RunFolder
from mol.train.metrics import classification_metrics, confusion_matrix
from mol.train.results import VIDEO_KEY, load_predictions, video_table

METRICS = ("accuracy", "uar", "uf1")
RESAMPLES = 2000
GUESSES = 200  # draws averaged for the stratified-guessing row


@dataclass
class RunVideos:
    """One run's video-level predictions, sorted by (dataset, subject, video)."""

    name: str
    model: str
    table: pd.DataFrame  # dataset, subject, video, label, pred
    classes: list[str]
    train_seconds: float


def load_run_videos(run: Path) -> RunVideos:
    table, classes, folds = load_predictions([run])
    out, probs = video_table(table, classes)
    out["pred"] = probs.argmax(1)
    config = yaml.safe_load(RunFolder(run).config.read_text()) or {}
    seconds = float(sum(f.get("seconds", 0.0) for f in folds))
    return RunVideos(run.name, str(config.get("model", "mol")), out, classes, seconds)


def scores(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> dict[str, float]:
    metrics = classification_metrics(confusion_matrix(labels, preds, num_classes))
    return {k: metrics[k] for k in METRICS}


def subject_ids(table: pd.DataFrame) -> np.ndarray:
    """An integer per (dataset, subject): the bootstrap's unit."""
    return pd.factorize(table["dataset"].astype(str) + "/" + table["subject"].astype(str))[0]


def bootstrap_indices(groups: np.ndarray, resamples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of each resample: subjects drawn with replacement, all rows of each."""
    members = [np.flatnonzero(groups == g) for g in range(groups.max() + 1)]
    draws = rng.integers(0, len(members), size=(resamples, len(members)))
    return [np.concatenate([members[g] for g in draw]) for draw in draws]


def paired_bootstrap(
    labels: np.ndarray,
    predictions: list[np.ndarray],
    groups: np.ndarray,
    num_classes: int,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """(resamples, runs, metrics) scores of every run on the same subject resamples."""
    rng = np.random.default_rng(seed)
    out = np.zeros((resamples, len(predictions), len(METRICS)))
    for r, rows in enumerate(bootstrap_indices(groups, resamples, rng)):
        for m, pred in enumerate(predictions):
            values = scores(labels[rows], pred[rows], num_classes)
            out[r, m] = [values[k] for k in METRICS]
    return out


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def leave_subject_out_priors(labels: np.ndarray, groups: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, C): for each video, the class frequencies among the other subjects' videos."""
    counts = np.zeros((groups.max() + 1, num_classes))
    np.add.at(counts, (groups, labels), 1)
    others = counts.sum(0, keepdims=True) - counts
    return (others / np.maximum(others.sum(1, keepdims=True), 1))[groups]


def trivial_predictions(labels: np.ndarray, groups: np.ndarray, num_classes: int, seed: int = 0):
    """The majority-class prediction, and GUESSES stratified random predictions (N,)."""
    priors = leave_subject_out_priors(labels, groups, num_classes)
    majority = priors.argmax(1)
    rng = np.random.default_rng(seed)
    cumulative = priors.cumsum(1)
    guesses = [(rng.random((len(labels), 1)) > cumulative).sum(1).clip(max=num_classes - 1) for _ in range(GUESSES)]
    return majority, guesses


def compare_runs(runs: list[RunVideos], resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Scores, intervals and paired differences from ``runs[0]``, overall and per dataset."""
    first = runs[0]
    for run in runs[1:]:
        if run.classes != first.classes:
            raise ConfigError(f"{run.name}: classes {run.classes} differ from {first.name}'s {first.classes}")
        if not run.table[VIDEO_KEY].equals(first.table[VIDEO_KEY]) or not run.table["label"].equals(
            first.table["label"]
        ):
            raise ConfigError(
                f"{run.name} and {first.name} were tested on different videos; "
                "compare runs of the same caches and folds"
            )
    n = len(first.classes)
    sections = {"all": np.ones(len(first.table), bool)}
    for name in sorted(first.table["dataset"].unique()):
        sections[name] = (first.table["dataset"] == name).to_numpy()
    result = {"classes": first.classes, "resamples": resamples, "level": 0.95, "reference": first.name, "rows": []}
    for section, keep in sections.items():
        labels = first.table["label"].to_numpy()[keep]
        groups = subject_ids(first.table[keep])
        preds = [run.table["pred"].to_numpy()[keep] for run in runs]
        majority, guesses = trivial_predictions(labels, groups, n, seed)
        reference = scores(labels, preds[0], n)
        boot = paired_bootstrap(labels, [*preds, majority], groups, n, resamples, seed)
        methods = [(run.name, run.model, run.train_seconds) for run in runs] + [("majority class", "trivial", 0.0)]
        for m, ((name, model, seconds), pred) in enumerate(zip(methods, [*preds, majority], strict=True)):
            row = {"section": section, "run": name, "model": model, "videos": int(keep.sum())}
            row["subjects"] = int(groups.max() + 1)
            row.update(scores(labels, pred, n))
            for k, metric in enumerate(METRICS):
                row[f"{metric}_ci"] = interval(boot[:, m, k])
                row[f"{metric}_diff"] = row[metric] - reference[metric]
                row[f"{metric}_diff_ci"] = (0.0, 0.0) if m == 0 else interval(boot[:, m, k] - boot[:, 0, k])
            row["train_seconds"] = round(seconds, 1)
            result["rows"].append(row)
        guess_scores = [scores(labels, g, n) for g in guesses]
        row = {"section": section, "run": "stratified guessing", "model": "trivial", "videos": int(keep.sum())}
        row["subjects"] = int(groups.max() + 1)
        for metric in METRICS:
            values = np.array([s[metric] for s in guess_scores])
            row[metric] = float(values.mean())
            row[f"{metric}_ci"] = interval(values)  # spread over guesses, not a bootstrap
            row[f"{metric}_diff"] = row[metric] - reference[metric]
            row[f"{metric}_diff_ci"] = None
        row["train_seconds"] = 0.0
        result["rows"].append(row)
    return result


def format_markdown(result: dict) -> str:
    header = ["data", "method", "model", "videos", "accuracy", "UAR", "UF1", "Δ UAR [95 % CI]", "Δ UF1 [95 % CI]"]
    rows = [
        [
            row["section"],
            row["run"],
            row["model"],
            str(row["videos"]),
            f"{row['accuracy']:.3f}",
            f"{row['uar']:.3f}",
            f"{row['uf1']:.3f}",
            signed_interval(row["uar_diff"], row["uar_diff_ci"]),
            signed_interval(row["uf1_diff"], row["uf1_diff_ci"]),
            f"{row['train_seconds']:.0f}",
        ]
        for row in result["rows"]
    ]
    intro = (
        f"Video level; 95 % intervals from {result['resamples']} paired bootstrap resamples of subjects; "
        f"Δ = difference from {result['reference']}."
    )
    return "\n".join([intro, "", *markdown_table([*header, "train s"], rows)])


def plot_comparison(result: dict, path: Path) -> None:
    from mol.figures import pyplot

    plt = pyplot()

    rows = [r for r in result["rows"] if r["section"] == "all"]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    for k, metric in enumerate(("uar", "uf1")):
        values = np.array([r[metric] for r in rows])
        low = values - np.array([r[f"{metric}_ci"][0] for r in rows])
        high = np.array([r[f"{metric}_ci"][1] for r in rows]) - values
        ax.bar(x + (k - 0.5) * 0.38, values, 0.38, yerr=[low, high], capsize=3, label=metric.upper())
    ax.set_xticks(x, [r["run"] for r in rows], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("video level (whiskers: 95 % interval)")
    ax.axhline(1 / len(result["classes"]), color="grey", lw=0.8, ls="--", label="chance UAR")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_comparison(
    run_dirs: list[Path], out: Path, resamples: int = RESAMPLES, seed: int = 0, names: list[str] | None = None
) -> dict:
    """compare.json, compare.csv, compare.md and compare.png in ``out``; ``names`` label the runs
    (default: their directory names)."""
    if not run_dirs:
        raise ConfigError("give at least one run directory")
    if names is not None and len(names) != len(run_dirs):
        raise ConfigError(f"{len(names)} names for {len(run_dirs)} runs; give one name per run")
    runs = [load_run_videos(Path(r)) for r in run_dirs]
    for run, name in zip(runs, names or [r.name for r in runs], strict=True):
        run.name = name
    result = compare_runs(runs, resamples, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2))
    flat = [
        {k: (f"{v[0]:.4f};{v[1]:.4f}" if isinstance(v, tuple) else v) for k, v in row.items()} for row in result["rows"]
    ]
    pd.DataFrame(flat).to_csv(out / "compare.csv", index=False)
    (out / "compare.md").write_text(format_markdown(result) + "\n")
    plot_comparison(result, out / "compare.png")
    return result
