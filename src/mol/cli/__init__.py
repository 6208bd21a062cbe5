"""The `mol` command line. Every sub-command prints a one-line error (exit 2) on bad input.

Each command's options are declared beside its handler: data in (``data_commands``), training
and evaluation (``train_commands``), videos (``infer_commands``). Nothing here imports torch, so
``mol --help`` starts at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mol.cli import data_commands, infer_commands, train_commands
from mol.cli.options import Shared


def build_parser() -> argparse.ArgumentParser:
    from mol import __version__

    parser = argparse.ArgumentParser(
        prog="mol", description="MOL: micro-expression recognition with optical flow and landmarks."
    )
    parser.add_argument("--version", action="version", version=f"mol {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of every error")
    shared = Shared(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    for group in (data_commands, train_commands, infer_commands):
        for add in group.COMMANDS:
            add(shared)
    return parser


def _check_output(args: argparse.Namespace) -> None:
    """An output path that cannot be made is refused in one line before any work."""
    from mol.files import check_output_path

    if args.command == "prepare":
        check_output_path(Path(args.out), "--out", folder=False)
    elif getattr(args, "out_dir", None):
        check_output_path(Path(args.out_dir), "OUT_DIR")
    elif getattr(args, "out", None):
        check_output_path(Path(args.out))


def main(argv: Sequence[str] | None = None) -> int:
    """Errors a user can fix (mol.errors) and OSError print one line naming the file and the fix
    (exit 2); anything else is a bug and shows its traceback. ``--debug`` shows every traceback."""
    from mol.errors import MolError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_output(args)
        return args.func(args)
    except (MolError, OSError) as exc:
        if args.debug:
            raise
        print(f"mol {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
