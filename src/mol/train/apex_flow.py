"""Training and testing one fold of a model that reads one onset-to-apex flow per video
(registered with input "apex_flow": STSTNet, flow histograms).

The flows are computed once per run from the caches' aligned frames and shared by every fold.
Each fold fits a fresh model on its training videos (no selection: the model after its fixed
schedule is tested) and writes the same files as a MOL fold: predictions.csv (one row per test
video), model.safetensors, history.json and done.json, so `mol evaluate`, `mol aggregate` and
`mol compare` read both alike.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mol.data.apex import flow_method_for, onset_apex_flow, onset_apex_indices
from mol.data.multicache import RunData, VideoRef
from mol.errors import ConfigError
from mol.model.checkpoint import save_checkpoint
from mol.model.record import RECORD_KEY, TrainingRecord
from mol.model.registry import build_model
from mol.train.config import TrainConfig
from mol.train.folders import FoldFolder
from mol.train.protocols import Fold
from mol.train.results import held_out_scores, prediction_table, write_predictions
from mol.train.trainer import training_record


@dataclass
class ApexFlows:
    """Onset-to-apex flow of every video of a run, in ``data.videos`` order."""

    flows: torch.Tensor  # (N, 2, 128, 128) float32
    onsets: np.ndarray  # (N,) onset frame index
    methods: list[str]  # flow method per cache
    apex_sources: Counter  # how each video's apex was found

    def rows(self, data: RunData, videos: list[VideoRef]) -> np.ndarray:
        position = {(v.cache, v.index): i for i, v in enumerate(data.videos)}
        return np.array([position[(v.cache, v.index)] for v in videos], dtype=np.int64)


def compute_apex_flows(data: RunData, progress: bool = True) -> ApexFlows:
    methods = [flow_method_for(cache) for cache in data.caches]
    flows, onsets, sources = [], [], Counter()
    for ref in tqdm(data.videos, desc="onset-apex flow", unit="video", disable=not progress):
        cache = data.caches[ref.cache]
        onset, _, source = onset_apex_indices(ref.entry)
        flows.append(onset_apex_flow(cache, ref.entry, methods[ref.cache]))
        onsets.append(onset)
        sources[source] += 1
    return ApexFlows(torch.from_numpy(np.stack(flows)), np.array(onsets), methods, sources)


def apex_flow_record(config: TrainConfig, data: RunData, fold: Fold, epochs: int, methods: list[str]) -> TrainingRecord:
    """The training record of an onset-to-apex flow model: MOL's, with the one head it has and
    the flow method its input was computed with (what `mol predict` must compute likewise)."""
    return replace(
        training_record(config, data, fold, epochs),
        loss_weights={"mer": 1.0},
        trained_heads=("mer",),
        input="onset_apex_flow",
        input_flow=tuple(sorted(set(methods))),
        clip_sampling="onset_apex",
        initialization=None,
    )


def train_apex_flow_fold(
    fold: Fold,
    data: RunData,
    config: TrainConfig,
    fold_dir: Path,
    seed: int,
    progress: bool = True,
    inputs: ApexFlows | None = None,
) -> dict:
    """Fit ``config.model`` on fold.train's flows, test on fold.test; write the fold's files."""
    started = time.perf_counter()
    inputs = inputs if inputs is not None else compute_apex_flows(data, progress)
    num_classes = config.num_classes or len(data.classes)
    train_rows, test_rows = inputs.rows(data, fold.train), inputs.rows(data, fold.test)
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise ConfigError(f"fold {fold.name}: no training or no test videos")
    labels = torch.tensor([v.entry.label for v in data.videos], dtype=torch.long)
    torch.manual_seed(seed)
    model = _fresh_model(config, num_classes)
    losses = model.fit(inputs.flows[train_rows], labels[train_rows], seed=seed, progress=progress)
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(inputs.flows[test_rows]).float(), dim=1)
    pred = {
        "cache": np.array([v.cache for v in fold.test]),
        "video": np.array([v.index for v in fold.test]),
        "start": inputs.onsets[test_rows],
        "label": labels[test_rows].numpy(),
        "probs": probs.numpy(),
    }
    folder = FoldFolder(fold_dir)
    folder.path.mkdir(parents=True, exist_ok=True)
    table = prediction_table(pred, data)
    write_predictions(folder.predictions, table)
    held_out = held_out_scores(table, data.classes[:num_classes], len({v.subject_id for v in fold.test}))
    record = apex_flow_record(config, data, fold, len(losses), inputs.methods).with_held_out(held_out)
    save_checkpoint(
        model,
        folder.model,
        extra={
            "fold": fold.name,
            "classes": json.dumps(data.classes[:num_classes]),
            "flow": ",".join(inputs.methods),
            RECORD_KEY: record.to_json(),
        },
    )
    nan = float("nan")  # no flow or landmark head
    history = [{"step": i + 1, "total": v, "mer": v, "flow": nan, "landmark": nan} for i, v in enumerate(losses)]
    folder.write_history(history, [])
    summary = _summary(fold, config, inputs, len(losses), time.perf_counter() - started)
    folder.write_done(summary)
    return summary


def _fresh_model(config: TrainConfig, num_classes: int):
    options = {"num_classes": num_classes, **({"epochs": config.epochs} if config.epochs else {})}
    try:
        return build_model(config.model, options)
    except TypeError as exc:
        raise ConfigError(f"model {config.model!r} does not take the setting(s) {sorted(options)}: {exc}") from exc


def _summary(fold: Fold, config: TrainConfig, inputs: ApexFlows, epochs: int, seconds: float) -> dict:
    """The fold's done.json."""
    return {
        "fold": fold.name,
        "model": config.model,
        "steps": epochs,
        "selected_step": epochs,
        "selection": "last epoch (no selection)",
        "input": f"onset-apex flow ({', '.join(sorted(set(inputs.methods)))})",
        "apex": dict(inputs.apex_sources),
        "train_videos": len(fold.train),
        "val_videos": 0,
        "test_videos": len(fold.test),
        "test_clips": len(fold.test),
        "seconds": round(seconds, 2),
    }
