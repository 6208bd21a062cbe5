"""Pre-training MOL on an endless stream of generated clips (`mol pretrain`).

The network learns motion from clips it never sees twice (mol.data.synthetic.stream), so it cannot
memorise: its recognition layers through a multi-label action-unit target (which action units
moved), its flow head through the exact flow of one frame pair per step, its landmark head
through the exact landmarks. As it trains, it is measured on fixed clips of identities the
stream never holds, at the benchmark's amplitudes: that is the measure of transfer.

Resumable (OUT/resume.pt, written atomically every ``checkpoint_every`` steps), bounded by steps
and by wall time, and it shows progress. It writes OUT/pretrained.safetensors (the whole network,
float32), OUT/shippable.safetensors (everything but the flow head, float16: what the package
ships), OUT/log.csv, OUT/eval.csv, OUT/card.json and OUT/curves.png.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from mol.constants import FRAME_PAIRS, MOTION_INPUTS, NUM_LANDMARKS
from mol.data.clips import normalize_frames
from mol.data.synthetic.stream import (
    BENCHMARK_AMPLITUDE,
    STREAM_AUS,
    PhotoFaces,
    StreamConfig,
    amplitude_range,
    batch_stream,
    identity_set,
    make_batch,
    mean_shape_of,
)
from mol.errors import ConfigError
from mol.files import atomic_write, write_csv_atomically, write_text_atomically
from mol.model.checkpoint import save_checkpoint
from mol.model.mol import MOL
from mol.model.pretrained import save_shippable
from mol.train.evaluation import clip_nme
from mol.train.losses import landmark_loss
from mol.train.optim import make_optimizer


@dataclass
class PretrainConfig:
    """Everything a pre-training run depends on (saved in card.json and the checkpoints)."""

    steps: int = 2000
    time_budget: float = 0.0  # seconds of training (summed over resumes); 0: no limit
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 50
    weight_decay: float = 1e-3
    loss_au: float = 1.0
    loss_flow: float = 10.0
    loss_landmark: float = 0.1
    motion_input: str = "diff"
    identities: str = "procedural"
    head_motion: bool = False  # the head moves as far as the action units and its direction is a target
    texture_share: float = 0.0  # share of clips whose face is blended with a random smooth texture
    people: tuple[str, ...] = ()  # photographs in the pool (never the benchmark's test people)
    eval_people: tuple[str, ...] = ("hopper", "paul")  # photographs the pool never holds: transfer
    curriculum_steps: int = 300
    eval_every: int = 100
    eval_clips: int = 64
    checkpoint_every: int = 50
    workers: int = 1
    device: str = "cpu"
    precision: str = "float32"
    seed: int = 0
    face_cache: str = ""  # folder of framed photographs (see PhotoFaces)

    def validate(self) -> PretrainConfig:
        from mol.data.synthetic.benchmark import PARTS

        ranges = (("steps", 1), ("batch_size", 1), ("eval_clips", 8), ("checkpoint_every", 1), ("workers", 0))
        for name, low in ranges:
            if getattr(self, name) < low:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least {low}, got {getattr(self, name)}")
        for name in ("time_budget", "eval_every", "curriculum_steps", "warmup_steps", "lr", "weight_decay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if self.motion_input not in MOTION_INPUTS:
            raise ConfigError(f"--motion-input must be one of {MOTION_INPUTS}, got {self.motion_input!r}")
        if self.precision not in ("float32", "bfloat16"):
            raise ConfigError(f"--precision must be float32 or bfloat16, got {self.precision!r}")
        test_people = set(PARTS["test"]["people"])
        if test_people & set(self.people) or test_people & set(self.eval_people):
            raise ConfigError(
                f"the benchmark's test people {sorted(test_people)} may never be pre-trained on or looked at"
            )
        if set(self.people) & set(self.eval_people):
            raise ConfigError("--eval-people must not be in the pool (--people): they measure transfer")
        self.stream_config()  # raises on a bad identity source
        return self

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            identities=self.identities,
            people=tuple(self.people),
            head_motion=self.head_motion,
            texture_share=self.texture_share,
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
class StreamBatches(IterableDataset):
    """The stream as a loader dataset: worker w of n yields the batches of steps start + w,
    start + w + n, …, so the loader's round-robin order is the steps' order."""

    def __init__(self, config: PretrainConfig, start_step: int) -> None:
        self.config, self.start_step = config, start_step

    def __iter__(self):
        info = get_worker_info()
        stride, offset = (info.num_workers, info.id) if info else (1, 0)
        c = self.config
        photos = PhotoFaces(tuple(c.people), c.face_cache or None)
        yield from batch_stream(
            c.stream_config(), photos, c.batch_size, c.seed, self.start_step, c.curriculum_steps, stride, offset
        )


def _one_thread(_worker: int) -> None:
    """Each generating process on one core: several processes, not threads, share the CPUs."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


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


def make_eval_sets(config: PretrainConfig) -> list[EvalSet]:
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
            make_batch(stream, photos, 8, BENCHMARK_AMPLITUDE, rng, identities[i : i + 8] or identities)
            for i in range(0, config.eval_clips, 8)
        ]
        out.append(EvalSet(name, batches, mean_shape))
    return out


# ---------------------------------------------------------------------------------------------
# Model, loss, measures
# ---------------------------------------------------------------------------------------------
def pretrain_model(config: PretrainConfig, mean_shape: np.ndarray) -> MOL:
    """MOL whose recognition output is one logit per action unit; the flow head starts at zero
    flow and the landmark head at the mean shape (the fine-tuning's baseline start)."""
    model = MOL(num_classes=len(config.stream_config().targets), motion_input=config.motion_input)
    model.start_heads_at_baselines(mean_shape)
    return model


def pretrain_loss(model: MOL, batch: dict, config: PretrainConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    out = model(batch["clip"], flow_pairs=batch["pair"])
    au = F.binary_cross_entropy_with_logits(out.mer_logits.float(), batch["aus"])
    flow = F.mse_loss(out.flow[..., 0].float(), batch["flow"]) / FRAME_PAIRS  # the joint loss's scale
    landmarks = landmark_loss(out.landmarks.float(), batch["landmarks"])
    total = config.loss_au * au + config.loss_flow * flow + config.loss_landmark * landmarks
    return total, {"au": au.detach(), "flow": flow.detach(), "landmark": landmarks.detach()}


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


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
@dataclass
class PretrainState:
    step: int = 0
    seconds: float = 0.0  # training time so far, summed over resumes
    log: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)


def learning_rate(config: PretrainConfig, step: int) -> float:
    """Linear warm-up, then constant: a time-bounded run has no known last step to decay to."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    return config.lr


class Pretrainer:
    """One pre-training run in an output folder; :meth:`run` resumes what the folder holds."""

    def __init__(self, config: PretrainConfig, out: Path) -> None:
        self.config, self.out = config.validate(), Path(out)
        self.device = torch.device(config.device)
        torch.manual_seed(config.seed)
        self.eval_sets = make_eval_sets(config)
        self.model = pretrain_model(config, self.eval_sets[0].mean_shape).to(self.device)
        self.optimizer = make_optimizer(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.state = PretrainState()
        self.resume_path = self.out / "resume.pt"

    def check_folder(self) -> None:
        """A folder holds one run: refuse to continue one made with other settings."""
        config_path = self.out / "pretrain_config.json"
        mine = {k: v for k, v in self.config.to_dict().items() if k not in RESUMABLE_CHANGES}
        if config_path.is_file():
            theirs = {k: v for k, v in json.loads(config_path.read_text()).items() if k not in RESUMABLE_CHANGES}
            differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            if differ:
                raise ConfigError(
                    f"{self.out}: holds a pre-training run with other settings ({', '.join(differ)}); "
                    "use another --out or the same settings to resume"
                )
        self.out.mkdir(parents=True, exist_ok=True)
        write_text_atomically(config_path, json.dumps(self.config.to_dict(), indent=2))

    def save_resume(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "progress": json.dumps(asdict(self.state)),
        }
        atomic_write(self.resume_path, lambda tmp: torch.save(state, tmp))

    def resume(self) -> None:
        if not self.resume_path.is_file():
            return
        state = torch.load(self.resume_path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        self.state = PretrainState(**json.loads(state["progress"]))

    def train_step(self, raw: dict) -> dict[str, torch.Tensor]:
        c = self.config
        batch = batch_to_device(raw, self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(c, self.state.step)
        self.optimizer.zero_grad(set_to_none=True)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=c.precision == "bfloat16")
        with autocast:
            total, terms = pretrain_loss(self.model, batch, c)
        total.backward()
        self.optimizer.step()
        self.state.step += 1
        return {"total": total.detach(), **terms}

    def measure(self) -> None:
        row = {"step": self.state.step, "seconds": round(self.state.seconds, 1)}
        for eval_set in self.eval_sets:
            for key, value in evaluate(self.model, eval_set, self.device).items():
                row[f"{eval_set.name}/{key}"] = round(value, 5)
        self.state.evals.append(row)

    def done(self) -> bool:
        c = self.config
        return self.state.step >= c.steps or (c.time_budget > 0 and self.state.seconds >= c.time_budget)

    def run(self, progress: bool = True) -> dict:
        self.check_folder()
        self.resume()
        c = self.config
        if not self.state.evals:
            self.measure()  # where the run starts: the untrained network's figures
        loader = DataLoader(
            StreamBatches(c, self.state.step),
            batch_size=None,
            num_workers=c.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if c.workers else None,
            persistent_workers=False,
            worker_init_fn=_one_thread,
            # fresh processes: a fork after the parent used OpenMP or CUDA can hang its children
            multiprocessing_context="spawn" if c.workers else None,
        )
        bar = tqdm(total=c.steps, initial=self.state.step, desc="pretrain", unit="step", disable=not progress)
        self.model.train()
        if not self.done():
            started = time.perf_counter() - self.state.seconds
            for raw in loader:
                assert int(raw["step"]) == self.state.step, "the stream is out of step"
                terms = self.train_step(raw)
                self.state.seconds = time.perf_counter() - started
                self._after_step(terms, raw, bar)
                if self.done():
                    break
        bar.close()
        if self.state.evals[-1]["step"] != self.state.step:
            self.measure()
        self.save_resume()
        return self.finish()

    def _after_step(self, terms: dict, raw: dict, bar) -> None:
        c, s = self.config, self.state
        if s.step % 10 == 0 or s.step == 1:
            values = {k: round(float(v), 5) for k, v in terms.items()}
            low, high = _batch_amplitude(s.step - 1, c)
            s.log.append(
                {"step": s.step, "seconds": round(s.seconds, 1), "amplitude_low": low, "amplitude_high": high, **values}
            )
            bar.set_postfix(loss=f"{values['total']:.3f}", au=f"{values['au']:.3f}", amp=f"{low:.1f}-{high:.1f}")
        bar.update()
        if c.eval_every and s.step % c.eval_every == 0:
            self.measure()
            last = s.evals[-1]
            bar.write(
                "step {step}: ".format(**last)
                + "; ".join(
                    f"{e.name} AU F1 {last[e.name + '/au_micro_f1']:.3f}, "
                    f"bal. acc {last[e.name + '/au_balanced_accuracy']:.3f}"
                    + (
                        f", head direction {last[e.name + '/head_direction_accuracy']:.3f}"
                        if e.name + "/head_direction_accuracy" in last
                        else ""
                    )
                    for e in self.eval_sets
                )
            )
        if s.step % c.checkpoint_every == 0:
            self.save_resume()

    def finish(self) -> dict:
        """Write the checkpoints, tables, curves and the card; return the card."""
        out, c, s = self.out, self.config, self.state
        card = {
            "format": "mol-pretrained-card",
            "command": "mol pretrain " + " ".join(command_line(c)),
            "config": c.to_dict(),
            "steps": s.step,
            "training_seconds": round(s.seconds, 1),
            "machine": machine_description(self.device),
            "clips_seen": s.step * c.batch_size,
            "identity_pool": identity_pool_description(c),
            "final": s.evals[-1],
            "start": s.evals[0],
        }
        record = {"pretrain": json.dumps(card)}
        save_checkpoint(self.model, out / "pretrained.safetensors", extra=record)
        save_shippable(self.model, out / "shippable.safetensors", card)
        write_csv_atomically(out / "log.csv", s.log)
        write_csv_atomically(out / "eval.csv", s.evals)
        write_text_atomically(out / "card.json", json.dumps(card, indent=2))
        plot_pretraining(s, self.eval_sets, out / "curves.png")
        return card


RESUMABLE_CHANGES = ("steps", "time_budget", "workers", "device", "eval_every", "checkpoint_every", "face_cache")


def _batch_amplitude(step: int, c: PretrainConfig) -> tuple[float, float]:
    low, high = amplitude_range(step, c.curriculum_steps)
    return round(low, 3), round(high, 3)


EMPTY_ARGUMENT = '""'
FLAGS = {"batch_size": "batch"}  # config fields whose `mol pretrain` option has another name


def command_line(c: PretrainConfig) -> list[str]:
    """The options that differ from the defaults, as `mol pretrain` takes them."""
    defaults = PretrainConfig()
    parts = []
    for f in dataclasses.fields(PretrainConfig):
        value = getattr(c, f.name)
        if value != getattr(defaults, f.name) and f.name != "face_cache":
            flag = FLAGS.get(f.name, f.name).replace("_", "-")
            if isinstance(value, bool):  # a switch: on where the default is off
                parts.append(f"--{flag}")
                continue
            text = ",".join(value) if isinstance(value, (tuple, list)) else str(value)
            parts.append(f"--{flag} {text or EMPTY_ARGUMENT}")
    return parts


def pretrain_settings(args) -> dict:
    """The PretrainConfig fields that parsed `mol pretrain` options set (the inverse of
    :func:`command_line`): comma-separated people become tuples, an absent option keeps its default."""
    values = {}
    for f in dataclasses.fields(PretrainConfig):
        flag = FLAGS.get(f.name, f.name)
        if getattr(args, flag, None) is None:
            continue
        value = getattr(args, flag)
        values[f.name] = tuple(p for p in value.split(",") if p) if f.name in ("people", "eval_people") else value
    return values


def identity_pool_description(c: PretrainConfig) -> str:
    procedural = "procedural faces (a new one for every clip; mol.data.synthetic.procedural)"
    photos = f"the photographs {', '.join(c.people)}, varied in proportions, pose and lighting"
    return {"procedural": procedural, "photos": photos, "mixed": f"half {procedural}, half {photos}"}[c.identities]


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def plot_pretraining(state: PretrainState, eval_sets: list[EvalSet], path: Path) -> None:
    from mol.figures import pyplot

    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [r["step"] for r in state.log]
    for key in ("au", "flow", "landmark"):
        left.plot(steps, [r[key] for r in state.log], label=f"{key} loss (fresh clips)")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.legend()
    left.set_title("training losses on clips never seen before")
    evals = [r["step"] for r in state.evals]
    for e in eval_sets:
        right.plot(evals, [r[f"{e.name}/au_balanced_accuracy"] for r in state.evals], marker="o", label=e.name)
    right.axhline(0.5, color="grey", linestyle=":", label="chance")
    right.set_xlabel("step")
    right.set_ylabel("AU balanced accuracy, 0.5-2.5 px")
    right.set_title("transfer to identities never trained on")
    right.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
