"""Training and testing one fold: resumable, seeded, optionally data-parallel (torchrun)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mol.constants import CLIP_FRAMES, NUM_LANDMARKS, inter_ocular
from mol.data.cache import Cache
from mol.data.clips import ClipDataset, to_model_inputs
from mol.model.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from mol.model.fcc import FCC
from mol.model.mol import MOL
from mol.train.acceleration import CompiledOrEager, to_channels_last
from mol.train.config import TrainConfig
from mol.train.losses import LossTerms, LossWeights, joint_loss
from mol.train.metrics import classification_metrics, confusion_matrix
from mol.train.optim import make_optimizer
from mol.train.protocols import Fold, VideoRef
from mol.train.sampling import EpochBatchSampler


# ---------------------------------------------------------------------------------------------
# Data of a run: several caches seen as one list of videos
# ---------------------------------------------------------------------------------------------
@dataclass
class RunData:
    caches: list[Cache]
    videos: list[VideoRef]
    classes: list[str]


def open_caches(paths: list[str | Path]) -> RunData:
    if not paths:
        raise ValueError("give at least one --cache")
    caches = [Cache(p) for p in paths]
    classes = caches[0].classes
    for c in caches[1:]:
        if c.classes != classes:
            raise ValueError(
                f"{c.path}: classes {c.classes} differ from {caches[0].path}'s {classes}; "
                "prepare every cache of a run with the same --scheme"
            )
    videos = [VideoRef(i, j, e) for i, c in enumerate(caches) for j, e in enumerate(c.videos)]
    return RunData(caches, videos, list(classes))


class MultiCacheClips(Dataset):
    """The clips of chosen videos across caches; items carry their cache index. ``options``
    go to every cache's :class:`ClipDataset` (flip, crop_jitter, normalize, eval_crops)."""

    def __init__(self, data: RunData, videos: list[VideoRef], train: bool, seed: int, **options) -> None:
        self.parts = []
        for i, cache in enumerate(data.caches):
            indices = [v.index for v in videos if v.cache == i]
            if indices:
                # raw items: compact stored types; to_model_inputs finishes them on the device
                part = ClipDataset(cache, indices, train=train, seed=seed, raw=True, **options)
                self.parts.append((i, part))
        self.offsets = np.cumsum([0] + [len(p) for _, p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """``index``: a clip number, or (epoch, clip number) for that epoch's augmentation."""
        epoch, index = index if isinstance(index, tuple) else (None, index)
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        cache_index, part = self.parts[k]
        local = index - int(self.offsets[k])
        item = part[local if epoch is None else (epoch, local)]
        item["cache"] = cache_index
        return item


# ---------------------------------------------------------------------------------------------
# Distributed helpers (torchrun sets WORLD_SIZE, RANK, LOCAL_RANK)
# ---------------------------------------------------------------------------------------------
def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's value of ``flag`` on every rank (itself without a process group)."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.broadcast(value, src=0)
    return bool(value.item())


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------------------------------------
# One fold
# ---------------------------------------------------------------------------------------------
class TrainingError(RuntimeError):
    """Training cannot go on (a diverged loss); the message names the fold and the step."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere PyTorch
    emulates it and a bf16 autocast step was measured 10-30x slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def warn_if_slow_precision(config: TrainConfig, device: torch.device) -> None:
    if device.type == "cpu" and config.precision == "bfloat16" and not cpu_has_native_bf16():
        warnings.warn(
            "bfloat16 on a CPU without AVX512-BF16 or AMX is emulated and far slower than float32; "
            "use --precision float32 (or --set precision=float32)",
            stacklevel=2,
        )


def _autocast(config: TrainConfig, device: torch.device):
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.precision)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def _device(config: TrainConfig) -> torch.device:
    device = torch.device(config.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device cuda was asked for but torch.cuda.is_available() is False")
        if "LOCAL_RANK" in os.environ and device.index is None:
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def make_train_loader(
    dataset: Dataset,
    batch_size: int,
    workers: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
    start: int = 0,
) -> DataLoader:
    """One persistent loader per fold over an endless, step-indexed batch stream: workers start
    once (not once per epoch), and a stream started at step n reads batch n onwards, exactly as
    an uninterrupted one would. Batches hold raw items: finish them with to_model_inputs."""
    return DataLoader(
        dataset,
        batch_sampler=EpochBatchSampler(len(dataset), batch_size, seed, rank=rank, world=world, start=start),
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),  # worker seeds; leaves the global RNG (dropout) alone
    )


@torch.no_grad()
def predict_clips(model: MOL, dataset: Dataset, config: TrainConfig, device: torch.device, heads) -> dict:
    """Class probabilities per clip, with flow EPE and landmark NME per clip when computed."""
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
    )
    model.eval()
    rows: dict[str, list] = {"cache": [], "video": [], "start": [], "label": [], "probs": [], "epe": [], "nme": []}
    for batch in loader:
        batch = to_model_inputs(batch, device)
        with _autocast(config, device):
            out = model(batch["clip"], heads=heads)
        rows["probs"].append(torch.softmax(out.mer_logits.float(), dim=1).cpu())
        if out.flow is not None:
            diff = out.flow.float() - batch["flow"]
            rows["epe"].append(diff.norm(dim=1).mean(dim=(1, 2, 3)).cpu())
        if out.landmarks is not None:
            pred = out.landmarks.float().unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1)  # (B, 7, 68, 2)
            true = batch["landmarks"].unflatten(1, (NUM_LANDMARKS, 2)).movedim(-1, 1)
            rows["nme"].append(((pred - true).norm(dim=-1).mean(-1) / inter_ocular(true)).mean(1).cpu() * 100)
        for key in ("cache", "video", "start", "label"):
            rows[key].append(torch.as_tensor(batch[key]).cpu())
    return {k: torch.cat(v).numpy() for k, v in rows.items() if v}


def _uf1(pred: dict, num_classes: int) -> float:
    return classification_metrics(confusion_matrix(pred["label"], pred["probs"].argmax(1), num_classes))["uf1"]


def flow_pairs_for_step(config: TrainConfig, seed: int, step: int) -> torch.Tensor | None:
    """The frame pairs whose flow step ``step`` supervises: None for all 7, else ``flow_pairs``
    of them drawn uniformly without replacement, a function of (seed, step) alone so that a
    resumed run draws what an uninterrupted one would."""
    total = CLIP_FRAMES - 1
    if config.flow_pairs >= total:
        return None
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randperm(total, generator=g)[: config.flow_pairs].sort().values


def build_model(config: TrainConfig, num_classes: int, seed: int) -> MOL:
    """A freshly initialised MOL for a fold (the reference's FCC initialisation if asked for)."""
    model = MOL(num_classes=num_classes, k=config.k, ccc_neighbors=config.ccc_neighbors, dropout=config.dropout)
    if config.fcc_init == "randn":
        generator = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, FCC):
                module.reference_init_(generator)
    return model


def trains_in_train_mode(config: TrainConfig, step: int, batches_per_epoch: int) -> bool:
    """Whether step ``step`` (0-based) runs in train mode. With ``eval_mode_after_epochs`` n > 0,
    steps from epoch n on run in eval mode (BatchNorm running statistics frozen, dropout off),
    as the reference does from its second epoch (n = 1)."""
    n = config.eval_mode_after_epochs
    return n == 0 or step < n * batches_per_epoch


def _save_resume(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def train_fold(
    fold: Fold, data: RunData, config: TrainConfig, fold_dir: Path, seed: int, progress: bool = True
) -> dict:
    """Train on fold.train (selecting on fold.val if any), test on fold.test; write the fold's
    checkpoint, predictions and history to fold_dir. Resumes from fold_dir/resume.pt."""
    rank, world = init_distributed(config.device)
    device = _device(config)
    warn_if_slow_precision(config, device)
    torch.manual_seed(seed)
    num_classes = config.num_classes or len(data.classes)
    model = build_model(config, num_classes, seed).to(device)
    if config.channels_last:
        to_channels_last(model)
    optimizer = make_optimizer(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "float16")
    weights = LossWeights(config.loss_mer, config.loss_flow, config.loss_landmark)
    heads = weights.heads() if config.loss_mer else ("mer", *weights.heads())
    pixels = {"normalize": config.normalize}
    train_ds = MultiCacheClips(
        data, fold.train, train=True, seed=seed, flip=config.flip, crop_jitter=config.crop_jitter, **pixels
    )
    val_ds = MultiCacheClips(data, fold.val, train=False, seed=seed, **pixels) if fold.val else None
    test_ds = MultiCacheClips(data, fold.test, train=False, seed=seed, eval_crops=config.test_crops, **pixels)
    if len(train_ds) == 0 or len(test_ds) == 0:
        raise ValueError(f"fold {fold.name}: no training or no test clips")

    fold_dir.mkdir(parents=True, exist_ok=True)
    resume_path = fold_dir / "resume.pt"
    step, history, best = 0, [], {"uf1": -1.0, "step": 0}
    evaluations: list[dict] = []
    if resume_path.exists():
        state = torch.load(resume_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])  # the batch stream and data position follow from the step
        torch.set_rng_state(state["rng"])  # dropout continues as if never interrupted
        history, best = json.loads(state["history"]), json.loads(state["best"])
        evaluations = json.loads(state["evaluations"])
    # heads left out (or trained with a zero weight) leave parameters without gradients
    unused = set(heads) != {"mer", "flow", "landmarks"} or not config.loss_mer
    ddp_model = (
        torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
        )
        if world > 1
        else model
    )
    forward = CompiledOrEager(ddp_model, config.compile)

    loader = make_train_loader(train_ds, config.batch_size, config.workers, seed, device, rank, world, start=step)
    stream = iter(loader)

    # TensorBoard events (rank 0), appended to on resume: `tensorboard --logdir RUN_DIR`
    from torch.utils.tensorboard import SummaryWriter

    events = SummaryWriter(str(fold_dir / "tensorboard"), purge_step=step + 1) if rank == 0 else None
    bar = tqdm(
        total=config.steps, initial=step, desc=f"fold {fold.name}", unit="step", disable=not progress or rank != 0
    )
    started, seen = time.perf_counter(), 0
    stale = 0
    pending: list[tuple[int, torch.Tensor]] = []  # loss terms still on the device

    def flush() -> None:
        """Read pending losses back to the host (one synchronisation for many steps)."""
        if not pending:
            return
        values = torch.stack([t for _, t in pending]).float().cpu().tolist()
        for (at, _), row in zip(pending, values, strict=True):
            record = {"step": at, **dict(zip(LossTerms._fields, row, strict=True))}
            if not math.isfinite(record["total"]):
                raise TrainingError(
                    f"fold {fold.name}: the loss became {record['total']} at step {at} "
                    f"(terms {', '.join(f'{k} {v:.4g}' for k, v in record.items() if k != 'step')}); "
                    "the run diverged: lower lr, or use --precision float32"
                )
            history.append(record)
            if events is not None:
                for key in ("total", "mer", "flow", "landmark"):
                    events.add_scalar(f"loss/{key}", record[key], at)
        pending.clear()
        rate = seen / (time.perf_counter() - started)
        bar.set_postfix(loss=f"{history[-1]['total']:.3f}", clips_s=f"{rate:.1f}", refresh=False)

    batches_per_epoch = loader.batch_sampler.batches_per_epoch
    while step < config.steps:
        model.train(trains_in_train_mode(config, step, batches_per_epoch))
        batch = to_model_inputs(next(stream), device)
        optimizer.zero_grad(set_to_none=True)
        pairs = flow_pairs_for_step(config, seed, step) if "flow" in heads else None
        with _autocast(config, device):
            out = forward(batch["clip"], heads=heads, flow_pairs=pairs)
        terms = joint_loss(out, batch["label"], batch.get("flow"), batch.get("landmarks"), weights, pairs)
        scaler.scale(terms.total).backward()
        scaler.step(optimizer)
        scaler.update()
        step += 1
        seen += len(batch["label"]) * world
        pending.append((step, torch.stack([t.detach().float() for t in terms])))
        if len(pending) >= config.log_every or step == config.steps:
            flush()
        bar.update()
        if config.eval_every and step % config.eval_every == 0 and rank == 0:
            flush()
            if val_ds is not None:
                uf1 = _uf1(predict_clips(model, val_ds, config, device, ("mer",)), num_classes)
                if uf1 > best["uf1"]:
                    best = {"uf1": uf1, "step": step}
                    save_checkpoint(model, fold_dir / "best.safetensors")
                    stale = 0
                else:
                    stale += 1
            if config.report_oracle:  # uses test labels: reported apart, labelled optimistic
                pred = predict_clips(model, test_ds, config, device, ("mer",))
                evaluations.append(
                    {"step": step, "pred": pred["probs"].argmax(1).tolist(), "label": pred["label"].tolist()}
                )
        if rank == 0 and (step % config.checkpoint_every == 0 or step == config.steps):
            flush()  # the saved history is complete up to the saved step
            _save_resume(
                resume_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "rng": torch.get_rng_state(),
                    "history": json.dumps(history),
                    "best": json.dumps(best),
                    "evaluations": json.dumps(evaluations),
                },
            )
        # rank 0 alone validates; every rank must take its decision, or the others would wait
        # for a step rank 0 never takes
        validated = config.patience and config.eval_every and step % config.eval_every == 0
        if validated and broadcast_flag(stale >= config.patience, device):
            break
    flush()
    bar.close()
    del stream, loader  # stops the loader's workers
    if events is not None:
        events.close()
    _barrier()
    if rank != 0:
        return {}
    if val_ds is not None and (fold_dir / "best.safetensors").exists():
        model = load_checkpoint(fold_dir / "best.safetensors", device)
        final_step = best["step"]
    else:
        final_step = step
    save_checkpoint(
        model,
        fold_dir / "model.safetensors",
        extra={
            "fold": fold.name,
            "step": str(final_step),
            "classes": json.dumps(data.classes[:num_classes]),
            "training": json.dumps(training_record(config, data, fold, final_step)),
        },
    )
    pred = predict_clips(model, test_ds, config, device, heads)
    write_predictions(fold_dir / "predictions.csv", pred, data)
    summary = {
        "fold": fold.name,
        "steps": step,
        "selected_step": final_step,
        "selection": "validation UF1" if val_ds is not None else "last step (no selection)",
        "train_videos": len(fold.train),
        "val_videos": len(fold.val),
        "test_videos": len(fold.test),
        "test_clips": len(test_ds),
        "seconds": round(time.perf_counter() - started, 1),
        "forward": forward.status,
    }
    (fold_dir / "history.json").write_text(json.dumps({"history": history, "evaluations": evaluations}))
    atomic_write(fold_dir / "done.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    resume_path.unlink(missing_ok=True)
    return summary


def training_record(config: TrainConfig, data: RunData, fold: Fold, steps: int) -> dict:
    """What a checkpoint's heads were trained with and on, and the preprocessing it expects:
    `mol predict` shows no head whose loss weight was zero and names the training data."""
    options = [cache.options for cache in data.caches]
    trained = fold.train + fold.val
    return {
        "steps": steps,
        "loss_weights": {"mer": config.loss_mer, "flow": config.loss_flow, "landmarks": config.loss_landmark},
        "trained_heads": list(LossWeights(config.loss_mer, config.loss_flow, config.loss_landmark).heads()),
        "datasets": sorted({v.entry.dataset for v in trained}),
        "subjects": len({v.subject_id for v in trained}),
        "videos": len(trained),
        "classes": data.classes,
        "synthetic": any(o.get("flow") == "exact" for o in options),  # exact flow exists only for synthetic data
        "align": sorted({str(o.get("align")) for o in options}),
        "flow": sorted({str(o.get("flow")) for o in options}),
        "fps": sorted({v.entry.fps for v in trained if not math.isnan(v.entry.fps)}),
        "normalize": config.normalize,
    }


def write_predictions(path: Path, pred: dict, data: RunData) -> None:
    import csv

    num_classes = pred["probs"].shape[1]
    columns = [
        "dataset",
        "subject",
        "video",
        "clip_start",
        "label",
        *[f"p_{c}" for c in data.classes[:num_classes]],
        "flow_epe",
        "landmark_nme",
    ]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for i in range(len(pred["label"])):
                entry = data.caches[int(pred["cache"][i])].videos[int(pred["video"][i])]
                epe = float(pred["epe"][i]) if "epe" in pred else math.nan
                nme = float(pred["nme"][i]) if "nme" in pred else math.nan
                writer.writerow(
                    [
                        entry.dataset,
                        entry.subject,
                        entry.video_id,
                        int(pred["start"][i]),
                        int(pred["label"][i]),
                        *[f"{p:.6f}" for p in pred["probs"][i]],
                        f"{epe:.5f}",
                        f"{nme:.4f}",
                    ]
                )

    atomic_write(path, write)
