"""MOL: joint micro-expression recognition, optical flow and facial landmarks.

The model API is imported on first use, so `mol --help` and light tools start without torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "MOL": "mol.model",
    "MOLConfig": "mol.model",
    "MOLOutput": "mol.model",
    "from_official": "mol.model",
    "load_checkpoint": "mol.model",
    "save_checkpoint": "mol.model",
}

__all__ = ["MOL", "MOLConfig", "MOLOutput", "__version__", "from_official", "load_checkpoint", "save_checkpoint"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mol' has no attribute {name!r}")
