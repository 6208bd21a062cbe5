"""Throughput of `mol prepare` per flow method on a CASME II-like tree built from a real face.

Writes N videos of L frames at 640×480 (the CASME II frame size; the scikit-image astronaut,
scaled so the face spans ~180 px, drifting by sub-pixel steps) in the CASME II raw layout, then
runs `prepare` once per flow method and prints one JSON line each: frames per second, TV-L1
(or other) flow computations made, and how many the reference's procedure would make.

    python benchmarks/prepare_speed.py --videos 4 --frames 64 [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from skimage import color, data

from mol.data.prepare import prepare


def casme_like_tree(root: Path, videos: int, frames: int) -> None:
    gray = (color.rgb2gray(data.astronaut()) * 255).astype(np.uint8)
    big = cv2.resize(gray, (1024, 1024))
    canvas = big[2:482, 120:760]  # 640×480 around the face
    rows = []
    rng = np.random.default_rng(0)
    for v in range(videos):
        folder = root / "CASME2_RAW_selected" / f"sub{v + 1:02d}" / f"EP01_{v:02d}"
        folder.mkdir(parents=True)
        drift = rng.uniform(-0.1, 0.1, size=2)
        for t in range(frames):
            m = np.float32([[1, 0, drift[0] * t], [0, 1, drift[1] * t]])
            cv2.imwrite(
                str(folder / f"img{t + 1}.jpg"), cv2.warpAffine(canvas, m, (640, 480), borderMode=cv2.BORDER_REFLECT)
            )
        rows.append([v + 1, f"EP01_{v:02d}", None, 1, frames // 2, frames, None, "AU12", "happiness"])
    cols = [
        "Subject",
        "Filename",
        "u2",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "u6",
        "Action Units",
        "Estimated Emotion",
    ]
    pd.DataFrame(rows, columns=cols).to_excel(root / "CASME2-coding-20140508.xlsx", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=["tvl1", "dis", "farneback"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "raw"
        casme_like_tree(root, args.videos, args.frames)
        for method in args.methods:
            start = time.perf_counter()
            report = prepare(
                "casme2", root, Path(tmp) / f"{method}.h5", flow=method, workers=args.workers, progress=False
            )
            seconds = time.perf_counter() - start
            s = report.summary()
            print(
                json.dumps(
                    {
                        "benchmark": "prepare",
                        "flow": method,
                        "workers": args.workers,
                        "videos": s["videos_new"],
                        "frames": s["frames_processed"],
                        "seconds": round(seconds, 2),
                        "frames_per_second": round(s["frames_processed"] / seconds, 2),
                        "flow_calls": s["flow_calls"],
                        "reference_flow_calls": s["reference_flow_calls"],
                        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
