"""How close the reference's ground-truth estimates are to the synthetic set's exact truth.

Generates the small synthetic benchmark's test part (`mol synth --benchmark small`), prepares
it once with exact flow and landmarks and once per estimated flow method (landmarks then come from dlib), and prints one
JSON line per method: end-point error of the flow against the exact flow (pixels, over the
central 128×128 crop of the aligned 144×144 frames), and the landmark NME of dlib against the
exact landmarks (% of the inter-ocular distance). The alignment is the same in every run
(per-frame, from dlib), so the aligned frames are identical and only the estimates differ.

    python benchmarks/synthetic_truth.py [--methods tvl1 dis farneback] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from mol.data.cache import Cache
from mol.data.prepare import prepare
from mol.data.synthetic import generate_dataset
from mol.data.synthetic.benchmark import part_config
from mol.train.metrics import landmark_nme

INNER = slice(8, 136)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["tvl1", "dis", "farneback"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synth"
        start = time.perf_counter()
        summary = generate_dataset(root, part_config("test", "small"), progress=False)
        print(json.dumps({"benchmark": "synth", **summary, "seconds": round(time.perf_counter() - start, 2)}))
        prepare("casme2", root, Path(tmp) / "exact.h5", flow="exact", workers=args.workers, progress=False)
        exact = Cache(Path(tmp) / "exact.h5")
        for method in args.methods:
            start = time.perf_counter()
            prepare("casme2", root, Path(tmp) / f"{method}.h5", flow=method, workers=args.workers, progress=False)
            seconds = time.perf_counter() - start
            estimated = Cache(Path(tmp) / f"{method}.h5")
            errors, nmes, magnitudes = [], [], []
            for entry in exact.videos:
                truth, guess = exact.group(entry.key), estimated.group(entry.key)
                assert np.array_equal(truth["frames"][()], guess["frames"][()])
                f_true = truth["flows"][()].astype(np.float32)[:, INNER, INNER]
                f_est = guess["flows"][()].astype(np.float32)[:, INNER, INNER]
                errors.append(np.linalg.norm(f_est - f_true, axis=-1).mean())
                magnitudes.append(np.linalg.norm(f_true, axis=-1).mean())
                nmes.append(landmark_nme(guess["landmarks"][()], truth["landmarks"][()]))
            print(
                json.dumps(
                    {
                        "benchmark": "synthetic-truth",
                        "flow": method,
                        "videos": len(exact.videos),
                        "flow_epe_px": round(float(np.mean(errors)), 3),
                        "exact_flow_mean_magnitude_px": round(float(np.mean(magnitudes)), 3),
                        "dlib_landmark_nme_percent": round(float(np.mean(nmes)), 2),
                        "prepare_seconds": round(seconds, 1),
                        "workers": args.workers,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
