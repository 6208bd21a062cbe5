"""Training configuration: one explicit dataclass, YAML presets under configs/, and overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from mol.train.acceleration import COMPILE_MODES

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"  # shipped inside the package
PRECISIONS = ("float32", "bfloat16", "float16")
PROTOCOLS = ("loso", "composite", "cross")


@dataclass
class TrainConfig:
    """Everything a run depends on; saved resolved with every run (config.yaml)."""

    protocol: str = "loso"
    model: str = "mol"  # a registered model (mol.model.registry): mol, ststnet, flow-hist
    num_classes: int | None = None  # None: from the cache's class scheme
    k: int = 4
    ccc_neighbors: str = "positions"
    dropout: float = 0.5  # MER head dropout (the reference: 0.5)
    loss_mer: float = 1.0
    loss_flow: float = 10.0
    loss_landmark: float = 0.1
    lr: float = 1e-4
    weight_decay: float = 1e-3
    batch_size: int = 32
    steps: int = 1000  # optimizer steps per fold (the reference: 1000 iterations)
    epochs: int = 0  # models fitted by epochs on one flow per video (ststnet): 0 = the model's published default
    val_subjects: int = 0  # training subjects held out for model selection and early stopping
    eval_every: int = 0  # steps between validation passes (0: only at the end)
    patience: int = 0  # validations without improvement before stopping (0: never stop early)
    report_oracle: bool = False  # also report the reference's best-test-epoch figure (optimistic)
    flip: bool = True
    crop_jitter: int = 8  # training crops at 8 ± crop_jitter (the reference: 0..16, i.e. 8)
    precision: str = "float32"
    channels_last: bool = False  # convolution weights NHWC (see mol.train.acceleration)
    compile: str = "none"  # torch.compile mode: none, default, reduce-overhead (CUDA graphs), max-autotune
    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 50  # steps between resumable checkpoints
    log_every: int = 10  # steps between reading losses back to the host (each read waits for the GPU)
    cross_train: list[str] = field(default_factory=list)  # cross protocol: datasets to train on
    cross_test: list[str] = field(default_factory=list)  # cross protocol: datasets to test on

    def validate(self) -> TrainConfig:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        from mol.model.registry import get_model

        get_model(self.model)  # an unknown name raises, listing the known ones
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {COMPILE_MODES}, got {self.compile!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.batch_size < 1 or self.steps < 1 or self.log_every < 1:
            raise ValueError("batch_size, steps and log_every must be at least 1")
        if not (self.loss_mer or self.loss_flow or self.loss_landmark):
            raise ValueError("at least one loss weight must be non-zero")
        if self.report_oracle and self.eval_every <= 0:
            raise ValueError("report_oracle needs eval_every > 0 (test metrics at several points of training)")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _coerce(name: str, text: str, current: object) -> object:
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected true/false, got {text!r}")
    if isinstance(current, list):
        return [t for t in text.split(",") if t]
    if isinstance(current, int) or (current is None and name == "num_classes"):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return text


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A preset name (configs/NAME.yaml) or a YAML path, then KEY=VALUE overrides."""
    values: dict = {}
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = PRESET_DIR / f"{preset}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) if PRESET_DIR.is_dir() else []
            raise ValueError(f"{path}: no such config; presets: {', '.join(known) or 'none found'}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a config must be a mapping of settings")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {sorted(names)}")
    config = TrainConfig(**values)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            raise ValueError(f"override {item!r}: expected KEY=VALUE with KEY one of {sorted(names)}")
        setattr(config, key, _coerce(key, text.strip(), getattr(config, key)))
    return config.validate()
