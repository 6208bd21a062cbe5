"""Pre-trained starting weights: the file the package ships, and starting a network from one.

What ships is what `mol pretrain` wrote as ``shippable.safetensors``: every tensor of the network
in float16, with the run's card in the metadata, except the flow head (39.7 M of MOL's 44.1 M
parameters). A flow stage (`mol pretrain --flow-only`) trains the head with its deepest layers
held at a seeded start; its file then also holds the rest of the head (4.7 M) and, in the
metadata, the seed that remakes those layers. A network started from a file (``init:
pretrained``) takes every tensor whose name and shape match, except the final class layer,
which is made for each dataset's classes (fresh, or by the trainer from the file's action-unit
layer: mol.train.class_start); a flow head the file lacks starts as it would from scratch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mol.errors import CheckpointError, ConfigError
from mol.files import atomic_write
from mol.model.checkpoint import read_safetensors_metadata
from mol.model.record import Initialization

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # shipped inside the package
# the shipped weights for each input option (MOLConfig.motion_input) that has them: version, file
SHIPPED: dict[str, tuple[str, Path]] = {
    "diff": ("2", WEIGHTS_DIR / "mol-pretrained-v2.safetensors"),
    "raw": ("raw-1", WEIGHTS_DIR / "mol-pretrained-raw-v1.safetensors"),
}
SHIPPED_VERSION, SHIPPED_FILE = SHIPPED["diff"]  # the frame-difference weights: the synthetic preset's
SHIPPABLE_FORMAT = "mol-pretrained"
NOT_SHIPPED = ("flow_head.",)  # tensor-name prefixes left out of the shipped file (size)
CLASS_LAYER = ("mer_head.fc2.weight", "mer_head.fc2.bias")  # made fresh for every dataset
FLOW_SEED_KEY = "flow_seed"  # metadata: the seed of the flow head's deepest layers, when it ships
TARGETS_KEY = "targets"  # a card's key: the names of the pre-trained last layer's outputs, in order


def seeded_names(model: torch.nn.Module) -> set[str]:
    """The network's state-dict names of the flow head's weights that a flow seed makes."""
    return {f"flow_head.{name}" for name in model.flow_head.seeded_weight_names()}


def shipped_names(model: torch.nn.Module, flow_seed: int | None) -> list[str]:
    """The tensors a shipped file holds: all but the flow head's, or, for a flow head whose
    deepest layers ``flow_seed`` makes, all but those layers' weights."""
    if flow_seed is None:
        return [k for k in model.state_dict() if not k.startswith(NOT_SHIPPED)]
    seeded = seeded_names(model)
    return [k for k in model.state_dict() if k not in seeded]


def save_shippable(model: torch.nn.Module, path: str | Path, card: dict, flow_seed: int | None = None) -> Path:
    """The network in float16 with the card in the metadata, without the flow head or, given the
    seed of its deepest layers, without those layers' weights."""
    names = set(shipped_names(model, flow_seed))
    state = {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in model.state_dict().items()
        if k in names
    }
    metadata = {
        "format": SHIPPABLE_FORMAT,
        "config": json.dumps(model.config.to_dict()),
        "card": json.dumps(card),
    }
    if flow_seed is not None:
        metadata[FLOW_SEED_KEY] = str(flow_seed)
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))
    return path


def read_pretrained_metadata(path: str | Path) -> tuple[dict, dict]:
    """(the network's config, the card) of a shipped file or of a whole `mol pretrain` /
    `mol train` checkpoint, from its metadata alone."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such pre-trained weights file; give a file `mol pretrain` wrote")
    metadata = read_safetensors_metadata(path)
    if metadata.get("format") not in (SHIPPABLE_FORMAT, "mol-checkpoint") or "config" not in metadata:
        raise CheckpointError(f"{path}: not a MOL weights file (made by `mol pretrain` or `mol train`)")
    if metadata.get("format") == "mol-checkpoint" and metadata.get("model", "mol") != "mol":
        raise CheckpointError(f"{path}: holds a {metadata['model']!r} model; pre-trained weights must be MOL's")
    card = json.loads(metadata.get("card") or metadata.get("pretrain") or "{}")
    return json.loads(metadata["config"]), card


def flow_seed_of(path: str | Path) -> int | None:
    """The seed that made the flow head's deepest layers in a flow stage's files (the shipped one
    remakes them from it; the whole network holds them too); None where no flow stage ran."""
    seed = read_safetensors_metadata(Path(path)).get(FLOW_SEED_KEY)
    return None if seed is None else int(seed)


def read_pretrained(path: str | Path) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(float32 tensors, the network's config, the card): see :func:`read_pretrained_metadata`."""
    config, card = read_pretrained_metadata(path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    return state, config, card


def resolve_init(init: str, motion_input: str = "diff") -> Path | None:
    """The weights file an ``init`` setting names (None for scratch); ``pretrained`` names the
    shipped weights of the network's input option."""
    if init == "scratch":
        return None
    if init == "pretrained":
        if motion_input not in SHIPPED:
            raise ConfigError(
                f"no pre-trained weights ship for motion_input={motion_input} (only for {', '.join(SHIPPED)}); "
                f"make them with `mol pretrain --motion-input {motion_input}` and pass --init PATH, "
                "or use --init scratch"
            )
        path = SHIPPED[motion_input][1]
        if not path.is_file():
            raise ConfigError(
                f"{path}: the shipped pre-trained weights for motion_input={motion_input} are missing from this "
                "install; reinstall mol-mer, or make your own with `mol pretrain` and pass --init PATH"
            )
        return path
    return Path(init)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def init_record(init: str, motion_input: str = "diff") -> Initialization:
    """What a training record says about a network's start: scratch, or which weights."""
    path = resolve_init(init, motion_input)
    if path is None:
        return Initialization("scratch")
    _, card = read_pretrained_metadata(path)
    return Initialization(
        init="pretrained" if init == "pretrained" else "file",
        file=path.name,
        sha256=file_digest(path),
        version=SHIPPED[motion_input][0] if init == "pretrained" else None,
        pretrain_steps=card.get("steps") if card else None,
    )


def start_from(model: torch.nn.Module, init: str, class_layer: bool = False) -> list[str]:
    """Copy the pre-trained tensors ``init`` names into ``model``; return the names kept fresh.

    The network's input option must match the weights'; everything else that matches in name
    and shape is taken, except the final class layer (CLASS_LAYER) unless ``class_layer`` (a
    pre-training run continuing another, on the same targets). A file with a flow seed first
    remakes the flow head's deepest layers from it (FlowHead.seed_large_layers)."""
    path = resolve_init(init, model.config.motion_input)
    if path is None:
        return list(model.state_dict())
    state, config, _ = read_pretrained(path)
    mine = model.config.to_dict()
    defaults = type(model.config)().to_dict()  # a field absent from older files had its default
    for key in ("motion_input", "k", "ccc_neighbors"):
        theirs = config.get(key, defaults[key])
        if theirs != mine.get(key):
            raise ConfigError(
                f"{path}: pre-trained with {key}={theirs!r}, this network has {key}={mine.get(key)!r}; "
                f"set {key}: {theirs} (e.g. --set {key}={theirs})"
            )
    flow_seed = flow_seed_of(path)
    remade = set()
    if flow_seed is not None:
        model.flow_head.seed_large_layers(flow_seed)
        remade = seeded_names(model)
    target = model.state_dict()
    skipped = () if class_layer else CLASS_LAYER
    taken = {k: v for k, v in state.items() if k in target and k not in skipped and v.shape == target[k].shape}
    with torch.no_grad():
        for k, v in taken.items():
            target[k].copy_(v)
    return [k for k in target if k not in taken and k not in remade]
