"""What a pre-training run depends on (PretrainConfig), and the `mol pretrain` command line
that gives it: written into the card so that the run can be repeated."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from mol.constants import MOTION_INPUTS
from mol.data.synthetic.stream import MORPH_WEIGHT, StreamConfig
from mol.errors import ConfigError


@dataclass
class PretrainConfig:
    """Everything a pre-training run depends on (saved in card.json and the checkpoints)."""

    steps: int = 2000
    time_budget: float = 0.0  # seconds of training (summed over resumes); 0: no limit
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 50
    weight_decay: float = 1e-3
    loss_au: float = 1.0  # BCE over the action units
    loss_head: float = 1.0  # BCE over the head's direction (with head_motion)
    loss_flow: float = 10.0
    loss_landmark: float = 0.1
    motion_input: str = "diff"
    identities: str = "procedural"
    head_motion: bool = False  # the head moves as far as the action units and its direction is a target
    texture_share: float = 0.0  # share of clips whose face is blended with a random smooth texture
    plain_motion: bool = False  # with head_motion: the head's motion alone (no AUs, blinks, photometry)
    sharp_textures: bool = False  # finer, stronger random textures (the capability check's kind)
    photo_share: float = 0.5  # with identities 'mixed': the share of clips whose face is a photograph
    morph_share: float = 0.0  # share of photograph clips morphed with a new procedural face
    people: tuple[str, ...] = ()  # photographs in the pool (never the benchmark's test people)
    eval_people: tuple[str, ...] = ("hopper", "paul")  # photographs the pool never holds: transfer
    curriculum_steps: int = 300
    eval_every: int = 100
    eval_clips: int = 64
    checkpoint_every: int = 50
    workers: int = 1
    device: str = "cpu"
    precision: str = "float32"
    seed: int = 0
    face_cache: str = ""  # folder of framed photographs (see PhotoFaces)
    init: str = ""  # a weights file of an earlier `mol pretrain` run to start from ("": scratch)
    # only the flow head trains, on top of --init's network, its deepest layers at a start drawn from
    # --seed: the shipped file then carries the rest of the head and the seed (see FlowHead.SEEDED_LAYERS)
    flow_only: bool = False
    # weight of the flow decoder's coarser predictions flow1..flow6 beside flow0 in the flow loss, each
    # against the exact flow averaged to its size (FlowNet's multi-scale loss; the reference: 0)
    flow_pyramid: float = 0.0

    def validate(self) -> PretrainConfig:
        from mol.data.synthetic.benchmark import PARTS

        ranges = (("steps", 1), ("batch_size", 1), ("eval_clips", 8), ("checkpoint_every", 1), ("workers", 0))
        for name, low in ranges:
            if getattr(self, name) < low:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least {low}, got {getattr(self, name)}")
        losses = ("loss_au", "loss_head", "loss_flow", "loss_landmark")
        others = ("time_budget", "flow_pyramid", "eval_every", "curriculum_steps", "warmup_steps", "lr", "weight_decay")
        for name in (*others, *losses):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if self.flow_only and (not self.init or self.loss_flow <= 0):
            raise ConfigError(
                "--flow-only trains the flow head on top of an earlier run's network: give --init and a --loss-flow "
                "above 0"
            )
        if not any(weight > 0 for weight in self.loss_weights.values()):
            raise ConfigError(
                "at least one of --loss-au, --loss-flow and --loss-landmark (or --loss-head with --head-motion) "
                "must be above 0"
            )
        if self.motion_input not in MOTION_INPUTS:
            raise ConfigError(f"--motion-input must be one of {MOTION_INPUTS}, got {self.motion_input!r}")
        if self.precision not in ("float32", "bfloat16"):
            raise ConfigError(f"--precision must be float32 or bfloat16, got {self.precision!r}")
        test_people = set(PARTS["test"]["people"])
        if test_people & set(self.people) or test_people & set(self.eval_people):
            raise ConfigError(
                f"the benchmark's test people {sorted(test_people)} may never be pre-trained on or looked at"
            )
        if set(self.people) & set(self.eval_people):
            raise ConfigError("--eval-people must not be in the pool (--people): they measure transfer")
        self.stream_config()  # raises on a bad identity source
        return self

    @property
    def loss_weights(self) -> dict[str, float]:
        """Each target's loss weight: the action units, the head's direction (only with
        head_motion), the flow, the landmarks; with flow_only, the flow's alone."""
        if self.flow_only:
            return {"au": 0.0, "head": 0.0, "flow": self.loss_flow, "landmark": 0.0}
        head = self.loss_head if self.head_motion else 0.0
        return {"au": self.loss_au, "head": head, "flow": self.loss_flow, "landmark": self.loss_landmark}

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            identities=self.identities,
            people=tuple(self.people),
            head_motion=self.head_motion,
            texture_share=self.texture_share,
            plain_motion=self.plain_motion,
            sharp_textures=self.sharp_textures,
            photo_share=self.photo_share,
            morph_share=self.morph_share,
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


RESUMABLE_CHANGES = ("steps", "time_budget", "workers", "device", "eval_every", "checkpoint_every", "face_cache")


EMPTY_ARGUMENT = '""'


FLAGS = {"batch_size": "batch"}  # config fields whose `mol pretrain` option has another name


def command_line(c: PretrainConfig) -> list[str]:
    """The options that differ from the defaults, as `mol pretrain` takes them."""
    defaults = PretrainConfig()
    parts = []
    for f in dataclasses.fields(PretrainConfig):
        value = getattr(c, f.name)
        if value != getattr(defaults, f.name) and f.name != "face_cache":
            flag = FLAGS.get(f.name, f.name).replace("_", "-")
            if isinstance(value, bool):  # a switch: on where the default is off
                parts.append(f"--{flag}")
                continue
            text = ",".join(value) if isinstance(value, (tuple, list)) else str(value)
            parts.append(f"--{flag} {text or EMPTY_ARGUMENT}")
    return parts


def pretrain_settings(args) -> dict:
    """The PretrainConfig fields that parsed `mol pretrain` options set (the inverse of
    :func:`command_line`): comma-separated people become tuples, an absent option keeps its default."""
    values = {}
    for f in dataclasses.fields(PretrainConfig):
        flag = FLAGS.get(f.name, f.name)
        if getattr(args, flag, None) is None:
            continue
        value = getattr(args, flag)
        values[f.name] = tuple(p for p in value.split(",") if p) if f.name in ("people", "eval_people") else value
    return values


def identity_pool_description(c: PretrainConfig) -> str:
    procedural = "procedural faces (a new one for every clip; mol.data.synthetic.procedural)"
    photos = f"the photographs {', '.join(c.people)}, varied in proportions, pose and lighting"
    if c.morph_share > 0:
        low, high = (round(100 * w) for w in MORPH_WEIGHT)
        photos += f" ({c.morph_share:g} of them morphed {low}-{high} % of the way towards a new procedural face)"
    textures = "random smooth textures moved by procedural faces' action units and head (no face visible)"
    return {
        "procedural": procedural,
        "photos": photos,
        "mixed": f"half {procedural}, half {photos}"
        if c.photo_share == 0.5
        else f"{1 - c.photo_share:.0%} {procedural}, {c.photo_share:.0%} {photos}",
        "textures": textures,
    }[c.identities]
