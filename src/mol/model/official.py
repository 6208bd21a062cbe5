"""Import (and export) of the reference implementation's state-dict layout.

The reference names its modules conv_stack, FCC_1/CCC_1 (F5C block A), FCC_2/CCC_2 (block B),
flownet, mer_3dcnn and ldm_predictor, and stores some tensors with singleton axes (the FCC
kernels as 2-D convolutions, the CCC transforms as 1-D convolutions). Only the FCC feed-forward
weights (``FCC_*.ffn.*``), which the reference declares but never calls, are dropped; every other
key must be present with its exact shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from mol.errors import CheckpointError
from mol.model.mol import MOL

IGNORED_OFFICIAL = re.compile(r"^FCC_[12]\.ffn\.")

# whole-module renames: (official prefix, our prefix); the longest matching prefix wins
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("conv_stack.conv_stack.", "conv_stack.convs."),
    ("flownet.", "flow_head."),
    ("mer_3dcnn.", "mer_head."),
    ("ldm_predictor.convldm.", "landmark_head.conv."),
    ("ldm_predictor.", "landmark_head."),
)
_BLOCKS = {"1": "f5c_a", "2": "f5c_b"}
_FCC_NAMES = {
    "meta_kernel_1_H": "kernel_h1",
    "meta_kernel_1_W": "kernel_w1",
    "meta_kernel_2_H": "kernel_h2",
    "meta_kernel_2_W": "kernel_w2",
    "meta_1_H_bias": "bias_h1",
    "meta_1_W_bias": "bias_w1",
    "meta_2_H_bias": "bias_h2",
    "meta_2_W_bias": "bias_w2",
    "meta_pe_1_H": "pos_h1",
    "meta_pe_1_W": "pos_w1",
    "meta_pe_2_H": "pos_h2",
    "meta_pe_2_W": "pos_w2",
}
_CCC_NAMES = {
    "conv1.weight": "self_weight",
    "conv1.bias": "self_bias",
    "conv2.weight": "diff_weight",
    "conv2.bias": "diff_bias",
}


def official_to_ours(key: str) -> str | None:
    """Our parameter name for an official key, or None if the key is one we deliberately drop."""
    if IGNORED_OFFICIAL.match(key):
        return None
    m = re.match(r"^(FCC|CCC)_([12])\.(.+)$", key)
    if m:
        kind, block, rest = m.groups()
        prefix = f"{_BLOCKS[block]}.{kind.lower()}."
        if kind == "FCC":
            if rest in _FCC_NAMES:
                return prefix + _FCC_NAMES[rest]
            return prefix + rest.replace("pre_Norm_1.", "norm1.").replace("pre_Norm_2.", "norm2.")
        return prefix + _CCC_NAMES.get(rest, rest)
    for theirs, ours in _PREFIXES:
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    return "<unknown>." + key


def ours_to_official(key: str) -> str:
    """The official name of one of our state-dict keys (inverse of :func:`official_to_ours`)."""
    m = re.match(r"^(f5c_a|f5c_b)\.(fcc|ccc)\.(.+)$", key)
    if m:
        block_name, kind, rest = m.groups()
        block = {v: k for k, v in _BLOCKS.items()}[block_name]
        names = {v: k for k, v in (_FCC_NAMES if kind == "fcc" else _CCC_NAMES).items()}
        rest = names.get(rest, rest).replace("norm1.", "pre_Norm_1.").replace("norm2.", "pre_Norm_2.")
        return f"{kind.upper()}_{block}.{rest}"
    for theirs, ours in sorted(_PREFIXES, key=lambda p: -len(p[1])):
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    raise KeyError(key)


def official_shape(our_key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the reference stores for one of our tensors (it keeps singleton conv axes)."""
    leaf = our_key.rsplit(".", 1)[-1]
    if leaf.startswith("kernel_h"):
        return (shape[0], 1, shape[1], 1)
    if leaf.startswith("kernel_w"):
        return (shape[0], 1, 1, shape[1])
    if leaf.startswith("pos_h"):
        return (1, shape[0], shape[1], 1)
    if leaf.startswith("pos_w"):
        return (1, shape[0], 1, shape[1])
    if leaf in ("self_weight", "diff_weight"):
        return (shape[0], 1, shape[1])
    return tuple(shape)


def _describe(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" … (+{len(keys) - limit} more)" if len(keys) > limit else "")


def convert_official_state_dict(official: Mapping[str, torch.Tensor], model: MOL) -> dict[str, torch.Tensor]:
    """Map an official state dict onto ``model``'s layout; raise CheckpointError naming bad keys."""
    target = model.state_dict()
    converted: dict[str, torch.Tensor] = {}
    unexpected, misshaped, seen = [], [], set()
    for key, value in official.items():
        ours = official_to_ours(key)
        if ours is None:
            continue
        if ours not in target or not isinstance(value, torch.Tensor):
            unexpected.append(key)
            continue
        seen.add(ours)
        want = official_shape(ours, tuple(target[ours].shape))
        if tuple(value.shape) != want:
            misshaped.append(f"{key} {tuple(value.shape)} (expected {want})")
            continue
        converted[ours] = value.reshape(target[ours].shape)
    missing = [ours_to_official(k) for k in target if k not in seen]
    problems = []
    if missing:
        problems.append(f"missing keys: {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_describe(unexpected)}")
    if misshaped:
        problems.append(f"wrong shapes: {_describe(misshaped)}")
    if problems:
        raise CheckpointError(
            "not an official MOL state dict for this configuration "
            f"({model.num_classes} classes): " + "; ".join(problems)
        )
    return converted


def to_official_state_dict(model: MOL) -> dict[str, torch.Tensor]:
    """Our weights in the reference layout (without the unused FCC feed-forward weights)."""
    return {ours_to_official(k): v.reshape(official_shape(k, tuple(v.shape))) for k, v in model.state_dict().items()}


def _unwrap(obj: object, source: str) -> dict[str, torch.Tensor]:
    """Accept a bare state dict, or one nested under 'state_dict'/'model', with or without 'module.'."""
    if isinstance(obj, Mapping):
        for wrapper in ("state_dict", "model", "model_state_dict"):
            if wrapper in obj and isinstance(obj[wrapper], Mapping):
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{source}: does not hold a state dict (a mapping of parameter names to tensors); "
            "save the reference model with torch.save(model.state_dict(), path)"
        )
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def load_official_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a reference ``.pth`` safely (``weights_only=True``: no arbitrary unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe pickles
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch weights file ({first}); "
            "it must be a state dict saved with torch.save and holding only tensors"
        ) from exc
    return _unwrap(obj, str(path))


def from_official(
    source: str | Path | Mapping[str, torch.Tensor],
    num_classes: int | None = None,
) -> MOL:
    """Build a MOL (reference variant: k = 4, position neighbours) from official weights.

    ``source`` is a path to a reference ``.pth`` or an already loaded state dict. The number of
    classes is read from the checkpoint; if ``num_classes`` is given it must agree.
    """
    if isinstance(source, Mapping):
        state, name = _unwrap(source, "state dict"), "state dict"
    else:
        state, name = load_official_state_dict(source), str(source)
    head = state.get("mer_3dcnn.fc2.weight")
    if head is None or head.dim() != 2:
        raise CheckpointError(
            f"{name}: no 'mer_3dcnn.fc2.weight' of shape (classes, 256); not an official MOL checkpoint"
        )
    found = int(head.shape[0])
    if num_classes is not None and num_classes != found:
        raise CheckpointError(f"{name}: holds a {found}-class MER head, but {num_classes} classes were asked for")
    model = MOL(num_classes=found)
    try:
        converted = convert_official_state_dict(state, model)
    except CheckpointError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    with torch.no_grad():
        model.load_state_dict(converted, strict=True)
    return model
