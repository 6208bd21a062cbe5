"""Our own checkpoints: safetensors weights with the model configuration in the metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from mol.errors import CheckpointError
from mol.files import atomic_write
from mol.model.registry import build_model

FORMAT_NAME = "mol-checkpoint"
FORMAT_VERSION = "1"


def save_checkpoint(model: torch.nn.Module, path: str | Path, extra: dict[str, str] | None = None) -> Path:
    """Write a registered model to a safetensors file that alone rebuilds it, with the model's
    name and configuration in the metadata (see :func:`load_checkpoint`)."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(f"{path}: refusing to save non-finite weights (in {', '.join(broken[:5])})")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model": getattr(model, "model_name", "mol"),
        "config": json.dumps(model.config.to_dict()),
    }
    metadata.update(extra or {})
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))
    return path


def read_safetensors_metadata(path: Path, hint: str = "") -> dict[str, str]:
    """A safetensors file's metadata (no tensors read); an unreadable file is a CheckpointError
    naming it, with ``hint`` after the reason."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file{hint}: {exc}") from exc


def read_checkpoint_metadata(path: str | Path) -> dict[str, str]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    hint = " (a reference .pth? convert it with `mol import-official`)" if path.suffix in (".pth", ".pt") else ""
    metadata = read_safetensors_metadata(path, hint)
    if metadata.get("format") != FORMAT_NAME or "config" not in metadata:
        raise CheckpointError(
            f"{path}: a safetensors file without MOL metadata; if it holds reference weights, "
            "convert them with `mol import-official`"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {metadata.get('format_version')!r}, this mol reads {FORMAT_VERSION!r}"
        )
    return metadata


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", expected: str | None = "mol"
) -> torch.nn.Module:
    """Rebuild the model stored by :func:`save_checkpoint`. ``expected``: the model name the
    caller can use (None: any registered model)."""
    metadata = read_checkpoint_metadata(path)
    name = metadata.get("model", "mol")  # checkpoints written before the registry hold MOL
    if expected is not None and name != expected:
        raise CheckpointError(f"{path}: holds a {name!r} model; this needs a {expected!r} checkpoint")
    try:
        model = build_model(name, json.loads(metadata["config"]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid model configuration in checkpoint: {exc}") from exc
    state = load_file(str(path), device="cpu")
    expected_state = model.state_dict()
    missing = [k for k in expected_state if k not in state]
    unexpected = [k for k in state if k not in expected_state]
    mismatched = [k for k, v in state.items() if k in expected_state and v.shape != expected_state[k].shape]
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f"{path}: weights do not match the stored configuration "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {mismatched[:5]})"
        )
    model.load_state_dict(state, strict=True)
    return model.to(device)
