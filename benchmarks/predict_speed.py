"""Throughput of `mol predict`: seconds of video per second of wall time, and where time goes.

Writes a 640×480 video (the scikit-image astronaut's face, drifting by sub-pixel steps) of
--seconds at --fps, runs `predict` with a freshly initialised 5-class model (the arithmetic
does not depend on the weights), and prints one JSON line.

    python benchmarks/predict_speed.py --seconds 1 --fps 200 --window 48 --stride 8
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
from skimage import color, data

from mol.infer.predict import predict
from mol.model import MOL, save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--fps", type=float, default=200.0)
    parser.add_argument("--window", default="48")
    parser.add_argument("--stride", default="8")
    args = parser.parse_args()
    gray = (color.rgb2gray(data.astronaut()) * 255).astype(np.uint8)
    canvas = cv2.resize(gray, (1024, 1024))[2:482, 120:760]
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "face.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), args.fps, (640, 480))
        frames = round(args.seconds * args.fps)
        for t in range(frames):
            m = np.float32([[1, 0, 0.05 * t], [0, 1, 0.02 * t]])
            frame = cv2.warpAffine(canvas, m, (640, 480), borderMode=cv2.BORDER_REFLECT)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        checkpoint = Path(tmp) / "model.safetensors"
        save_checkpoint(MOL(num_classes=5), checkpoint)
        start = time.perf_counter()
        result = predict(video, checkpoint, window=args.window, stride=args.stride)
        wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "predict",
                "frames": frames,
                "video_seconds": args.seconds,
                "windows": len(result.windows),
                "wall_seconds": round(wall, 2),
                "video_seconds_per_wall_second": round(args.seconds / wall, 3),
                "seconds": result.seconds,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    main()
