"""Does a network pre-trained with ``--head-motion`` see motion, or where the face ends up?

Its two head-motion outputs (after the action units) say whether the whole head moved right and
down over the clip. On the capability check's clips (a random smooth texture shifting left or
right, no face anywhere: see motion_capability.py) only motion can tell the direction, so the
sign of the head-right output is read there, untrained on textures, at each shift:

    python benchmarks/head_direction_probe.py PRETRAIN_OUT [--shifts 2,8] [--clips 128]

PRETRAIN_OUT is a `mol pretrain --head-motion` folder: its finished pretrained.safetensors, or
its last resume point while it runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from motion_capability import shifting_clips, wilson

from mol.data.synthetic.stream import HEAD_TARGETS, STREAM_AUS
from mol.model.checkpoint import load_checkpoint
from mol.model.mol import MOL


def load_run(folder: Path) -> tuple[MOL, int]:
    """The network of a pre-training folder and its step."""
    finished = folder / "pretrained.safetensors"
    if finished.is_file():
        return load_checkpoint(finished).eval(), json.loads((folder / "card.json").read_text())["steps"]
    state = torch.load(folder / "resume.pt", map_location="cpu", weights_only=True)
    config = json.loads((folder / "pretrain_config.json").read_text())
    outputs = state["model"]["mer_head.fc2.bias"].shape[0]
    model = MOL(num_classes=outputs, motion_input=config["motion_input"])
    model.load_state_dict(state["model"])
    return model.eval(), json.loads(state["progress"])["step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--shifts", default="2,8", help="total shifts over the clip, px, comma-separated")
    parser.add_argument("--clips", type=int, default=128)
    args = parser.parse_args()
    model, step = load_run(args.folder)
    if model.num_classes != len(STREAM_AUS) + len(HEAD_TARGETS):
        raise SystemExit(f"{args.folder}: not pre-trained with --head-motion (no head-motion outputs)")
    right = len(STREAM_AUS)  # the HEAD_RIGHT output
    for shift in (float(s) for s in args.shifts.split(",")):
        clip, labels = shifting_clips(args.clips, shift, torch.Generator().manual_seed(5))
        with torch.no_grad():
            logit = model(clip, heads=("mer",)).mer_logits[:, right]
        correct = int(((logit > 0).long() == labels).sum())
        low, high = wilson(correct, args.clips)
        print(
            f"step {step}, shift {shift:g} px: head-right output right on {correct}/{args.clips} "
            f"= {correct / args.clips:.3f} [{low:.3f}, {high:.3f}] (chance 0.5)"
        )


if __name__ == "__main__":
    main()
