"""The layout of a `mol train` run's folder, owned here alone.

::

    RUN/config.yaml            the resolved configuration (written last: it marks the run)
    RUN/classes.json           the class names, in the model's output order
    RUN/fold_<name>/           one per fold: model.safetensors, predictions.csv, history.json,
                               done.json (written last: the fold is finished), best.safetensors
                               (validated selection), resume.pt (while unfinished), tensorboard/
    RUN/metrics.json, folds.csv, per_dataset.csv, confusion.png, curves.png   the run's results
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mol.files import atomic_write

FOLD_PREFIX = "fold_"


@dataclass(frozen=True)
class FoldFolder:
    """One fold's files."""

    path: Path

    @property
    def name(self) -> str:
        """The fold's name (the folder's name without its prefix)."""
        return self.path.name[len(FOLD_PREFIX) :]

    @property
    def model(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def best(self) -> Path:
        return self.path / "best.safetensors"

    @property
    def resume(self) -> Path:
        return self.path / "resume.pt"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions.csv"

    @property
    def history(self) -> Path:
        return self.path / "history.json"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def done(self) -> Path:
        return self.path / "done.json"

    def is_done(self) -> bool:
        return self.done.is_file()

    def write_done(self, summary: dict) -> None:
        """The fold's summary, written last and atomically: its presence means the fold finished."""
        atomic_write(self.done, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))

    def read_done(self) -> dict:
        return json.loads(self.done.read_text())

    def write_history(self, history: list[dict], evaluations: list[dict]) -> None:
        text = json.dumps({"history": history, "evaluations": evaluations})
        atomic_write(self.history, lambda tmp: tmp.write_text(text))

    def read_history(self) -> dict | None:
        """{"history": [...], "evaluations": [...]}, or None where the fold wrote none yet."""
        return json.loads(self.history.read_text()) if self.history.is_file() else None


@dataclass(frozen=True)
class RunFolder:
    """A run's folder (see the module docstring)."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def classes(self) -> Path:
        return self.path / "classes.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def confusion(self) -> Path:
        return self.path / "confusion.png"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    def is_run(self) -> bool:
        return self.config.is_file()

    def check_is_run(self) -> None:
        if not self.is_run():
            raise FileNotFoundError(f"{self.path}: not a mol run directory (no config.yaml)")

    def read_classes(self) -> list[str]:
        return json.loads(self.classes.read_text())

    def fold(self, name: str) -> FoldFolder:
        return FoldFolder(self.path / f"{FOLD_PREFIX}{name}")

    def folds(self) -> list[FoldFolder]:
        """Every fold folder present, finished or not, by name."""
        return [FoldFolder(p) for p in sorted(self.path.glob(f"{FOLD_PREFIX}*")) if p.is_dir()]

    def finished_folds(self) -> list[FoldFolder]:
        return [f for f in self.folds() if f.is_done()]
