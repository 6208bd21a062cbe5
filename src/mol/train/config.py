"""Training configuration: one explicit dataclass, YAML presets under configs/, and overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from mol.constants import CLIP_SAMPLINGS, INIT_CHOICES, MOTION_INPUTS, PIXEL_NORMALIZATIONS
from mol.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"  # shipped inside the package
PRECISIONS = ("float32", "bfloat16", "float16")
BENCH_DTYPES = (*PRECISIONS, "float64")  # `mol bench` also times float64 (the parity check's precision)
# torch.compile modes; "reduce-overhead" also captures the step in CUDA graphs on a GPU
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")
PROTOCOLS = ("loso", "composite", "cross", "holdout")
FCC_INITS = ("default", "randn")  # randn: the reference's torch.randn for FCC's embeddings and biases
LR_DECAYS = ("none", "cosine")
# baseline: the flow head's last layer starts at zero (predicting no motion) and the landmark
# head's output layer at the training set's mean shape, so both heads start at their trivial
# baselines and learn from there; reference: the reference's random initialisation
HEAD_INITS = ("reference", "baseline")
# F5C blocks A (first frame of each pair) and B (second frame) have separate weights; "shared"
# starts B as a copy of A, so that at the start the two frames of a pair map through the same
# function and the MER head's convolution over (A_t, B_t) sees their difference, i.e. motion
F5C_INITS = ("independent", "shared")
# all: every layer trains; heads: the conv stack and both F5C blocks (the features the three
# heads share) keep their starting weights and BatchNorm statistics and only the heads train,
# so a few videos cannot re-learn who is in them (for fine-tuning from pre-trained weights);
# class_layer: as heads, and the recognition head's layers below its class layer stay as they
# start too: a linear read-out of the pre-trained recognition features
TRAIN_LAYERS = ("all", "heads", "class_layer")
# fresh: the final class layer starts at random, as the reference's; action_units (from
# pre-trained weights): each class's row starts as the mean of the pre-trained action-unit
# layer's rows for the action units the coding sheet gives that class's training videos, so
# the class layer starts as a detector of those action units instead of at chance
CLASS_INITS = ("fresh", "action_units")


INF = float("inf")
RANGES: tuple[tuple[str, float, float], ...] = (
    ("num_classes", 2, INF),
    ("k", 1, INF),
    ("dropout", 0.0, 0.99),
    ("loss_mer", 0.0, INF),
    ("loss_flow", 0.0, INF),
    ("loss_landmark", 0.0, INF),
    ("lr", 1e-12, 10.0),
    ("weight_decay", 0.0, 10.0),
    ("batch_size", 1, INF),
    ("steps", 1, INF),
    ("epochs", 0, INF),
    ("val_subjects", 0, INF),
    ("eval_every", 0, INF),
    ("patience", 0, INF),
    ("flow_pairs", 1, 7),
    ("crop_jitter", 0, 8),
    ("eval_mode_after_epochs", 0, INF),
    ("warmup_steps", 0, INF),
    ("test_crops", 1, INF),  # a 128 crop of a 144 frame moves at most 8 px each way
    ("workers", 0, INF),
    ("checkpoint_every", 1, INF),
    ("log_every", 1, INF),
)


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
    # frame pairs (of 7) whose flow is computed and supervised each step, drawn at random: the
    # flow loss stays unbiased and the flow head, ~93% of a joint step, costs about k/7
    flow_pairs: int = 7
    lr: float = 1e-4
    warmup_steps: int = 0  # linear warm-up of the learning rate from lr / warmup_steps
    lr_decay: str = "none"  # "cosine": decays to 0 at the last step
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
    # strided: ⌊L/8⌋ clips per video spanning all of it (the reference); onset_apex: one clip per
    # video from the annotated onset to the apex, in training and test
    clip_sampling: str = "strided"
    # every epoch draws each class's clips equally often (a rare class's repeat), instead of
    # each clip once: the datasets' classes are far from balanced (CASME II: 99 "others", 25 "surprise")
    balanced_classes: bool = False
    # The reference's own procedure (the `reference` preset sets each):
    # its per-epoch evaluation calls model.eval() and nothing switches back, so from its second
    # epoch on it trains with BatchNorm running statistics frozen and dropout off (1; 0: never)
    eval_mode_after_epochs: int = 0
    head_init: str = "reference"  # "baseline": flow and landmark heads start at their trivial baselines
    fcc_init: str = "default"  # "randn": FCC positional embeddings and biases ~ N(0, 1)
    f5c_init: str = "independent"  # "shared": block B starts as a copy of block A (then trains apart)
    train_layers: str = "all"  # "heads": the shared features stay as they start (see TRAIN_LAYERS)
    # where MOL's weights start: scratch (the paper), pretrained (the shipped weights of
    # `mol pretrain`; the flow head starts fresh, the class layer as class_init says), or a weights file's path
    init: str = "scratch"
    class_init: str = "fresh"  # "action_units": the class layer starts from the action-unit layer (CLASS_INITS)
    motion_input: str = "raw"  # "diff": recognition reads frame differences (a deviation from the paper)
    test_crops: int = 1  # test crops per clip: 1 the centre; n random ones (the reference: 5)
    normalize: str = "fixed"  # pixels: fixed [-1, 1], or "subject" statistics (the reference)
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
    test_subjects: list[str] = field(default_factory=list)  # holdout protocol: subjects to test on

    def validate(self) -> TrainConfig:
        from mol.model.registry import get_model

        get_model(self.model)  # an unknown name raises, listing the known ones
        choices = (
            ("protocol", PROTOCOLS),
            ("compile", COMPILE_MODES),
            ("precision", PRECISIONS),
            ("fcc_init", FCC_INITS),
            ("lr_decay", LR_DECAYS),
            ("head_init", HEAD_INITS),
            ("f5c_init", F5C_INITS),
            ("train_layers", TRAIN_LAYERS),
            ("class_init", CLASS_INITS),
            ("normalize", PIXEL_NORMALIZATIONS),
            ("clip_sampling", CLIP_SAMPLINGS),
            ("motion_input", MOTION_INPUTS),
        )
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name, low, high in RANGES:
            value = getattr(self, name)
            if value is not None and not (low <= value <= high):
                raise ConfigError(f"{name} must lie in [{low}, {high}], got {value!r}")
        if not (self.loss_mer or self.loss_flow or self.loss_landmark):
            raise ConfigError("at least one loss weight must be non-zero")
        if self.init not in INIT_CHOICES and not Path(self.init).is_file():
            raise ConfigError(
                f"init must be one of {INIT_CHOICES} or a weights file `mol pretrain` wrote; no file {self.init!r}"
            )
        if self.train_layers != "all" and self.model != "mol":
            raise ConfigError(
                f"train_layers={self.train_layers!r} is a MOL option; the {self.model!r} model trains whole"
            )
        if self.init != "scratch" and self.model != "mol":
            raise ConfigError(
                f"init={self.init!r} starts MOL's weights; the {self.model!r} model has none (use scratch)"
            )
        if self.class_init != "fresh" and self.init == "scratch":
            raise ConfigError(
                f"class_init={self.class_init!r} reads the pre-trained action-unit layer; "
                "start from pre-trained weights (--init pretrained) or set class_init: fresh"
            )
        if self.report_oracle and self.eval_every <= 0:
            raise ConfigError("report_oracle needs eval_every > 0 (test metrics at several points of training)")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _typed(name: str, value: object, default: object) -> object:
    """A value read from YAML, of the field's type: YAML 1.1 reads ``1e-4`` (no dot) as a string,
    and a whole number where a float is meant as an int."""
    if isinstance(value, str) and not isinstance(default, str):
        return _coerce(name, value, default)
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true/false, got {value!r}")
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (isinstance(default, int) or (default is None and name == "num_classes")) and isinstance(value, float):
        if not value.is_integer():
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
        return int(value)
    if isinstance(default, list) and isinstance(value, str):
        return [value]
    expected = type(default)
    if default is not None and not isinstance(value, expected) and not (expected is float and isinstance(value, int)):
        raise ConfigError(f"{name}: expected {expected.__name__}, got {value!r}")
    return value


def _coerce(name: str, text: str, current: object) -> object:
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true/false, got {text!r}")
    if isinstance(current, list):
        return [t for t in text.split(",") if t]
    try:
        if isinstance(current, int) or (current is None and name == "num_classes"):
            return int(text)
        if isinstance(current, float):
            return float(text)
    except ValueError:
        kind = "a whole number" if isinstance(current, int) or current is None else "a number"
        raise ConfigError(f"{name}: expected {kind}, got {text!r}") from None
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
            raise ConfigError(f"{path}: no such config; presets: {', '.join(known) or 'none found'}")
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: a config must be a mapping of settings")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown config keys {unknown}; known: {sorted(names)}")
    defaults = TrainConfig()
    config = TrainConfig(**{k: _typed(k, v, getattr(defaults, k)) for k, v in values.items()})
    given = set()
    for item in overrides or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE with KEY one of {sorted(names)}")
        setattr(config, key, _coerce(key, text.strip(), getattr(config, key)))
        given.add(key)
    if config.init == "scratch" and "class_init" not in given:
        config.class_init = "fresh"  # a preset's action-unit start needs weights: from scratch there are none
    return config.validate()
