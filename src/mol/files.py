"""Writing files so that a killed job never leaves half a file behind (no torch import)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then move the file into place, so a killed job leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_csv_atomically(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    """Rows as CSV with a header (``fields``, default the first row's keys; other keys ignored)."""
    import csv

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields or list(rows[0]), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def check_output_path(path: Path, option: str = "--out", folder: bool = True) -> None:
    """Refuse, in one line naming ``option`` and ``path``, an output path that cannot be made:
    a file where a folder is wanted (or the reverse), or a parent that is a file or not
    writable. Makes nothing, so a command can check before it does any work."""
    from mol.errors import ConfigError

    path = Path(path)
    want = "a folder" if folder else "a file path"
    if path.exists() and path.is_dir() != folder:
        found = "a folder" if path.is_dir() else "a file"
        raise ConfigError(f"{option} {path}: {found} of that name exists; give {want}")
    if path.exists() and not folder:
        return  # an existing file: the command itself says whether it may resume or replace it
    parent = path if path.exists() else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, so nothing can be made inside it; give another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot write in {parent}; give {want} where you can write")


def make_output_folder(path: Path, option: str = "--out") -> Path:
    """Make the output folder ``path`` (and its parents) after :func:`check_output_path`."""
    check_output_path(path, option, folder=True)
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)
