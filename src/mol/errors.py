"""The errors mol raises for problems a user can fix: bad input files, settings or data. Each
message names the file or setting and what to do. `mol` prints these (and OSError) as one line;
anything else is a bug and keeps its traceback. They are also ValueError or RuntimeError, so
code that caught those before still does."""

from __future__ import annotations


class MolError(Exception):
    """Base of every error a user can fix."""


class ConfigError(MolError, ValueError):
    """A setting, option or argument out of range, unknown or inconsistent."""


class DatasetError(MolError, ValueError):
    """A raw dataset folder or annotation sheet that cannot be read as its layout says."""


class FrameError(MolError, ValueError):
    """An image or video file that cannot be read."""


class NoFaceError(MolError, ValueError):
    """No face was found in any frame of a video."""


class CacheError(MolError, ValueError):
    """A cache file that is missing, truncated, of another format version or other options."""


class CheckpointError(MolError, ValueError):
    """A checkpoint file or state dict that cannot be used, with what is wrong and what to do."""


class TrainingError(MolError, RuntimeError):
    """Training cannot go on (a diverged loss); the message names the fold and the step."""
