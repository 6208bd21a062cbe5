"""The measure of transfer during pre-training: action-unit detection, flow EPE and landmark NME
on fixed clips of identities the stream never holds, and the figure of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mol.constants import NUM_LANDMARKS
from mol.data.clips import normalize_frames
from mol.data.synthetic.stream import (
    BENCHMARK_AMPLITUDE,
    STREAM_AUS,
    PhotoFaces,
    identity_set,
    make_batch,
    mean_shape_of,
)
from mol.files import atomic_write
from mol.model.mol import MOL
from mol.train.evaluation import clip_nme
from mol.train.pretrain_config import PretrainConfig


def batch_to_device(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """A stream batch as model inputs: clip (B, 1, 8, 128, 128) in [-1, 1], aus (B, A), flow
    (B, 2, 128, 128) of frame pair ``pair``, landmarks (B, 136, 7) of frames 1..7."""
    t = {k: torch.as_tensor(v).to(device, non_blocking=True) for k, v in batch.items()}
    lm = t["landmarks"][:, 1:].float()  # (B, 7, 68, 2)
    return {
        "clip": normalize_frames(t["clip"])[:, None],
        "aus": t["aus"].float(),
        "flow": t["flow"].float(),
        "landmarks": lm.flatten(2).transpose(1, 2).contiguous(),
        "pair": t["pair"].reshape(1).long(),
    }


@dataclass
class EvalSet:
    """Fixed clips of identities the stream never holds, at the benchmark's amplitudes."""

    name: str
    batches: list[dict]
    mean_shape: np.ndarray  # (68, 2) crop pixels: the trivial landmark predictor


def identity_batches(identities: list, clips: int, batch: int = 8) -> list[list]:
    """The identities of ``clips`` measuring clips in batches of ``batch``, taken in turn, so each
    identity serves as often as any other (within one)."""
    turn = [identities[i % len(identities)] for i in range(clips)]
    return [turn[i : i + batch] for i in range(0, clips, batch)]


def make_eval_sets(config: PretrainConfig, amplitude: tuple[float, float] = BENCHMARK_AMPLITUDE) -> list[EvalSet]:
    """Fixed measuring clips at apex ``amplitude`` (aligned px; the benchmark's range unless
    asked): procedural faces the stream never draws and, given ``config.eval_people``, their
    photographs."""
    stream = config.stream_config()
    photos = PhotoFaces(tuple(config.eval_people), config.face_cache or None)
    rng = np.random.default_rng([config.seed, 7_777_778])
    shape_pool = identity_set("procedural", 64, config.seed + 1)  # training-like faces: the mean shape
    mean_shape = mean_shape_of(shape_pool)
    sets = [("procedural-held-out", identity_set("procedural", 16, config.seed))]
    if config.eval_people:
        photo_set = identity_set("photos", 16, config.seed, photos, tuple(config.eval_people))
        sets.append((f"photos-{'+'.join(config.eval_people)}", photo_set))
    out = []
    for name, identities in sets:
        batches = [
            make_batch(stream, photos, len(group), amplitude, rng, group)
            for group in identity_batches(identities, config.eval_clips)
        ]
        out.append(EvalSet(name, batches, mean_shape))
    return out


def au_measures(probs: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Multi-label detection at 0.5: micro F1 over all (clip, AU) decisions, mean balanced
    accuracy over the AUs that occur, and the share of clips whose whole AU set is right."""
    pred = probs >= 0.5
    true = truth >= 0.5
    tp = float((pred & true).sum())
    micro_f1 = 2 * tp / max(float(pred.sum() + true.sum()), 1.0)
    balanced = []
    for k in range(true.shape[1]):
        pos, neg = true[:, k], ~true[:, k]
        if pos.any() and neg.any():
            balanced.append(0.5 * (pred[pos, k].mean() + (~pred[neg, k]).mean()))
    return {
        "au_micro_f1": micro_f1,
        "au_balanced_accuracy": float(np.mean(balanced)) if balanced else float("nan"),
        "au_exact_match": float((pred == true).all(1).mean()),
    }


# the measures :func:`evaluate` gives of each target (beside them: their trivial baselines')
MEASURES_OF = {
    "au": ("au_micro_f1", "au_balanced_accuracy", "au_exact_match"),
    "head": ("head_direction_accuracy",),
    "flow": ("flow_epe",),
    "landmark": ("landmark_nme_percent",),
}


@torch.no_grad()
def evaluate(model: MOL, eval_set: EvalSet, device: torch.device) -> dict[str, float]:
    """AU detection, flow EPE beside zero flow, landmark NME beside the mean shape."""
    was_training = model.training
    model.eval()
    probs, truth, epe, epe0, nme, nme0 = [], [], [], [], [], []
    mean = torch.as_tensor(eval_set.mean_shape, device=device).flatten()[None, :, None]
    for raw in eval_set.batches:
        b = batch_to_device(raw, device)
        out = model(b["clip"], flow_pairs=b["pair"])
        probs.append(torch.sigmoid(out.mer_logits.float()).cpu().numpy())
        truth.append(b["aus"].cpu().numpy())
        flow = out.flow[..., 0].float()
        epe.append((flow - b["flow"]).norm(dim=1).mean().item())
        epe0.append(b["flow"].norm(dim=1).mean().item())
        nme.append(_nme(out.landmarks.float(), b["landmarks"]))
        nme0.append(_nme(mean.expand_as(b["landmarks"]), b["landmarks"]))
    model.train(was_training)
    probs, truth = np.concatenate(probs), np.concatenate(truth)
    aus = len(STREAM_AUS)
    head = {}
    if probs.shape[1] > aus:  # the head's direction: right or left, down or up
        head["head_direction_accuracy"] = float(((probs[:, aus:] >= 0.5) == (truth[:, aus:] >= 0.5)).mean())
    return {
        **au_measures(probs[:, :aus], truth[:, :aus]),
        **head,
        "flow_epe": float(np.mean(epe)),
        "flow_epe_zero": float(np.mean(epe0)),
        "landmark_nme_percent": 100 * float(np.mean(nme)),
        "landmark_nme_mean_shape_percent": 100 * float(np.mean(nme0)),
    }


def _nme(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean point error over inter-ocular distance (a fraction, not %); pred, true (B, 136, T)."""
    p, t = (x.unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1) for x in (pred, true))  # (B, T, 68, 2)
    every_frame = torch.ones(p.shape[:2], dtype=torch.bool, device=p.device)
    return float(clip_nme(p, t, every_frame).mean()) / 100


def plot_pretraining(log: list[dict], evals: list[dict], eval_sets: list[EvalSet], path: Path) -> None:
    """Training losses (``log``) and transfer (``evals``) over the steps, as curves.png."""
    from mol.figures import pyplot

    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [r["step"] for r in log]
    for key in ("au", "head", "flow", "landmark"):  # a loss that is off is NaN, and absent in older logs
        values = [float(r.get(key, "nan")) for r in log]
        if not all(np.isnan(values)):
            left.plot(steps, values, label=f"{key} loss (fresh clips)")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.legend()
    left.set_title("training losses on clips never seen before")
    evaluated = [r["step"] for r in evals]
    for e in eval_sets:
        right.plot(evaluated, [r[f"{e.name}/au_balanced_accuracy"] for r in evals], marker="o", label=e.name)
    right.axhline(0.5, color="grey", linestyle=":", label="chance")
    right.set_xlabel("step")
    right.set_ylabel("AU balanced accuracy, 0.5-2.5 px")
    right.set_title("transfer to identities never trained on")
    right.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
