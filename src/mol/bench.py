"""`mol bench`: time a full training step and an eval forward of the MOL network."""

from __future__ import annotations

import contextlib
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from mol.constants import CLIP_FRAMES, NUM_LANDMARKS
from mol.constants import CROP as FRAME_SIZE
from mol.errors import ConfigError
from mol.model.mol import MOL
from mol.train import step as training
from mol.train.acceleration import CompiledOrEager, to_channels_last
from mol.train.config import BENCH_DTYPES
from mol.train.losses import joint_loss
from mol.train.optim import make_optimizer

DTYPES = BENCH_DTYPES


@dataclass
class PhaseTiming:
    """Median and spread of repeated runs of one phase, with its peak memory."""

    ms_median: float
    ms_min: float
    ms_max: float
    clips_per_s: float
    peak_memory_mib: float
    memory_kind: str


@dataclass
class BenchReport:
    batch: int
    device: str
    device_name: str
    dtype: str
    repeats: int
    warmup: int
    threads: int
    train_step: PhaseTiming
    eval_forward: PhaseTiming
    parameters: int
    saved_for_backward_mib: float
    channels_last: bool = False
    compile: str = "none"
    flow_pairs: int = CLIP_FRAMES - 1
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux: the process's peak resident set so far
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_phase(fn: Callable[[], None], device: torch.device, batch: int, repeats: int, warmup: int) -> PhaseTiming:
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    else:
        peak, kind = _peak_rss_mib(), "process peak RSS (includes earlier phases)"
    median = statistics.median(times)
    return PhaseTiming(
        ms_median=median,
        ms_min=min(times),
        ms_max=max(times),
        clips_per_s=batch * 1000 / median,
        peak_memory_mib=peak,
        memory_kind=kind,
    )


def saved_for_backward_mib(forward: Callable[[], torch.Tensor]) -> float:
    """MiB of distinct tensor storage that autograd keeps for the backward pass of ``forward``.

    Device-independent: it is the activation memory a training step holds at its peak (beside
    weights, gradients and optimizer state), so it can be compared across implementations
    without a GPU.
    """
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(storages.values()) / 2**20


def synthetic_batch(batch: int, num_classes: int, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs and targets of the right shapes (landmarks keep a sane eye distance)."""
    g = torch.Generator().manual_seed(seed)
    pairs = CLIP_FRAMES - 1
    landmarks = 20 + 88 * torch.rand(batch, 2 * NUM_LANDMARKS, pairs, generator=g)
    return {
        "clip": torch.randn(batch, 1, CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE, generator=g).to(device),
        "label": torch.randint(0, num_classes, (batch,), generator=g).to(device),
        "flow": torch.randn(batch, 2, FRAME_SIZE, FRAME_SIZE, pairs, generator=g).to(device),
        "landmarks": landmarks.to(device),
    }


def run_bench(
    batch: int = 4,
    device: str = "cpu",
    dtype: str = "float32",
    repeats: int = 5,
    warmup: int = 2,
    num_classes: int = 5,
    progress: Callable[[str], None] | None = None,
    channels_last: bool = False,
    compile_mode: str = "none",
    flow_pairs: int = CLIP_FRAMES - 1,
) -> BenchReport:
    """Time the eval forward, then the training step (forward, joint loss, backward, AdamW).

    ``channels_last`` and ``compile_mode`` are the training options of the same names (see
    :mod:`mol.train.acceleration`); the eval forward and the training step are compiled
    separately, as a run would use them. ``flow_pairs`` k < 7 times the training step with
    stochastic flow supervision (flow of k random pairs, as the trainer's ``flow_pairs``)."""
    _check_options(dtype, batch, repeats, warmup, flow_pairs)
    draw_pairs = _pair_drawer(flow_pairs)

    dev, model, data = _model_and_batch(device, batch, num_classes, dtype, channels_last)
    eval_model = CompiledOrEager(model, compile_mode)
    train_model = CompiledOrEager(model, compile_mode)
    autocast_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)

    def autocast():
        return contextlib.nullcontext() if autocast_dtype is None else torch.autocast(dev.type, dtype=autocast_dtype)

    optimizer = make_optimizer(model.parameters())
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == "float16")

    def eval_forward() -> None:
        with torch.inference_mode(), autocast():
            eval_model(data["clip"])

    def train_step() -> None:  # the trainer's own step
        training.optimisation_step(train_model, optimizer, scaler, data, flow_pairs=draw_pairs(), autocast=autocast())

    say = progress or (lambda _msg: None)
    say(f"eval forward: {warmup} warm-up + {repeats} timed runs at batch {batch} on {dev} ({dtype})")
    model.eval()
    eval_timing = _time_phase(eval_forward, dev, batch, repeats, warmup)
    say(f"training step: {warmup} warm-up + {repeats} timed runs")
    model.train()
    train_timing = _time_phase(train_step, dev, batch, repeats, warmup)

    saved = _saved_mib(model, data, draw_pairs, autocast)
    return BenchReport(
        batch=batch,
        device=str(dev),
        device_name=_device_name(dev),
        dtype=dtype,
        repeats=repeats,
        warmup=warmup,
        threads=torch.get_num_threads(),
        train_step=train_timing,
        eval_forward=eval_timing,
        parameters=sum(p.numel() for p in model.parameters()),
        saved_for_backward_mib=saved,
        channels_last=channels_last,
        compile=f"eval: {eval_model.status}; train: {train_model.status}",
        flow_pairs=flow_pairs,
        versions=_versions(),
    )


def _pair_drawer(flow_pairs: int):
    """A function drawing the frame pairs a step supervises, as the trainer's flow_pairs does
    (None: all seven)."""
    generator = torch.Generator().manual_seed(0)

    def draw() -> torch.Tensor | None:
        if flow_pairs == CLIP_FRAMES - 1:
            return None
        return torch.randperm(CLIP_FRAMES - 1, generator=generator)[:flow_pairs].sort().values

    return draw


def _saved_mib(model: MOL, data: dict, draw_pairs, autocast) -> float:
    """MiB of tensors a training step's forward saves for backward."""

    def train_forward() -> torch.Tensor:
        pairs = draw_pairs()
        with autocast():
            out = model(data["clip"], flow_pairs=pairs)
        return joint_loss(out, data["label"], data["flow"], data["landmarks"], flow_pairs=pairs).total

    return saved_for_backward_mib(train_forward)


def _check_options(dtype: str, batch: int, repeats: int, warmup: int, flow_pairs: int) -> None:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if batch < 1 or repeats < 1 or warmup < 0:
        raise ConfigError("batch and repeats must be ≥ 1, warmup ≥ 0")
    if not 1 <= flow_pairs <= CLIP_FRAMES - 1:
        raise ConfigError(f"flow_pairs must lie in 1..{CLIP_FRAMES - 1}, got {flow_pairs}")


def _model_and_batch(
    device: str, batch: int, num_classes: int, dtype: str, channels_last: bool
) -> tuple[torch.device, MOL, dict]:
    """A seeded MOL on ``device`` and a random batch, both float64 for that dtype."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but torch.cuda.is_available() is False")
    torch.manual_seed(0)
    model = MOL(num_classes=num_classes).to(dev)
    if dtype == "float64":
        model = model.double()
    if channels_last:
        to_channels_last(model)
    data = synthetic_batch(batch, num_classes, dev)
    if dtype == "float64":
        data = {k: (v.double() if v.is_floating_point() else v) for k, v in data.items()}
    return dev, model, data


def _versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": str(torch.version.cuda),
        "platform": platform.platform(),
    }


def format_report(report: BenchReport) -> str:
    rows = [
        f"MOL bench: batch {report.batch}, {report.dtype}, {report.device} ({report.device_name}), "
        f"{report.threads} threads, {report.parameters / 1e6:.1f} M parameters"
        + (", channels-last" if report.channels_last else "")
        + (f", {report.compile}" if "compile mode" in report.compile else "")
        + (f", flow of {report.flow_pairs} of 7 pairs per training step" if report.flow_pairs < 7 else ""),
        f"{'phase':<15}{'ms median':>12}{'min':>10}{'max':>10}{'clips/s':>10}{'peak MiB':>11}",
    ]
    for name, t in (("training step", report.train_step), ("eval forward", report.eval_forward)):
        rows.append(
            f"{name:<15}{t.ms_median:>12.1f}{t.ms_min:>10.1f}{t.ms_max:>10.1f}{t.clips_per_s:>10.2f}"
            f"{t.peak_memory_mib:>11.0f}"
        )
    rows.append(f"peak memory: {report.train_step.memory_kind}")
    rows.append(f"tensors saved for backward in one training step: {report.saved_for_backward_mib:.0f} MiB")
    rows.append("versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()))
    return "\n".join(rows)


@dataclass
class DataBenchReport:
    """The training input pipeline alone: cache → augmented clips → model inputs on a device."""

    cache: list[str]
    clips_in_cache: int
    batch: int
    workers: int
    device: str
    batches: int
    clips_per_s: float
    ms_per_batch_median: float
    bytes_per_clip_read: int  # from the cache, as stored (uint8 frames, float16 flow)
    bytes_per_clip_model: int  # handed to the model (float32)
    peak_rss_mib_main: float
    peak_rss_mib_workers: float
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def run_data_bench(
    caches: list[str],
    batch: int = 32,
    workers: int = 0,
    device: str = "cpu",
    batches: int = 30,
    warmup: int = 3,
    progress: Callable[[str], None] | None = None,
) -> DataBenchReport:
    """Time the training loader as `mol train` builds it (random crops and flips, the endless
    epoch sampler, pinned memory on CUDA) including the finishing step on ``device``."""
    from mol.data.clips import to_model_inputs
    from mol.data.multicache import MultiCacheClips, open_caches
    from mol.train.trainer import make_train_loader

    if batch < 1 or batches < 1 or workers < 0 or warmup < 0:
        raise ConfigError("batch and batches must be ≥ 1, workers and warmup ≥ 0")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but torch.cuda.is_available() is False")
    data = open_caches(caches)
    dataset = MultiCacheClips(data, data.videos, train=True, flip=True, seed=0, crop_jitter=8)
    loader = make_train_loader(dataset, batch, workers, seed=0, device=dev)
    stream = iter(loader)
    say = progress or (lambda _msg: None)
    say(f"loader: {len(dataset)} clips, batch {batch}, {workers} workers, {warmup} + {batches} batches → {dev}")
    for _ in range(warmup):  # also starts the workers
        to_model_inputs(next(stream), dev)
    _sync(dev)
    times, clips, started = [], 0, time.perf_counter()
    for _ in range(batches):
        t = time.perf_counter()
        out = to_model_inputs(next(stream), dev)
        _sync(dev)
        times.append((time.perf_counter() - t) * 1000)
        clips += len(out["label"])  # a cache with fewer clips than a batch gives short batches
    elapsed = time.perf_counter() - started
    raw = next(stream)
    read = sum(v[0].numel() * v.element_size() for k, v in raw.items() if k in ("clip", "flow", "landmarks"))
    model_bytes = sum(out[k][0].numel() * out[k].element_size() for k in ("clip", "flow", "landmarks"))
    del stream, loader
    # ru_maxrss of reaped children: the largest loader worker (they exit with the loader above)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers else 0.0
    return DataBenchReport(
        cache=[str(c) for c in caches],
        clips_in_cache=len(dataset),
        batch=batch,
        workers=workers,
        device=str(dev),
        batches=batches,
        clips_per_s=clips / elapsed,
        ms_per_batch_median=statistics.median(times),
        bytes_per_clip_read=int(read),
        bytes_per_clip_model=int(model_bytes),
        peak_rss_mib_main=_peak_rss_mib(),
        peak_rss_mib_workers=children,
        versions=_versions(),
    )


def format_data_report(report: DataBenchReport) -> str:
    return "\n".join(
        [
            f"MOL data bench: {', '.join(report.cache)} ({report.clips_in_cache} clips), batch {report.batch}, "
            f"{report.workers} loader workers, to {report.device}",
            f"{report.clips_per_s:.1f} clips/s ({report.ms_per_batch_median:.1f} ms median per batch of "
            f"{report.batch}; random crops and flips)",
            f"bytes per clip: {report.bytes_per_clip_read / 1024:.0f} KiB read and copied, "
            f"{report.bytes_per_clip_model / 1024:.0f} KiB as float32 model inputs",
            f"peak RSS: main process {report.peak_rss_mib_main:.0f} MiB"
            + (f", largest worker {report.peak_rss_mib_workers:.0f} MiB" if report.workers else ""),
        ]
    )
