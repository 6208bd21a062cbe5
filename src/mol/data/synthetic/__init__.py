"""Synthetic micro-expressions with exact ground truth, from real face photographs.

Every frame is the subject's neutral face moved by a dense forward displacement field
U_t = Σ_AU a_AU(t) · F_AU + blink(t) + head drift(t), where each action-unit field F_AU is a sum
of Gaussian bumps anchored on the 68 landmarks. A frame is rendered by inverting the forward
map with a fixed-point iteration (the fields are smooth and a few pixels at most, so it
converges to far below a pixel in a few steps) and sampling the neutral image there. Hence:

* landmarks of frame t are exactly L + U_t(L);
* the flow from frame s to frame t at pixel q is exactly p + U_t(p) - q with p = the neutral
  point that lands on q in frame s (exact up to bilinear interpolation of the fields).

The ground truth stored per video is the neutral landmarks and the few basis fields actually
used with their per-frame coefficients, so flow between any two frames can be recomputed.
"""

from mol.data.synthetic.dataset import generate_dataset, iter_videos, load_subject_faces, synth_config_dict
from mol.data.synthetic.ground_truth import GROUND_TRUTH_FILE, GroundTruth, aligned_ground_truth
from mol.data.synthetic.motion import (
    ACTION_UNITS,
    EMOTION_AUS,
    SCHEME_EMOTIONS,
    exact_flow,
    face_mask,
    others_combinations,
    sample_field,
)
from mol.data.synthetic.photos import FACE_PHOTOS, load_face
from mol.data.synthetic.video import SynthConfig, SynthVideo, make_subject, make_video

__all__ = [
    "ACTION_UNITS",
    "EMOTION_AUS",
    "FACE_PHOTOS",
    "GROUND_TRUTH_FILE",
    "SCHEME_EMOTIONS",
    "GroundTruth",
    "SynthConfig",
    "SynthVideo",
    "aligned_ground_truth",
    "exact_flow",
    "face_mask",
    "generate_dataset",
    "iter_videos",
    "load_face",
    "load_subject_faces",
    "make_subject",
    "make_video",
    "others_combinations",
    "sample_field",
    "synth_config_dict",
]
