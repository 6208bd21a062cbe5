"""Can a model learn the direction of a small motion, given unlimited data? A capability check.

Each clip is 8 frames (128 × 128) of a fresh random smooth texture that shifts horizontally,
linearly in time, by ``shift`` px in all: to the left (class 0) or to the right (class 1).
Every training step draws new textures, so nothing can be memorised: a model either learns to
see the direction of motion or stays at chance. The exact flow of every frame pair is known
(``shift / 7`` px along x), so MOL's flow head can be supervised as in joint training.

Models: ``mol`` (MOL, recognition alone), ``mol-flow`` (MOL with the flow loss, weight 10, on
one pair of 7 per step, the pairs in turn; the synthetic-demo preset also supervises one pair
per step, drawn at random), and ``cnn3d``, a two-layer
3-D CNN on the pixels (a control: the task is easy for a model that sees frames together).
All train with AdamW (lr 1e-3, weight decay 1e-3), batch 8, and are tested on 128 clips of
textures never seen, with their 95 % Wilson interval.

    python benchmarks/motion_capability.py --out mc --steps 150 \
        --shifts 2,8 --models mol,mol-flow,cnn3d --seeds 0
    python benchmarks/motion_capability.py --out mc --steps 50 --shifts 2 --models mol \
        --seeds 0,1,2 --init pretrained --eval-every 10

``--init pretrained`` starts MOL from the shipped pre-trained weights (mol pretrain) of the input
``--motion-input`` names (raw frames, the default, or frame differences: harder here, since a
difference holds the texture's gradient of unknown sign, and the direction shows only in how the
differences move from frame to frame); the two-class layer starts fresh.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mol.constants import CLIP_FRAMES, CROP
from mol.files import atomic_write, write_csv_atomically, write_text_atomically
from mol.model.mol import MOL
from mol.model.pretrained import read_pretrained_metadata, start_from

MARGIN = 16  # texture border, so that shifted frames never sample outside the texture
LOSS_FLOW = 10.0  # the reference's flow loss weight
TEST_CLIPS = 128
CURVE_EVERY = 25  # steps per point of the stored loss curve


def shifting_clips(n: int, shift: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n clips (n, 1, 8, 128, 128) in about [-1, 1] and labels (n,): class 1 moves right by
    ``shift`` px from frame 0 to frame 7, class 0 left; frame t is displaced by shift·t/7."""
    side = CROP + 2 * MARGIN
    texture = F.avg_pool2d(torch.randn(n, 1, side, side, generator=generator), 5, 1, 2) * 3
    labels = torch.randint(0, 2, (n,), generator=generator)
    direction = 2 * labels.float() - 1
    frames = []
    for t in range(CLIP_FRAMES):
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, 0, 2] = -direction * shift * t / (CLIP_FRAMES - 1) / (side / 2)  # sample at x - d
        grid = F.affine_grid(theta, list(texture.shape), align_corners=False)
        moved = F.grid_sample(texture, grid, align_corners=False, padding_mode="border")
        frames.append(moved[:, :, MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP])
    return torch.stack(frames, dim=2).clamp(-1, 1), labels


def pair_flow(labels: torch.Tensor, shift: float, pairs: int) -> torch.Tensor:
    """The exact flow (n, 2, 128, 128, pairs) of consecutive frames: shift/7 px along x."""
    flow = torch.zeros(len(labels), 2, CROP, CROP, pairs)
    flow[:, 0] = ((2 * labels.float() - 1) * shift / (CLIP_FRAMES - 1)).view(-1, 1, 1, 1)
    return flow


class SmallCNN3d(nn.Module):
    """Control: Conv3d(1→16, 3) → ReLU → Conv3d(16→32, 3, stride 2) → ReLU → mean → linear."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv3d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.classify = nn.Linear(32, num_classes)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(clip))


def logits_of(model: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    return model(clip, heads=("mer",)).mer_logits if isinstance(model, MOL) else model(clip)


def train_step(model: nn.Module, name: str, clip: torch.Tensor, labels: torch.Tensor, shift: float, step: int):
    """One step's loss (and the flow EPE for mol-flow, else None)."""
    if name != "mol-flow":
        return F.cross_entropy(logits_of(model, clip), labels), None
    pair = torch.tensor([step % (CLIP_FRAMES - 1)])
    out = model(clip, heads=("mer", "flow"), flow_pairs=pair)
    epe = (out.flow - pair_flow(labels, shift, 1)).norm(dim=1).mean()
    return F.cross_entropy(out.mer_logits, labels) + LOSS_FLOW * epe, epe


def batched(values: list[float], size: int) -> list[list[float]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def input_of(init: str, motion_input: str) -> str:
    """MOL's input option: a weights file's own; else ``motion_input`` (``pretrained`` then names
    the shipped weights of that input)."""
    if init in ("scratch", "pretrained"):
        return motion_input
    return read_pretrained_metadata(init)[0].get("motion_input", "raw")


def build(name: str, init: str, motion_input: str = "raw") -> nn.Module:
    """The control CNN, or MOL with two classes started from ``init`` (the class layer starts
    fresh)."""
    if name == "cnn3d":
        return SmallCNN3d()
    model = MOL(num_classes=2, motion_input=input_of(init, motion_input))
    start_from(model, init)
    return model


def held_out_accuracy(model: nn.Module, shift: float, seed: int) -> int:
    """Correct answers on TEST_CLIPS clips of textures never trained on (the same ones each time)."""
    was_training = model.training
    model.eval()
    test = torch.Generator().manual_seed(99_000 + seed)
    with torch.no_grad():
        clip, labels = shifting_clips(TEST_CLIPS, shift, test)
        correct = int((logits_of(model, clip).argmax(1) == labels).sum())
    model.train(was_training)
    return correct


def run(
    name: str, shift: float, steps: int, seed: int, init: str = "scratch", eval_every: int = 0, motion_input="raw"
) -> dict:
    torch.manual_seed(seed)
    model = build(name, init, motion_input)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    data = torch.Generator().manual_seed(1000 + seed)
    start = time.perf_counter()
    losses, epe, checks = [], None, []
    model.train()
    for step in range(steps):
        clip, labels = shifting_clips(8, shift, data)
        loss, epe_now = train_step(model, name, clip, labels, shift, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        epe = epe_now.item() if epe_now is not None else epe
        if (step + 1) % 25 == 0:
            print(f"  {name} shift {shift:g} seed {seed}: step {step + 1}/{steps}, loss {loss.item():.3f}", flush=True)
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            checks.append({"step": step + 1, "accuracy": held_out_accuracy(model, shift, seed) / TEST_CLIPS})
            print(f"  {name} shift {shift:g} seed {seed}: step {step + 1} held-out {checks[-1]['accuracy']:.3f}")
    correct = held_out_accuracy(model, shift, seed)
    checks.append({"step": steps, "accuracy": correct / TEST_CLIPS})
    low, high = wilson(correct, TEST_CLIPS)
    return {
        "model": name,
        "init": init if name != "cnn3d" else "scratch",
        "motion_input": input_of(init, motion_input) if name != "cnn3d" else "",
        "shift_px": shift,
        "steps": steps,
        "seed": seed,
        "test_accuracy": correct / TEST_CLIPS,
        "ci95_low": round(low, 3),
        "ci95_high": round(high, 3),
        "last_train_loss": round(sum(losses[-10:]) / len(losses[-10:]), 4),
        "last_flow_epe_px": None if epe is None else round(epe, 4),
        "zero_flow_epe_px": round(shift / (CLIP_FRAMES - 1), 4) if name == "mol-flow" else None,
        "seconds": round(time.perf_counter() - start, 1),
        # mean training loss of each block of CURVE_EVERY steps (JSON and PNG only)
        "checks": checks,  # held-out accuracy during training (JSON only)
        "loss_curve": [round(sum(b) / len(b), 4) for b in batched(losses, CURVE_EVERY)],
    }


def plot_curves(rows: list[dict], path: Path) -> None:
    """Training loss against step for every run that stored its curve and trained recognition
    alone (mol-flow's loss adds 10 × the flow EPE, on another scale)."""
    from mol.figures import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    for row in rows:
        if row.get("loss_curve") and row["model"] != "mol-flow":
            steps = [min(CURVE_EVERY * (i + 1), row["steps"]) for i in range(len(row["loss_curve"]))]
            start = "" if row.get("init", "scratch") == "scratch" else f" from {row['init']}"
            label = (
                f"{row['model']}{start}, {row['shift_px']:g} px, seed {row['seed']} (test {row['test_accuracy']:.2f})"
            )
            ax.plot(steps, row["loss_curve"], label=label)
    ax.axhline(math.log(2), color="grey", linestyle=":", label="ln 2 (chance)")
    ax.set(xlabel="training step (batch 8)", ylabel=f"cross-entropy (mean of {CURVE_EVERY} steps)")
    ax.set_title("Learning the direction of a global shift of fresh random textures")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json and results.csv")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--shifts", default="2,8", help="total shifts over the clip, px, comma-separated")
    parser.add_argument("--models", default="mol,mol-flow,cnn3d")
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument(
        "--init", default="scratch", help="MOL's start: scratch, pretrained (the shipped weights) or a weights file"
    )
    parser.add_argument(
        "--motion-input",
        choices=("raw", "diff"),
        default="raw",
        help="MOL's input: raw frames (the paper, default) or frame differences; --init pretrained takes the "
        "shipped weights of that input (a weights file brings its own)",
    )
    parser.add_argument("--eval-every", type=int, default=0, help="also test every N steps (0: only at the end)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    done_path = args.out / "results.json"
    rows = json.loads(done_path.read_text()) if done_path.exists() else []  # resumes an interrupted job
    # rows written before the input was recorded: pretrained ones were frame differences
    done = {
        (r["model"], r["shift_px"], r["steps"], r["seed"], r.get("init", "scratch"), r.get("motion_input", "?"))
        for r in rows
    }
    for seed in (int(s) for s in args.seeds.split(",")):
        for shift in (float(s) for s in args.shifts.split(",")):
            for name in args.models.split(","):
                init = args.init if name != "cnn3d" else "scratch"
                motion_input = input_of(init, args.motion_input) if name != "cnn3d" else ""
                if (name, shift, args.steps, seed, init, motion_input) in done:
                    continue
                row = run(name, shift, args.steps, seed, init, args.eval_every, args.motion_input)
                rows.append(row)
                write_text_atomically(done_path, json.dumps(rows, indent=2) + "\n")
                fields = [k for k in rows[-1] if k not in ("loss_curve", "checks")]
                write_csv_atomically(args.out / "results.csv", rows, fields)
                plot_curves(rows, args.out / "curves.png")
                print(
                    f"{name:8s} shift {shift:g} px, {args.steps} steps, seed {seed}: held-out accuracy "
                    f"{row['test_accuracy']:.3f} [{row['ci95_low']:.3f}, {row['ci95_high']:.3f}] "
                    f"(chance 0.5), {row['seconds']:.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
