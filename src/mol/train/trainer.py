"""Training and testing one fold: resumable, seeded, optionally data-parallel (torchrun)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mol.data.clips import to_model_inputs
from mol.data.multicache import MultiCacheClips, RunData, mean_landmark_shape
from mol.errors import ConfigError, TrainingError
from mol.files import atomic_write
from mol.model.checkpoint import load_checkpoint, save_checkpoint
from mol.model.mol import MOL
from mol.model.pretrained import init_record, start_from
from mol.model.record import RECORD_KEY, TrainingRecord
from mol.train import step as steps
from mol.train.acceleration import CompiledOrEager, to_channels_last
from mol.train.class_start import start_class_layer
from mol.train.config import TrainConfig
from mol.train.distributed import barrier, broadcast_flag, init_distributed
from mol.train.evaluation import predict_clips, uf1_of
from mol.train.folders import FoldFolder
from mol.train.losses import LossTerms, LossWeights
from mol.train.optim import make_optimizer
from mol.train.protocols import Fold
from mol.train.results import held_out_scores, prediction_table, write_predictions
from mol.train.sampling import EpochBatchSampler
from mol.train.step import (
    autocast_for,
    device_for,
    flow_pairs_for_step,
    learning_rate,
    random_state,
    restore_random_state,
    trains_in_train_mode,
    warn_if_slow_precision,
)

# ---------------------------------------------------------------------------------------------
# Distributed helpers (torchrun sets WORLD_SIZE, RANK, LOCAL_RANK)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# One fold
# ---------------------------------------------------------------------------------------------


def make_train_loader(
    dataset: Dataset,
    batch_size: int,
    workers: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
    start: int = 0,
    labels: list[int] | None = None,
) -> DataLoader:
    """One persistent loader per fold over an endless, step-indexed batch stream: workers start
    once (not once per epoch), and a stream started at step n reads batch n onwards, exactly as
    an uninterrupted one would. Batches hold raw items: finish them with to_model_inputs. With
    the items' ``labels``, every epoch draws each class equally often."""
    sampler = EpochBatchSampler(len(dataset), batch_size, seed, rank=rank, world=world, start=start, labels=labels)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),  # worker seeds; leaves the global RNG (dropout) alone
    )


def initial_model(config: TrainConfig, num_classes: int, seed: int, mean_shape: np.ndarray | None = None) -> MOL:
    """A freshly initialised MOL for a fold: the reference's FCC initialisation if asked for, F5C
    block B starting as a copy of block A with ``f5c_init`` "shared", and with ``head_init``
    "baseline" heads that start at their trivial baselines (``mean_shape``
    (68, 2) in crop pixels: the training set's mean landmarks)."""
    model = MOL(
        num_classes=num_classes,
        k=config.k,
        ccc_neighbors=config.ccc_neighbors,
        dropout=config.dropout,
        motion_input=config.motion_input,
    )
    if config.head_init == "baseline":
        model.start_heads_at_baselines(mean_shape)
    if config.fcc_init == "randn":
        model.reference_fcc_init_(torch.Generator().manual_seed(seed))
    if config.f5c_init == "shared":
        model.share_f5c_blocks()
    start_from(model, config.init)  # pre-trained weights replace what they hold
    if config.train_layers != "all":  # heads and class_layer both keep the shared features
        model.freeze_features()
    if config.train_layers == "class_layer":
        model.mer_head.freeze_below_class_layer()
    return model


@dataclass
class FoldProgress:
    """Where a fold stands, besides its weights: what a resumed fold continues from."""

    step: int = 0
    history: list[dict] = field(default_factory=list)  # loss terms per step
    best: dict = field(default_factory=lambda: {"uf1": -1.0, "step": 0})  # best validation UF1
    stale: int = 0  # validations since the best one, for patience
    evaluations: list[dict] = field(default_factory=list)  # test predictions for report_oracle


class FoldTrainer:
    """One fold's model, optimiser, loss scaler, data and progress, in parts that can be called
    (and tested) alone: :meth:`train_step`, :meth:`validate`, :meth:`state_dict` /
    :meth:`load_state_dict` (resume), :meth:`finish`. :meth:`run` calls them in order."""

    def __init__(self, fold: Fold, data: RunData, config: TrainConfig, fold_dir: Path, seed: int) -> None:
        self.rank, self.world = init_distributed(config.device)
        self.device = device_for(config)
        warn_if_slow_precision(config, self.device)
        torch.manual_seed(seed)
        self.fold, self.data, self.config, self.seed = fold, data, config, seed
        self.folder = FoldFolder(fold_dir)
        self.num_classes = config.num_classes or len(data.classes)
        self.weights = LossWeights(config.loss_mer, config.loss_flow, config.loss_landmark)
        self.heads = self.weights.heads() if config.loss_mer else ("mer", *self.weights.heads())
        # the training set's mean landmarks: the landmark head's start and its test baseline
        needs_shape = config.head_init == "baseline" or "landmarks" in self.heads
        self.mean_shape = mean_landmark_shape(data, fold.train) if needs_shape else None
        self.model = initial_model(config, self.num_classes, seed, self.mean_shape)
        self.class_start = (
            start_class_layer(self.model, config.init, data, fold.train) if config.class_init == "action_units" else {}
        )
        self.model.to(self.device)
        if config.channels_last:
            to_channels_last(self.model)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(trainable, lr=config.lr, weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "float16")
        shared = {"normalize": config.normalize, "sampling": config.clip_sampling}
        self.train_ds = MultiCacheClips(
            data, fold.train, train=True, seed=seed, flip=config.flip, crop_jitter=config.crop_jitter, **shared
        )
        self.val_ds = MultiCacheClips(data, fold.val, train=False, seed=seed, **shared) if fold.val else None
        self.test_ds = MultiCacheClips(data, fold.test, train=False, seed=seed, eval_crops=config.test_crops, **shared)
        if len(self.train_ds) == 0 or len(self.test_ds) == 0:
            raise ConfigError(f"fold {fold.name}: no training or no test clips")
        self.progress = FoldProgress()

    # -- resumable state --------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything an interrupted fold needs to continue as if never stopped."""
        p = self.progress
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),  # float16's loss scale and its growth counter
            **random_state(self.device),  # dropout's draws
            "step": p.step,  # the batch stream, crops and flow pairs follow from the step
            "stale": p.stale,
            "history": json.dumps(p.history),
            "best": json.dumps(p.best),
            "evaluations": json.dumps(p.evaluations),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:  # absent from files of older versions
            self.scaler.load_state_dict(state["scaler"])
        restore_random_state(state, self.device)
        self.progress = FoldProgress(
            step=int(state["step"]),
            history=json.loads(state["history"]),
            best=json.loads(state["best"]),
            stale=int(state.get("stale", 0)),
            evaluations=json.loads(state["evaluations"]),
        )

    def save_resume(self) -> None:
        state = self.state_dict()
        atomic_write(self.folder.resume, lambda tmp: torch.save(state, tmp))

    def resume(self) -> None:
        """Continue from the fold's resume.pt when an earlier run left one."""
        if self.folder.resume.exists():
            # on the CPU: random states must stay there; the model and optimizer copy to the device
            self.load_state_dict(torch.load(self.folder.resume, map_location="cpu", weights_only=True))

    # -- the parts of a step ------------------------------------------------------------------
    def wrapped_model(self) -> CompiledOrEager:
        """The model as the step calls it: under DDP with several processes, compiled if asked."""
        model = self.model
        if self.world > 1:
            # heads left out (or trained with a zero weight) leave parameters without gradients
            unused = set(self.heads) != {"mer", "flow", "landmarks"} or not self.config.loss_mer
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)
        return CompiledOrEager(model, self.config.compile)

    def train_step(self, forward, raw_batch: dict, batches_per_epoch: int) -> torch.Tensor:
        """One optimisation step on a raw batch; the loss terms (total, mer, flow, landmark) stay
        on the device (reading them back would wait for the GPU)."""
        config, step = self.config, self.progress.step
        self.model.train(trains_in_train_mode(config, step, batches_per_epoch))
        batch = to_model_inputs(raw_batch, self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        pairs = flow_pairs_for_step(config, self.seed, step) if "flow" in self.heads else None
        autocast = autocast_for(config, self.device)
        terms = steps.optimisation_step(
            forward, self.optimizer, self.scaler, batch, self.weights, self.heads, pairs, autocast
        )
        self.progress.step += 1
        return torch.stack([t.detach().float() for t in terms])

    def record_losses(self, pending: list[tuple[int, torch.Tensor]]) -> list[dict]:
        """Losses of finished steps, read back to the host in one synchronisation; a non-finite
        total stops the fold with an error naming fold and step."""
        if not pending:
            return []
        values = torch.stack([t for _, t in pending]).float().cpu().tolist()
        records = []
        for (at, _), row in zip(pending, values, strict=True):
            record = {"step": at, **dict(zip(LossTerms._fields, row, strict=True))}
            if not math.isfinite(record["total"]):
                raise TrainingError(
                    f"fold {self.fold.name}: the loss became {record['total']} at step {at} "
                    f"(terms {', '.join(f'{k} {v:.4g}' for k, v in record.items() if k != 'step')}); "
                    "the run diverged: lower lr, or use --precision float32"
                )
            records.append(record)
        self.progress.history.extend(records)
        return records

    def validate(self) -> None:
        """Validation UF1 (MER head): keeps the best model and counts validations since it."""
        p = self.progress
        if self.val_ds is not None:
            pred = predict_clips(self.model, self.val_ds, self.config, self.device, ("mer",))
            uf1 = uf1_of(pred, self.num_classes)
            if uf1 > p.best["uf1"]:
                p.best = {"uf1": uf1, "step": p.step}
                save_checkpoint(self.model, self.folder.best)
                p.stale = 0
            else:
                p.stale += 1
        if self.config.report_oracle:  # uses test labels: reported apart, labelled optimistic
            pred = predict_clips(self.model, self.test_ds, self.config, self.device, ("mer",))
            p.evaluations.append(
                {"step": p.step, "pred": pred["probs"].argmax(1).tolist(), "label": pred["label"].tolist()}
            )

    def should_stop(self) -> bool:
        """Patience ran out at this validation. Rank 0 alone validates; every rank must take its
        decision, or the others would wait for a step rank 0 never takes."""
        config, step = self.config, self.progress.step
        validated = config.patience and config.eval_every and step % config.eval_every == 0
        return bool(validated) and broadcast_flag(self.progress.stale >= config.patience, self.device)

    # -- the whole fold -----------------------------------------------------------------------
    def train_loader(self) -> DataLoader:
        """The fold's batch stream from the current step on (balanced over classes if asked)."""
        config = self.config
        labels = self.train_ds.labels() if config.balanced_classes else None
        return make_train_loader(
            self.train_ds,
            config.batch_size,
            config.workers,
            self.seed,
            self.device,
            self.rank,
            self.world,
            self.progress.step,
            labels=labels,
        )

    def open_events(self):
        """TensorBoard events, appended to on resume: `tensorboard --logdir RUN_DIR`."""
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.folder.tensorboard), purge_step=self.progress.step + 1)

    def run(self, progress: bool = True) -> dict:
        self.folder.path.mkdir(parents=True, exist_ok=True)
        self.resume()
        config, p, main = self.config, self.progress, self.rank == 0
        forward = self.wrapped_model()
        loader = self.train_loader()
        stream = iter(loader)
        events = self.open_events() if main else None
        bar = tqdm(
            total=config.steps,
            initial=p.step,
            desc=f"fold {self.fold.name}",
            unit="step",
            disable=not progress or not main,
        )
        started, seen = time.perf_counter(), 0
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> None:
            for record in self.record_losses(pending):
                if events is not None:
                    for key in ("total", "mer", "flow", "landmark"):
                        events.add_scalar(f"loss/{key}", record[key], record["step"])
            if pending:
                rate = seen / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{p.history[-1]['total']:.3f}", clips_s=f"{rate:.1f}", refresh=False)
            pending.clear()

        batches_per_epoch = loader.batch_sampler.batches_per_epoch
        while p.step < config.steps:
            raw = next(stream)
            pending.append((p.step + 1, self.train_step(forward, raw, batches_per_epoch)))
            seen += len(raw["label"]) * self.world
            if len(pending) >= config.log_every or p.step == config.steps:
                flush()
            bar.update()
            if config.eval_every and p.step % config.eval_every == 0 and main:
                flush()
                self.validate()
            if main and (p.step % config.checkpoint_every == 0 or p.step == config.steps):
                flush()  # the saved history is complete up to the saved step
                self.save_resume()
            if self.should_stop():
                break
        flush()
        bar.close()
        del stream, loader  # stops the loader's workers
        if events is not None:
            events.close()
        barrier()
        return self.finish(time.perf_counter() - started, forward.status) if main else {}

    def finish(self, seconds: float, forward_status: str) -> dict:
        """The fold's final (or best validated) checkpoint, test predictions and summary."""
        p, folder = self.progress, self.folder
        model, final_step = self.model, p.step
        if self.val_ds is not None and folder.best.exists():
            model, final_step = load_checkpoint(folder.best, self.device), p.best["step"]
        shape = self.mean_shape if "landmarks" in self.heads else None
        pred = predict_clips(model, self.test_ds, self.config, self.device, self.heads, shape)
        table = prediction_table(pred, self.data)
        classes = self.data.classes[: self.num_classes]
        held_out = held_out_scores(table, classes, len({v.subject_id for v in self.fold.test}))
        record = training_record(self.config, self.data, self.fold, final_step).with_held_out(held_out)
        save_checkpoint(
            model,
            folder.model,
            extra={
                "fold": self.fold.name,
                "step": str(final_step),
                "classes": json.dumps(self.data.classes[: self.num_classes]),
                RECORD_KEY: record.to_json(),
            },
        )
        write_predictions(folder.predictions, table)
        summary = {
            "fold": self.fold.name,
            "steps": p.step,
            "selected_step": final_step,
            "selection": "validation UF1" if self.val_ds is not None else "last step (no selection)",
            "train_videos": len(self.fold.train),
            "val_videos": len(self.fold.val),
            "test_videos": len(self.fold.test),
            "test_clips": len(self.test_ds),
            "seconds": round(seconds, 1),
            "forward": forward_status,
        }
        if self.class_start:  # each class's action units, as the class layer started
            summary["class_start"] = self.class_start
        folder.write_history(p.history, p.evaluations)
        folder.write_done(summary)
        folder.resume.unlink(missing_ok=True)
        return summary


def train_fold(
    fold: Fold, data: RunData, config: TrainConfig, fold_dir: Path, seed: int, progress: bool = True
) -> dict:
    """Train on fold.train (selecting on fold.val if any), test on fold.test; write the fold's
    checkpoint, predictions and history to fold_dir. Resumes from fold_dir/resume.pt."""
    return FoldTrainer(fold, data, config, fold_dir, seed).run(progress)


def training_record(config: TrainConfig, data: RunData, fold: Fold, steps: int) -> TrainingRecord:
    """What a checkpoint's heads were trained with and on, and the preprocessing it expects:
    `mol predict` shows no head whose loss weight was zero and names the training data."""
    options = [cache.options for cache in data.caches]
    trained = fold.train + fold.val
    return TrainingRecord(
        steps=steps,
        loss_weights={"mer": config.loss_mer, "flow": config.loss_flow, "landmarks": config.loss_landmark},
        trained_heads=LossWeights(config.loss_mer, config.loss_flow, config.loss_landmark).heads(),
        datasets=tuple(sorted({v.entry.dataset for v in trained})),
        subjects=len({v.subject_id for v in trained}),
        videos=len(trained),
        classes=tuple(data.classes),
        synthetic=any(o.get("flow") == "exact" for o in options),  # exact flow exists only for synthetic data
        align=tuple(sorted({str(o.get("align")) for o in options})),
        flow=tuple(sorted({str(o.get("flow")) for o in options})),
        fps=tuple(sorted({v.entry.fps for v in trained if not math.isnan(v.entry.fps)})),
        normalize=config.normalize,
        clip_sampling=config.clip_sampling,
        initialization=replace(init_record(config.init, config.motion_input), class_layer=config.class_init),
    )
