"""Optional speed-ups of the training step: channels-last weights and torch.compile.

Both leave the mathematics unchanged (float32 results agree within float32 noise). They are
options, off by default, because their benefit depends on the device: measure them with
`mol bench --channels-last --compile MODE` (see PERFORMANCE.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mol.train.config import COMPILE_MODES


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store every 2-D convolution's weight channels-last (NHWC), in place.

    Activations then follow the weights' layout through cuDNN/oneDNN. Only rank-4 weights
    can take that layout, so the whole-model ``model.to(memory_format=...)`` cannot be used.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            module.to(memory_format=torch.channels_last)
    return model


class CompiledOrEager:
    """Calls ``torch.compile(fn, mode=mode)``; if compiling fails on the first call (no C++
    compiler, no Triton, an unsupported operation) it warns once, says why in ``status``, and
    runs ``fn`` eagerly from then on."""

    def __init__(self, fn: Callable[..., Any], mode: str) -> None:
        if mode not in COMPILE_MODES:
            raise ValueError(f"compile mode must be one of {COMPILE_MODES}, got {mode!r}")
        self.eager = fn
        self.mode = mode
        self.status = "eager (compile off)" if mode == "none" else f"torch.compile mode={mode}"
        self._compiled: Callable[..., Any] | None = None
        self._first = mode != "none"
        if mode != "none":
            try:
                self._compiled = torch.compile(fn, mode=None if mode == "default" else mode)
            except Exception as exc:  # torch.compile unavailable on this platform or build
                self._fall_back(exc)

    def _fall_back(self, exc: BaseException) -> None:
        self._compiled, self._first = None, False
        self.status = f"eager (torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        warnings.warn(f"torch.compile mode={self.mode} unavailable, running eagerly: {self.status}", stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._compiled is None:
            return self.eager(*args, **kwargs)
        if not self._first:
            return self._compiled(*args, **kwargs)
        try:
            out = self._compiled(*args, **kwargs)
        except Exception as exc:  # compilation happens on the first call
            self._fall_back(exc)
            return self.eager(*args, **kwargs)
        self._first = False
        return out
