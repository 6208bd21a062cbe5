"""Shortcut probes on the synthetic benchmark: held-out-person accuracy of a linear classifier on
each feature that should carry no class (apex frame pixels, image statistics, timing, the total
amount of motion) and on the one that should (the onset-to-apex flow).

Uses the people of both parts (the probes test the generator, not a method, so nothing is chosen
from them). Prints a Markdown table and writes shortcut_probes.json and .csv.

    python benchmarks/shortcut_probes.py [--clips-per-class 6] [--extent-equalisation 0.5] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from shortcuts import run_probes

import mol.data.synthetic.motion as motion
from mol.data.synthetic.benchmark import PARTS, part_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-class", type=int, default=6)
    parser.add_argument(
        "--extent-equalisation",
        type=float,
        default=motion.EXTENT_EQUALISATION,
        help="0 shows the generator with equal peaks (total motion then differs by class)",
    )
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    motion.EXTENT_EQUALISATION = args.extent_equalisation
    start = time.perf_counter()
    configs = [part_config(part, clips_per_class=args.clips_per_class) for part in PARTS]
    rows = run_probes(configs, progress=True)
    for row in rows:
        row["extent_equalisation"] = args.extent_equalisation
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "shortcut_probes.csv", index=False)
    (args.out / "shortcut_probes.json").write_text(json.dumps(rows, indent=2))
    print(f"{rows[0]['clips']} clips of {rows[0]['people']} people, {time.perf_counter() - start:.0f} s")
    print("| probe | features | held-out accuracy | chance | chance bound (p < 0.001) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['probe']} | {row['features']} | {row['accuracy']:.3f} | {row['chance']:.3f} "
            f"| {row['bound_p001']:.3f} |"
        )


if __name__ == "__main__":
    main()
