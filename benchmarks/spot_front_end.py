"""The spotting front-end against per-frame detection on long synthetic videos with exact landmarks.

For each 30-fps recording of a long-video benchmark part (``mol synth --long OUT``): landmark NME
(mean point error / inter-ocular distance, %) against the exact landmarks, of
(a) dlib detection on every frame (one upsample, as `mol prepare` aligns) and (b) the tracker
of `mol spot` (detection on a half-size frame every 30 frames, tracking between), on the first
``--frames`` frames; and the whole front-end's speed (decode, track, warp, flow) over every frame.

    python benchmarks/spot_front_end.py /tmp/longbench/test/casme2-long --frames 150
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from mol.constants import inter_ocular
from mol.data.align import detect_landmarks
from mol.data.frames import FrameSource, list_frames
from mol.data.long_readers import read_long_dataset
from mol.data.track import FaceTracker
from mol.infer.spot import analysis_step, measure, skipping_frames


def nme(predicted: list, truth: np.ndarray) -> tuple[float, int]:
    errors = [
        np.linalg.norm(p - t, axis=1).mean() / inter_ocular(t)
        for p, t in zip(predicted, truth[: len(predicted)], strict=True)
        if p is not None
    ]
    return 100 * float(np.mean(errors)), sum(p is None for p in predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a casme2-long part of `mol synth --long`")
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    rows = []
    for record in read_long_dataset("casme2-long", args.root).records:
        truth = np.load(args.root / "landmarks" / f"{record.video_id}.npy")
        frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in list_frames(record.source)[: args.frames]]
        start = time.perf_counter()
        per_frame = [detect_landmarks(f, 1) for f in frames]
        detect_ms = 1000 * (time.perf_counter() - start) / len(frames)
        tracker = FaceTracker()
        start = time.perf_counter()
        tracked = [tracker(f) for f in frames]
        track_ms = 1000 * (time.perf_counter() - start) / len(frames)
        source = FrameSource(record.source)
        signals = measure(skipping_frames(source, analysis_step(record.fps)), record.fps, len(source))
        (detect_nme, detect_missed), (track_nme, track_missed) = nme(per_frame, truth), nme(tracked, truth)
        rows.append(
            {
                "video": record.video_id,
                "nme_detect_every_frame_percent": round(detect_nme, 3),
                "nme_tracker_percent": round(track_nme, 3),
                "missed_detect": detect_missed,
                "missed_tracker": track_missed,
                "ms_per_frame_detect": round(detect_ms, 1),
                "ms_per_frame_tracker": round(track_ms, 1),
                "front_end_frames_per_s": round(signals.num_frames / signals.seconds, 1),
            }
        )
        print(json.dumps(rows[-1]))
    mean = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0] if k != "video"}
    print(json.dumps({"mean": mean}))


if __name__ == "__main__":
    main()
