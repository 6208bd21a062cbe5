"""The class layer's start from the pre-trained action-unit layer (``class_init: action_units``).

`mol pretrain` trains MOL's last layer to detect action units, targets that belong to no
dataset's classes; fine-tuning replaces that layer by one for the dataset's classes. The coding
sheets of CASME II, SAMM and the synthetic benchmark give each video's action units, so the
training videos say which action units each class moves. Starting each class's row as the
mean of those action units' rows (weighted by how often the class's training videos show
them) makes the class layer a detector of its classes' action units from the first step,
instead of a random read-out that a few videos must teach.
"""

from __future__ import annotations

import numpy as np
import torch

from mol.data.action_units import parse_action_units
from mol.data.multicache import RunData, VideoRef
from mol.data.synthetic.stream import stream_targets
from mol.errors import ConfigError
from mol.model.mol import MOL
from mol.model.pretrained import CLASS_LAYER, TARGETS_KEY, read_pretrained, resolve_init


def pretrained_targets(card: dict) -> tuple[str, ...]:
    """The names of a pre-trained file's last-layer outputs, in order: the card's list, or, for
    files written before cards named them, the stream's action units (and the head's direction
    after a ``head_motion`` stage), the order `mol pretrain` always used."""
    if card.get(TARGETS_KEY):
        return tuple(card[TARGETS_KEY])
    return stream_targets(bool(card.get("config", {}).get("head_motion", False)))


def class_action_units(data: RunData, videos: list[VideoRef], num_classes: int, targets: tuple[str, ...]) -> np.ndarray:
    """(num_classes, len(targets)): row c, how often each target appears in the coding-sheet
    cells of class c's videos, over all the class's codes that name a target (rows sum to 1; a
    class with none is a row of zeros). Raises ConfigError for a cache made before caches held
    the sheets' action units."""
    counts = np.zeros((num_classes, len(targets)))
    sided = tuple(t for t in targets if not t.startswith("AU"))
    for ref in videos:
        cell = ref.entry.action_units
        if cell is None:
            raise ConfigError(
                f"{data.caches[ref.cache].path}: made before caches held the coding sheet's action units; "
                "re-run `mol prepare` into a new --out, or set class_init: fresh"
            )
        for name in parse_action_units(cell, sided):
            if name in targets:
                counts[ref.entry.label, targets.index(name)] += 1
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def start_class_layer(model: MOL, init: str, data: RunData, videos: list[VideoRef]) -> dict[str, dict[str, float]]:
    """Set ``model``'s class layer from the action-unit layer of the weights ``init`` names, read
    through ``videos``' coding sheets (see :func:`class_action_units`). A class none of whose
    training videos shows a detected action unit starts with no weights and the mean bias of
    the others. Returns, per class, the weight of each action unit its row averages."""
    path = resolve_init(init, model.config.motion_input)
    if path is None:
        raise ConfigError("class_init: action_units needs pre-trained weights (--init pretrained or a file)")
    state, _, card = read_pretrained(path)
    weight, bias = (state[name].float() for name in CLASS_LAYER)
    targets = pretrained_targets(card)
    if weight.shape[0] != len(targets):
        raise ConfigError(f"{path}: its last layer has {weight.shape[0]} outputs, its card names {len(targets)}")
    layer = model.mer_head.fc2
    matrix = class_action_units(data, videos, layer.out_features, targets)
    known = matrix.sum(1) > 0
    if not known.any():
        raise ConfigError(
            f"no training video's coding sheet names an action unit {path.name} detects ({', '.join(targets)}); "
            "set class_init: fresh"
        )
    m = torch.as_tensor(matrix, dtype=torch.float32)
    with torch.no_grad():
        layer.weight.copy_(m @ weight)
        layer.bias.copy_(m @ bias)
        layer.bias[~torch.as_tensor(known)] = layer.bias[torch.as_tensor(known)].mean()
    return {
        name: {targets[a]: round(float(matrix[c, a]), 4) for a in np.flatnonzero(matrix[c])}
        for c, name in enumerate(data.classes[: layer.out_features])
    }
