"""What the commands share: argparse types checked when parsed, and options several commands take."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


def number(kind: type = int, low: float | None = None, high: float | None = None, above: float | None = None):
    """An argparse type: a number of ``kind`` in [low, high] (and > ``above``), else an error that
    argparse prints with the option's name."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be more than {above}, got {text}")
        return value

    return parse


def at_least(low: float, kind: type = int):
    return number(kind, low=low)


def span(text: str) -> str:
    """An argparse type: a span in frames (48) or seconds (0.25s), checked when parsed."""
    from mol.errors import ConfigError
    from mol.infer.windows import span_value

    try:
        span_value(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parent(flag: str, **options) -> argparse.ArgumentParser:
    """A parser holding one option, for the commands that share it to take as a parent."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(flag, **options)
    return parser


@dataclass
class Shared:
    """The sub-command table and the options several commands share, each defined once."""

    sub: argparse._SubParsersAction

    def __post_init__(self) -> None:
        self.quiet = _parent("--quiet", action="store_true", help="no progress bars")
        self.preset = _parent(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a config value (repeatable), e.g. --set lr=1e-4; the keys are the fields of TrainConfig, "
            "each with its meaning, in src/mol/train/config.py (an unknown key's error lists them)",
        )
        self.folds = _parent(
            "--folds", help="comma-separated fold names or indices to run (for splitting over machines)"
        )
        self.init = _parent(
            "--init",
            metavar="{scratch,pretrained,PATH}",
            help="where MOL's weights start: scratch (the paper), pretrained (the shipped weights of `mol pretrain`, "
            "see src/mol/weights/MODEL_CARD.md) or a file `mol pretrain` wrote (default: the preset's init)",
        )
        self.people = _parent(
            "--subjects",
            type=int,
            help="only the first N people of the benchmark's test part, for a quick check (all 4)",
        )

    def command(
        self,
        name: str,
        func: Callable[[argparse.Namespace], int],
        help: str,
        description: str | None = None,
        parents=(),
    ) -> argparse.ArgumentParser:
        """A sub-command whose handler ``func`` gets the parsed arguments and returns the exit code."""
        parser = self.sub.add_parser(name, help=help, description=description or help, parents=list(parents))
        parser.set_defaults(func=func)
        return parser
