"""Can MOL's flow head learn flow that holds on clips it never saw, in a flow stage of pre-training?

Two checks on the flow head alone (`mol pretrain --flow-only`: the rest of the network as --init
made it, the head's deepest layers at their seeded start), both at the stream's large apex motion
(4-8 px), where the flow is largest:

1. capacity: the head trains on one fixed batch; its flow0 MSE beside zero flow's, before and
   after. A head that cannot fit one batch has a broken path, not too few steps.
2. transfer: the head trains on the endless stream for --steps steps, then on fresh clips of
   held-out procedural faces each of the decoder's levels (flow0 and, coarser, flow1..flow6)
   is compared with the exact flow averaged to its size: cosine similarity (1: the same
   directions and proportions; 0: unrelated) and mean length, and flow0's EPE beside zero flow's.

    python benchmarks/flow_head_probe.py --out probe [--init pretrained|PATH] [--steps 300]
        [--lr 1e-3] [--flow-pyramid 0] [--fit-steps 40] [--seed 7] [--eval-every 0]

Writes OUT/flow_head_probe.json (and OUT/stage/, the pre-training run of check 2, whose eval.csv
has flow EPE beside zero flow at the benchmark's 0.5-2.5 px every --eval-every steps).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from mol.constants import FRAME_PAIRS
from mol.data.synthetic.stream import LARGE_AMPLITUDE
from mol.files import write_text_atomically
from mol.model.pretrained import resolve_init
from mol.train.pretrain import Pretrainer, pretrain_loss
from mol.train.pretrain_config import PretrainConfig
from mol.train.pretrain_measures import batch_to_device, make_eval_sets

NEVER = 10**9  # curriculum steps: the stream stays at its large motions


def stage_config(args: argparse.Namespace, steps: int) -> PretrainConfig:
    return PretrainConfig(
        steps=steps,
        init=str(resolve_init(args.init)),
        flow_only=True,
        flow_pyramid=args.flow_pyramid,
        lr=args.lr,
        identities="procedural",
        eval_people=(),
        curriculum_steps=NEVER,
        eval_every=args.eval_every,
        eval_clips=args.clips,
        seed=args.seed,
    ).validate()


def fit_one_batch(args: argparse.Namespace, out: Path) -> dict:
    """Check 1: the flow loss on one fixed batch, trained on alone."""
    trainer = Pretrainer(stage_config(args, args.fit_steps), out / "fit")
    batch = batch_to_device(make_eval_sets(trainer.config, LARGE_AMPLITUDE)[0].batches[0], trainer.device)
    zero = float(batch["flow"].square().mean())
    trainer.model.train()
    curve = []
    for _ in range(args.fit_steps):
        trainer.optimizer.zero_grad(set_to_none=True)
        total, terms = pretrain_loss(trainer.model, batch, trainer.config)
        total.backward()
        trainer.optimizer.step()
        curve.append(round(float(terms["flow"]) * FRAME_PAIRS, 5))  # back to a plain MSE per flow element
    return {"zero_flow_mse": round(zero, 5), "flow0_mse_first": curve[0], "flow0_mse_last": curve[-1], "curve": curve}


@torch.no_grad()
def level_agreement(trainer: Pretrainer) -> dict:
    """Check 2's measure on held-out procedural faces at the stream's large motions."""
    model = trainer.model.eval()
    sums: dict[str, list[torch.Tensor]] = {}
    for raw in make_eval_sets(trainer.config, LARGE_AMPLITUDE)[0].batches:
        batch = batch_to_device(raw, trainer.device)
        out = model(batch["clip"], heads=("flow",), flow_pairs=batch["pair"], flow_pyramid=True)
        levels = {"flow0": out.flow, **{f"flow{i + 1}": f for i, f in enumerate(out.flow_pyramid)}}
        for name, pred in levels.items():
            target = F.adaptive_avg_pool2d(batch["flow"], pred.shape[2:4])
            sums.setdefault(name, []).append(torch.stack((pred[..., 0], target)))
        sums.setdefault("epe", []).append((out.flow[..., 0] - batch["flow"]).norm(dim=1).flatten())
        sums.setdefault("zero_epe", []).append(batch["flow"].norm(dim=1).flatten())
    result = {}
    for name in [k for k in sums if k.startswith("flow")]:
        pred, target = torch.cat(sums[name], dim=1)
        result[name] = {
            "cosine": round(float(F.cosine_similarity(pred.flatten(), target.flatten(), dim=0)), 4),
            "predicted_length_px": round(float(pred.norm(dim=1).mean()), 4),
            "exact_length_px": round(float(target.norm(dim=1).mean()), 4),
        }
    result["flow0_epe_px"] = round(float(torch.cat(sums["epe"]).mean()), 4)
    result["zero_flow_epe_px"] = round(float(torch.cat(sums["zero_epe"]).mean()), 4)
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--init", default="pretrained", help="the network the flow head sits on (default pretrained)")
    p.add_argument("--steps", type=int, default=300, help="stream steps of check 2 (default 300)")
    p.add_argument("--fit-steps", type=int, default=40, help="steps on one batch of check 1 (default 40)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--flow-pyramid", type=float, default=0.0, help="as `mol pretrain --flow-pyramid` (default 0)")
    p.add_argument("--clips", type=int, default=64, help="held-out clips of check 2 (default 64)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--eval-every", type=int, default=0, help="the stage's own transfer measure (0.5-2.5 px) every N steps (0: off)"
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"command": "python benchmarks/flow_head_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    report["fit_one_batch"] = fit_one_batch(args, args.out)
    print("one batch:", {k: v for k, v in report["fit_one_batch"].items() if k != "curve"}, flush=True)
    stage = Pretrainer(stage_config(args, args.steps), args.out / "stage")
    stage.run(progress=True)
    report["stream"] = {"steps": stage.state.step, "seconds": round(stage.state.seconds), **level_agreement(stage)}
    print("held-out clips after the stream:", json.dumps(report["stream"], indent=1))
    write_text_atomically(args.out / "flow_head_probe.json", json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
