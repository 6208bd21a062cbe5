"""A training run: folds of a protocol, trained (or resumed) one after another, then results."""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path

import yaml

from mol.data.multicache import RunData, open_caches
from mol.errors import ConfigError
from mol.files import make_output_folder, write_text_atomically
from mol.model.registry import get_model
from mol.train.config import TrainConfig
from mol.train.distributed import init_distributed
from mol.train.folders import RunFolder
from mol.train.protocols import Fold, composite_counts, cross_dataset_fold, holdout_fold, loso_folds
from mol.train.results import write_results
from mol.train.trainer import train_fold


def make_folds(data: RunData, config: TrainConfig) -> list[Fold]:
    if config.protocol == "cross":
        return cross_dataset_fold(data.videos, config.cross_train, config.cross_test, config.val_subjects, config.seed)
    if config.protocol == "holdout":
        return holdout_fold(data.videos, config.test_subjects, config.val_subjects, config.seed)
    if config.protocol == "composite":
        datasets = sorted({v.entry.dataset for v in data.videos})
        if len(datasets) < 2:
            raise ConfigError(f"composite protocol needs caches of several datasets, got {datasets}")
        lines, differences = composite_counts(data.videos)
        print("composite data:\n  " + "\n  ".join(lines))
        if differences:
            warnings.warn(
                "the composite data differs from MEGC 2019's (SMIC-HS 164, CASME II 145, SAMM 133 samples; "
                "68 subjects): " + "; ".join(differences) + ". Figures are then not comparable with published ones.",
                stacklevel=2,
            )
    return loso_folds(data.videos, config.val_subjects, config.seed)


def select_folds(folds: list[Fold], wanted: list[str] | None) -> list[Fold]:
    """--folds takes fold names or 0-based indices, e.g. 'casme2_sub01,3'."""
    if not wanted:
        return folds
    chosen = []
    for item in wanted:
        if item.isdigit() and int(item) < len(folds):
            chosen.append(folds[int(item)])
        else:
            match = [f for f in folds if f.name == item]
            if not match:
                raise ConfigError(f"no fold {item!r}; folds are {', '.join(f.name for f in folds)}")
            chosen.append(match[0])
    return chosen


def check_classes(config: TrainConfig, classes: list[str]) -> None:
    """num_classes, when set, must equal the caches' class count: more would add prediction
    columns no class stands for, fewer would drop labels the data holds."""
    if config.num_classes is not None and config.num_classes != len(classes):
        raise ConfigError(
            f"num_classes={config.num_classes} but the caches hold {len(classes)} classes ({', '.join(classes)}); "
            "leave num_classes unset, or prepare the caches with a --scheme of that many classes"
        )


def _check_or_write_config(out: Path, config: TrainConfig, caches: list[str], classes: list[str]) -> None:
    resolved = {"caches": [str(Path(c).resolve()) for c in caches], **config.to_dict()}
    run = RunFolder(out)
    path = run.config
    if path.exists():
        saved = yaml.safe_load(path.read_text())
        # a setting added to mol after the run was made, left at its default, changes nothing
        defaults = TrainConfig().to_dict()
        for key in set(resolved) - set(saved):
            if key in defaults and resolved[key] == defaults[key]:
                saved[key] = resolved[key]
        if saved != resolved:
            changed = sorted(k for k in set(saved) | set(resolved) if saved.get(k) != resolved.get(k))
            raise ConfigError(f"{out}: holds a run with another configuration (differs in {changed}); use a new --out")
        return
    make_output_folder(out)
    write_text_atomically(run.classes, json.dumps(classes))
    write_text_atomically(path, yaml.safe_dump(resolved, sort_keys=False))  # last: it marks the run


def train_run(
    caches: list[str], out: Path, config: TrainConfig, folds: list[str] | None = None, progress: bool = True
) -> dict | None:
    """Train every selected fold not yet finished, then write the run's results (rank 0)."""
    data = open_caches(caches)
    check_classes(config, data.classes)
    rank, _ = init_distributed(config.device)
    all_folds = make_folds(data, config)
    chosen = select_folds(all_folds, folds)  # a wrong fold is refused before the folder is made
    if rank == 0:
        _check_or_write_config(out, config, caches, data.classes)
    train = train_fold
    if get_model(config.model).input == "apex_flow":
        if rank != 0:  # a small model on one flow per video: rank 0 alone fits it
            return None
        from mol.train.apex_flow import compute_apex_flows, train_apex_flow_fold

        pending = [f for f in chosen if not RunFolder(out).fold(f.name).is_done()]
        train = partial(train_apex_flow_fold, inputs=compute_apex_flows(data, progress) if pending else None)
    for i, fold in enumerate(all_folds):
        if fold not in chosen:
            continue
        folder = RunFolder(out).fold(fold.name)
        if folder.is_done():
            if progress and rank == 0:
                print(f"fold {fold.name}: already done, kept")
            continue
        train(fold, data, config, folder.path, seed=config.seed * 1000 + i, progress=progress)
    if rank != 0:
        return None
    return write_results([out], out)
