"""Models by name: one decorator registers a method, and the trainer, checkpoints and the command
line find it here (`mol train --model NAME`).

A model declares what it reads:

* ``clip``: 8 aligned frames (B, 1, 8, 128, 128), trained step by step on clips (MOL);
* ``apex_flow``: the optical flow from a video's onset frame to its apex frame, (B, 2, 128, 128)
  on the aligned face crop; such a model brings its own ``fit(flows, labels, seed)``, so
  closed-form methods (a linear classifier) and small networks train the same way.

Every model class has a ``config`` with ``to_dict()`` and a ``from_config_dict(dict)``
constructor, which is how a checkpoint rebuilds it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from mol.errors import ConfigError

MODEL_INPUTS: tuple[str, ...] = ("clip", "apex_flow")
_BUILTIN_MODULES = ("mol.model.mol", "mol.model.ststnet", "mol.model.flow_hist")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type
    input: str
    summary: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, input: str, summary: str = ""):
    """Class decorator: make the model known as ``name``."""
    if input not in MODEL_INPUTS:
        raise ConfigError(f"model input must be one of {MODEL_INPUTS}, got {input!r}")

    def decorate(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ConfigError(f"a model named {name!r} is already registered ({_REGISTRY[name].cls.__name__})")
        _REGISTRY[name] = ModelEntry(name, cls, input, summary)
        cls.model_name = name
        return cls

    return decorate


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def model_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(_REGISTRY)


def get_model(name: str) -> ModelEntry:
    _load_builtin()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def build_model(name: str, config: dict):
    """A fresh model of the registered class ``name`` from its configuration dict."""
    return get_model(name).cls.from_config_dict(config)
