"""The training record: what travels with a trained checkpoint about how, and on what, it was
trained, and the preprocessing its input needs. Written by the trainers, read by `mol predict`
and its report; one typed, versioned form, and one upgrade path for records of older versions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from mol.errors import CheckpointError

RECORD_VERSION = 2  # 1: the untyped records written before this module (no "version" key)
RECORD_KEY = "training"  # the checkpoint metadata entry that holds the record as JSON

# head → (the metric of its test error, the metric of its trivial baseline's error)
HEAD_ERRORS: dict[str, tuple[str, str]] = {
    "flow": ("flow_epe_px", "zero_flow_epe_px"),  # predicting no motion
    "landmarks": ("landmark_nme_percent", "mean_shape_nme_percent"),  # the training mean shape
}


@dataclass(frozen=True)
class HeldOut:
    """What the checkpoint scored on the people it was not trained on: video-level UAR and UF1
    beside chance, and the mean errors of the flow and landmark heads beside their baselines
    (None where the head was not tested)."""

    subjects: int
    videos: int
    video_uar: float
    video_uf1: float
    chance_uar: float
    flow_epe_px: float | None = None
    zero_flow_epe_px: float | None = None
    landmark_nme_percent: float | None = None
    mean_shape_nme_percent: float | None = None

    def head_error(self, head: str) -> tuple[float, float] | None:
        """(the head's error, its baseline's error), or None where either is missing."""
        error, baseline = (getattr(self, name) for name in HEAD_ERRORS[head])
        return None if error is None or baseline is None else (error, baseline)


@dataclass(frozen=True)
class Initialization:
    """Where a network's weights started: scratch, the shipped pre-trained weights, or a file."""

    init: str  # scratch | pretrained | file
    file: str | None = None
    sha256: str | None = None
    version: str | None = None
    pretrain_steps: int | None = None
    class_layer: str = "fresh"  # fresh | action_units: from the weights' action-unit layer (class_init)

    def describe(self) -> str:
        if self.init == "scratch":
            return "from scratch (random weights), as in the paper"
        version = f" version {self.version}" if self.version else ""
        steps = f", {self.pretrain_steps} pre-training steps" if self.pretrain_steps else ""
        start = "; class layer from its action-unit layer" if self.class_layer == "action_units" else ""
        return f"pre-trained weights{version} ({self.file}, sha256 {self.sha256}{steps}){start}"


@dataclass(frozen=True)
class TrainingRecord:
    """How and on what a checkpoint was trained (see the module docstring)."""

    steps: int
    loss_weights: dict[str, float]
    trained_heads: tuple[str, ...]
    datasets: tuple[str, ...]
    subjects: int
    videos: int
    classes: tuple[str, ...]
    synthetic: bool  # trained on caches with exact flow, which only synthetic data has
    align: tuple[str, ...]  # the caches' alignment modes
    flow: tuple[str, ...]  # the caches' flow methods
    fps: tuple[float, ...]  # the training videos' frame rates
    normalize: str = "fixed"
    clip_sampling: str = "strided"
    input: str = "clip"  # clip: MOL's 8 frames; onset_apex_flow: one flow per micro-expression
    input_flow: tuple[str, ...] = ()  # onset_apex_flow models: the flow method of their input
    initialization: Initialization | None = None  # None: MOL before it was recorded, or no MOL
    held_out: HeldOut | None = None
    version: int = RECORD_VERSION

    @property
    def alignment(self) -> str:
        """The alignment the model was trained with (per-frame where none was recorded)."""
        return self.align[0] if self.align else "per-frame"

    def with_held_out(self, held_out: HeldOut | None) -> TrainingRecord:
        return replace(self, held_out=held_out)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> TrainingRecord:
        data = upgrade(dict(data))
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("trained_heads", "datasets", "classes", "align", "flow", "fps", "input_flow"):
            values[name] = tuple(values.get(name) or ())
        values["loss_weights"] = dict(values.get("loss_weights") or {})
        if values.get("initialization"):
            values["initialization"] = Initialization(**values["initialization"])
        if values.get("held_out"):
            values["held_out"] = HeldOut(**values["held_out"])
        return cls(**values)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "checkpoint") -> TrainingRecord | None:
        """The record in a checkpoint's metadata, upgraded to this version; None where the
        checkpoint predates records."""
        if RECORD_KEY not in metadata:
            return None
        try:
            data = json.loads(metadata[RECORD_KEY])
            if "input_flow" not in data and "flow" in metadata and data.get("input") == "onset_apex_flow":
                data["input_flow"] = metadata["flow"].split(",")  # where version 1 kept it
            return cls.from_dict(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{source}: its training record cannot be read: {exc}") from exc


def upgrade(data: dict) -> dict:
    """A record of any earlier version as this version's fields. A field an older version did
    not write takes the dataclass default, which is what that version's code assumed."""
    version = int(data.get("version", 1))
    if version > RECORD_VERSION:
        raise ValueError(f"record version {version} is newer than this mol reads ({RECORD_VERSION}); upgrade mol")
    if version == 1:
        data["held_out"] = data.get("held_out") or None  # version 1 wrote {} when nothing was tested
        data["version"] = RECORD_VERSION
    return data
