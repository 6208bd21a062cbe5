"""Pre-training MOL on an endless stream of generated clips (`mol pretrain`).

The network learns motion from clips it never sees twice (mol.data.synthetic.stream), so it cannot
memorise: its recognition layers through a multi-label action-unit target (which action units
moved), its flow head through the exact flow of one frame pair per step, its landmark head
through the exact landmarks. As it trains, it is measured on fixed clips of identities the
stream never holds, at the benchmark's amplitudes: that is the measure of transfer.

Resumable (OUT/resume.pt, written atomically every ``checkpoint_every`` steps), bounded by steps
and by wall time, and it shows progress. It writes OUT/pretrained.safetensors (the whole network,
float32), OUT/shippable.safetensors (float16, what the package ships: everything but the flow
head, or, after a flow stage (--flow-only), everything but the weights of the flow head's deepest
layers, which a seed remakes), OUT/log.csv, OUT/eval.csv, OUT/card.json and OUT/curves.png.
"""

from __future__ import annotations

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

from mol.constants import FRAME_PAIRS
from mol.data.synthetic.stream import (
    STREAM_AUS,
    PhotoFaces,
    amplitude_range,
    batch_stream,
)
from mol.errors import ConfigError
from mol.files import atomic_write, write_csv_atomically, write_text_atomically
from mol.model.checkpoint import save_checkpoint
from mol.model.flow_head import SEEDED_LAYERS
from mol.model.mol import MOL
from mol.model.pretrained import (
    FLOW_SEED_KEY,
    TARGETS_KEY,
    flow_seed_of,
    init_record,
    resolve_init,
    save_shippable,
    start_from,
)
from mol.train.losses import LossWeights, landmark_loss
from mol.train.optim import make_optimizer
from mol.train.pretrain_config import RESUMABLE_CHANGES, PretrainConfig, command_line, identity_pool_description
from mol.train.pretrain_measures import MEASURES_OF, batch_to_device, evaluate, make_eval_sets, plot_pretraining


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


# ---------------------------------------------------------------------------------------------
# Model, loss, measures
# ---------------------------------------------------------------------------------------------
def pretrain_model(config: PretrainConfig, mean_shape: np.ndarray) -> MOL:
    """MOL whose recognition output is one logit per action unit; the flow head starts at zero
    flow and the landmark head at the mean shape (the fine-tuning's baseline start)."""
    model = MOL(num_classes=len(config.stream_config().targets), motion_input=config.motion_input)
    model.start_heads_at_baselines(mean_shape)
    return model


def trained_heads(config: PretrainConfig) -> tuple[str, ...]:
    """The heads a step computes: those with a target whose loss is on (the flow head, most of
    the arithmetic, is skipped when its loss is off)."""
    w = config.loss_weights
    return LossWeights(w["au"] + w["head"], w["flow"], w["landmark"]).heads()


def pretrain_loss(model: MOL, batch: dict, config: PretrainConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The weighted sum of the losses that are on, and each term (NaN for a target not trained)."""
    weights = config.loss_weights
    pyramid = config.flow_pyramid > 0 and weights["flow"] > 0
    out = model(batch["clip"], heads=trained_heads(config), flow_pairs=batch["pair"], flow_pyramid=pyramid)
    aus = len(STREAM_AUS)
    losses = {  # computed only for the targets that train
        "au": lambda: F.binary_cross_entropy_with_logits(out.mer_logits[:, :aus].float(), batch["aus"][:, :aus]),
        "head": lambda: F.binary_cross_entropy_with_logits(out.mer_logits[:, aus:].float(), batch["aus"][:, aus:]),
        "flow": lambda: F.mse_loss(out.flow[..., 0].float(), batch["flow"]) / FRAME_PAIRS,  # the joint loss's scale
        "landmark": lambda: landmark_loss(out.landmarks.float(), batch["landmarks"]),
    }
    nothing = torch.tensor(float("nan"), device=batch["clip"].device)
    terms = {name: loss() if weights[name] > 0 else nothing for name, loss in losses.items()}
    total = sum(weights[name] * term for name, term in terms.items() if weights[name] > 0)
    if pyramid:
        terms["flow_pyramid"] = pyramid_loss(out.flow_pyramid, batch["flow"])
        total = total + weights["flow"] * config.flow_pyramid * terms["flow_pyramid"]
    return total, {k: v.detach() for k, v in terms.items()}


def pyramid_loss(coarse: tuple[torch.Tensor, ...], flow: torch.Tensor) -> torch.Tensor:
    """Mean over the decoder's levels 1..6 of the MSE between each prediction (B, 2, h, w, 1) and
    the exact flow (B, 2, H, W) averaged to its size, on the joint loss's scale (÷ FRAME_PAIRS):
    the coarse levels get a gradient of their own from the first step, as in FlowNet (flow0's
    predictor starts at zero, so at first nothing below it gets one through flow0)."""
    losses = [F.mse_loss(level[..., 0].float(), F.adaptive_avg_pool2d(flow, level.shape[2:4])) for level in coarse]
    return torch.stack(losses).mean() / FRAME_PAIRS


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
        self.model = pretrain_model(config, self.eval_sets[0].mean_shape)
        if config.init:  # a stage after another run: its weights, the class layer included (same targets)
            start_from(self.model, config.init, class_layer=True)
        self.start_flow_seed = flow_seed_of(resolve_init(config.init, config.motion_input)) if config.init else None
        self.flow_seed = self.shipped_flow_seed()
        if config.flow_only:
            self.freeze_all_but_flow_head()
        self.model.to(self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(trainable, lr=config.lr, weight_decay=config.weight_decay)
        self.state = PretrainState()
        self.resume_path = self.out / "resume.pt"

    def shipped_flow_seed(self) -> int | None:
        """The seed of the flow head's deepest layers that the shipped file records: this run's
        (or its start's) with --flow-only; its start's when the flow head does not train here;
        else none, and the file leaves the whole head out."""
        c, inherited = self.config, self.start_flow_seed
        if c.flow_only:
            return c.seed if inherited is None else inherited
        return inherited if c.loss_weights["flow"] == 0 else None

    def freeze_all_but_flow_head(self) -> None:
        """--flow-only: the shared features (BatchNorm statistics too) and the other heads stay as
        --init made them; the flow head's deepest layers take their seeded start and stay there."""
        model = self.model
        model.freeze_features()
        model.mer_head.requires_grad_(False)
        model.landmark_head.requires_grad_(False)
        if self.start_flow_seed is None:  # else start_from drew them already
            model.flow_head.seed_large_layers(self.flow_seed)
        model.flow_head.freeze_large_layers()

    def check_folder(self) -> None:
        """A folder holds one run: refuse to continue one made with other settings."""
        config_path = self.out / "pretrain_config.json"
        mine = {k: v for k, v in self.config.to_dict().items() if k not in RESUMABLE_CHANGES}
        if config_path.is_file():
            # a setting newer than the folder's run had its default there
            saved = {**PretrainConfig().to_dict(), **json.loads(config_path.read_text())}
            theirs = {k: v for k, v in saved.items() if k not in RESUMABLE_CHANGES}
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
        """The transfer measures now; those of an output no loss of this run trains (and none
        before it: no --init) are NaN, not figures of an untrained head."""
        untrained = () if self.config.init else [k for k, w in self.config.loss_weights.items() if w == 0]
        row = {"step": self.state.step, "seconds": round(self.state.seconds, 1)}
        for eval_set in self.eval_sets:
            for key, value in evaluate(self.model, eval_set, self.device).items():
                hidden = any(key in MEASURES_OF[target] for target in untrained)
                row[f"{eval_set.name}/{key}"] = float("nan") if hidden else round(value, 5)
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
            shown = {k: f"{v:.3f}" for k, v in values.items() if v == v}  # the losses that are on (not NaN)
            bar.set_postfix(**shown, amp=f"{low:.1f}-{high:.1f}")
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
            "init": asdict(init_record(c.init, c.motion_input)) if c.init else "scratch",
            "flow_head_shipped": flow_head_description(self.flow_seed),
            TARGETS_KEY: list(c.stream_config().targets),
            "final": s.evals[-1],
            "start": s.evals[0],
        }
        record = {"pretrain": json.dumps(card)}
        if self.flow_seed is not None:  # a later stage from the whole network keeps the same layers
            record[FLOW_SEED_KEY] = str(self.flow_seed)
        save_checkpoint(self.model, out / "pretrained.safetensors", extra=record)
        save_shippable(self.model, out / "shippable.safetensors", card, flow_seed=self.flow_seed)
        write_csv_atomically(out / "log.csv", s.log)
        write_csv_atomically(out / "eval.csv", s.evals)
        write_text_atomically(out / "card.json", json.dumps(card, indent=2))
        plot_pretraining(s.log, s.evals, self.eval_sets, out / "curves.png")
        return card


def flow_head_description(flow_seed: int | None) -> str:
    if flow_seed is None:
        return "no: a network started from the shipped file makes its flow head fresh"
    return (
        f"yes, but for its deepest layers' weights ({', '.join(SEEDED_LAYERS)}), which seed {flow_seed} "
        "remakes (mol.model.flow_head.FlowHead.seed_large_layers)"
    )


def _batch_amplitude(step: int, c: PretrainConfig) -> tuple[float, float]:
    low, high = amplitude_range(step, c.curriculum_steps)
    return round(low, 3), round(high, 3)


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"{cpu} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
