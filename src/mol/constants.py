"""Sizes, landmark facts and option names every layer shares, one definition each (no torch
import, so the command line and light tools can read them)."""

from __future__ import annotations

from typing import Any

CLIP_FRAMES = 8  # frames per clip, the network's T
FRAME_PAIRS = CLIP_FRAMES - 1  # consecutive pairs of a clip: the flow head's outputs
ALIGNED_SIZE = 144  # side of an aligned face in the cache
CROP = 128  # side of the network's input, cropped from the aligned face
EVAL_OFFSET = (ALIGNED_SIZE - CROP) // 2  # the centre crop's offset (8); training jitters around it
NUM_LANDMARKS = 68  # the iBUG 68-point scheme
LEFT_EYE = slice(36, 42)  # 0-based indices of the scheme's eye contours
RIGHT_EYE = slice(42, 48)
# the parts of the 68-point scheme, 0-based ("left": the image's left)
LANDMARK_PARTS: dict[str, range] = {
    "jaw": range(0, 17),
    "left brow": range(17, 22),
    "right brow": range(22, 27),
    "nose": range(27, 36),
    "left eye": range(36, 42),
    "right eye": range(42, 48),
    "mouth": range(48, 68),
}
BROWS = range(17, 27)
EYES = range(36, 48)
# pixel normalisation: "fixed" maps uint8 to [-1, 1] the same way everywhere; "subject" scales
# by the mean and standard deviation of each subject's frames, as the reference does
PIXEL_NORMALIZATIONS = ("fixed", "subject")
# a video's clips: "strided" (the reference's: clip j takes frames j, j+s, …, j+7s, s = ⌊L/8⌋)
# or "onset_apex" (one clip of 8 frames evenly spaced from the annotated onset to the apex)
CLIP_SAMPLINGS = ("strided", "onset_apex")
# what MOL's recognition path reads: "raw" frames (the paper) or "diff", each frame's difference
# from the clip's first frame (a deviation from the paper; flow and landmarks keep the raw frames)
MOTION_INPUTS = ("raw", "diff")
# where a network's weights start: "scratch" (random, the paper), "pretrained" (the weights the
# package ships, made by `mol pretrain`), or a path to a file `mol pretrain` wrote
INIT_CHOICES = ("scratch", "pretrained")
# faces of the pre-training stream: procedural ones, the built-in photographs, or half each
IDENTITY_SOURCES = ("procedural", "photos", "mixed", "textures")
ALIGN_MODES = ("per-frame", "onset")  # one similarity transform per frame, or the onset's for all
FLOW_METHODS = ("tvl1", "dis", "farneback")  # OpenCV estimators for ground-truth flow
EXACT_FLOW = "exact"  # the synthetic generator's own flow, for `mol synth` data only
DATASET_LAYOUTS = ("casme2", "samm", "smic", "folder", "manifest")  # what `mol prepare` reads
BENCHMARK_SCALES = ("small", "large")
# spotting: an expression is a micro-expression when it lasts at most this long (onset to
# offset), a macro-expression otherwise; a spotted interval counts when its IoU with an
# annotated one of the same kind reaches SPOT_IOU
EXPRESSION_KINDS = ("micro", "macro")
MICRO_MAX_SECONDS = 0.5
SPOT_IOU = 0.5


def inter_ocular(points: Any) -> Any:
    """Distance between the eye centres of landmarks (..., 68, 2): a numpy array or a torch
    tensor in, the same kind out (...)."""
    delta = points[..., LEFT_EYE, :].mean(-2) - points[..., RIGHT_EYE, :].mean(-2)
    return (delta**2).sum(-1) ** 0.5
