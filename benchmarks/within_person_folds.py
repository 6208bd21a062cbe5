"""Diagnostic: can a model learn the classes when the test people are also seen in training?

Copies a cache, renaming each video's subject to one of ``--parts`` groups so that every group
holds about the same share of each person's videos of each class, then runs `mol train` on the
copy with the usual leave-one-subject-out protocol: each fold tests on the held-out share of
every person's videos after training on the rest of the same people's videos. A model that
scores chance here too cannot be learning the motion at all (it memorises its training videos),
whatever its cross-person score. Extra arguments go to `mol train`::

    python benchmarks/within_person_folds.py --cache dev.h5 --out runs/dev-within \\
        --config synthetic-demo --set loss_flow=0 --set loss_landmark=0
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import h5py

from mol.cli import main as mol_main
from mol.data.cache import Cache


def regroup(source: Path, target: Path, parts: int) -> dict[str, str]:
    """Copy ``source`` to ``target`` with subjects renamed to part0..part{parts-1}: a person's
    videos of one class go to the parts in turn (ordered by key). Video names gain their
    person's (two people's EP01_01 stay two videos in one part). Returns key → part."""
    cache = Cache(source)
    counts: dict[tuple[str, str, int], int] = defaultdict(int)
    assigned = {}
    for entry in sorted(cache.videos, key=lambda e: e.key):
        group = (entry.dataset, entry.subject, entry.label)
        assigned[entry.key] = f"part{counts[group] % parts}"
        counts[group] += 1
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copy(source, tmp)
    with h5py.File(tmp, "r+") as f:
        for key, part in assigned.items():
            attrs = f["videos"][key].attrs
            attrs["video_id"] = f"{attrs['subject']}_{attrs['video_id']}"
            attrs["subject"] = part
    tmp.replace(target)
    return assigned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="a prepared cache")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--parts", type=int, default=3, help="folds (default 3)")
    args, train_args = parser.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    regrouped = out.with_name(f"{out.name}-regrouped.h5")
    assigned = regroup(Path(args.cache), regrouped, args.parts)
    print(f"{len(assigned)} videos in {args.parts} parts: {regrouped}")
    return mol_main(["train", "--cache", str(regrouped), "--out", str(out), *train_args])


if __name__ == "__main__":
    sys.exit(main())
