"""`mol prepare`: raw dataset folder + annotation sheet → aligned, cached store with flow.

Each video is processed independently (read → align → flow) into a shard file written
atomically in ``CACHE.parts/``; a killed run resumes from the shards it left. When all videos
are done the shards (and videos of an existing cache with the same options) are assembled into
the HDF5 store, again through a temporary file and a rename. A report of every video, stored or
skipped with its reason, goes next to the cache as JSON and CSV.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from mol.constants import ALIGNED_SIZE, CLIP_FRAMES
from mol.data.align import ALIGN_MODES, NoFaceError, fit_alignment, warp_frames
from mol.data.apex import onset_apex_frames, onset_apex_pairs, onset_apex_span
from mol.data.cache import Cache, CacheError, create_cache, new_video, open_h5, read_options, write_video_attrs
from mol.data.flow import FLOW_METHODS, compute_flow, needed_pairs, reference_flow_calls
from mol.data.frames import FrameError, FrameSource, frame_number, list_frames
from mol.data.readers import read_dataset
from mol.data.records import Skipped, VideoRecord
from mol.data.schemes import DEFAULT_SCHEME, ClassScheme, get_scheme, scheme_from_labels
from mol.data.synthetic import GROUND_TRUTH_FILE, GroundTruth, aligned_ground_truth
from mol.errors import ConfigError
from mol.files import check_output_path, write_text_atomically

SHARD_SUFFIX = ".h5"  # one finished video in CACHE.parts/, laid out as in the cache


@dataclass
class PrepareReport:
    cache: Path
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def stored(self) -> list[dict]:
        return [r for r in self.rows if r["status"] in ("stored", "kept")]

    @property
    def skipped(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "skipped"]

    def summary(self) -> dict:
        new = [r for r in self.rows if r["status"] == "stored"]
        frames = sum(r["frames"] for r in new)
        return {
            "cache": str(self.cache),
            "videos_stored": len(self.stored),
            "videos_new": len(new),
            "videos_skipped": len(self.skipped),
            "frames_processed": frames,
            "seconds": round(self.seconds, 2),
            "frames_per_second": round(frames / self.seconds, 2) if self.seconds and frames else None,
            "flow_calls": sum(r["flow_pairs"] for r in new),
            "reference_flow_calls": sum(reference_flow_calls(r["frames"]) for r in new),
        }


def _label_records(records: list[VideoRecord], scheme: ClassScheme) -> tuple[list[tuple[VideoRecord, int]], list]:
    kept, skipped = [], []
    for r in records:
        label = scheme.label_of(r.dataset, r.emotion)
        if label is None:
            skipped.append(Skipped(r.key, f"emotion {r.emotion!r} is not in scheme {scheme.name}"))
        else:
            kept.append((r, label))
    return kept, skipped


def first_frame_number(source: Path) -> int:
    """The number in the first frame file's name; frames of a video file count from 1."""
    if source.is_dir():
        frames = list_frames(source)
        number = frame_number(frames[0]) if frames else None
        return 1 if number is None else number
    return 1


def annotated_onset_index(record: VideoRecord, num_frames: int, first: int) -> int | None:
    """The sheet's onset as an index into the video's frames (frame numbers count from the first
    frame file's, ``first``), or None where the sheet has no onset or it lies outside the frames."""
    if record.onset is None or record.onset < 0:
        return None
    index = record.onset - first
    return index if 0 <= index < num_frames else None


def _video_attrs(record: VideoRecord, label: int, stride: int, first: int) -> dict:
    return {
        "dataset": record.dataset,
        "subject": record.subject,
        "video_id": record.video_id,
        "label": label,
        "emotion": record.emotion,
        "action_units": record.action_units,
        "onset": record.onset,
        "apex": record.apex,
        "offset": record.offset,
        "fps": record.fps,
        "source": str(record.source),
        "flow_stride": stride,
        "first_frame_number": first,
    }


def process_video(
    record: VideoRecord, label: int, options: dict, shard: Path, ground_truth: Path | None = None
) -> dict:
    """Read, align and compute flow for one video; write its shard. Returns its report row.

    The shard (HDF5, one video laid out as in the cache) is filled one frame and one flow at a
    time, so memory does not grow with the video's length beyond its landmarks. With
    ``options["flow"] == "exact"`` (synthetic data), flow and landmarks come from the
    generator's ground truth, carried through the same alignment as the frames."""
    start = time.perf_counter()
    row = {"key": record.key, "subject": record.subject, "video": record.video_id, "emotion": record.emotion}
    size = options["size"]
    try:
        frames = FrameSource(record.source)  # decoded one at a time, on each pass
        unreadable = frames.unreadable
        if len(frames) < CLIP_FRAMES:
            raise FrameError(f"{record.source}: {len(frames)} frames, fewer than the {CLIP_FRAMES} a clip needs")
        first = first_frame_number(record.source)  # lists a frame folder: once per video
        onset = annotated_onset_index(record, len(frames), first)
        alignment = fit_alignment(frames, options["align"], size, reference=onset, unreadable=set(unreadable))
    except (FrameError, NoFaceError) as exc:
        reason = f"no face found in any frame of {record.source}" if isinstance(exc, NoFaceError) else str(exc)
        return {**row, "status": "skipped", "reason": reason, "frames": 0, "flow_pairs": 0, "missing_faces": ""}
    if options["align"] == "onset":
        row["aligned_on"] = f"frame {alignment.reference} ({'annotated onset' if onset is not None else 'first face'})"
    pairs = needed_pairs(len(frames), CLIP_FRAMES)
    onset_index, apex_index, _ = onset_apex_span(len(frames), first, record.onset, record.apex, record.offset)
    key_pairs = onset_apex_pairs(onset_index, apex_index)
    attrs = {
        **_video_attrs(record, label, pairs[0][1] - pairs[0][0], first),
        "align_reference": alignment.reference,
        "onset_apex_frames": onset_apex_frames(onset_index, apex_index),
    }
    tmp = shard.with_name(f".{shard.name}.tmp")
    with h5py.File(tmp, "w") as f:
        aligned, flows, key_flows = new_video(f, len(frames), len(pairs), size)
        warp_frames(frames, alignment.matrices, aligned, size)
        landmarks = alignment.landmarks
        if options["flow"] == "exact":
            landmarks = _write_exact_flow(record, ground_truth, alignment.matrices, pairs, key_pairs, flows, key_flows)
        else:
            for target, chosen in ((flows, pairs), (key_flows, key_pairs)):
                for n, (i, j) in enumerate(chosen):
                    target[n] = 0.0 if i == j else compute_flow(aligned[i], aligned[j], options["flow"])
        write_video_attrs(f, landmarks, alignment.face_found, attrs)
    os.replace(tmp, shard)
    return {
        **row,
        "status": "stored",
        "reason": "",
        "frames": len(frames),
        "flow_pairs": len(pairs),
        "missing_faces": " ".join(map(str, alignment.missing_faces)),
        "unreadable_frames": " ".join(map(str, unreadable)),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _write_exact_flow(record: VideoRecord, ground_truth: Path, matrices, pairs, key_pairs, flows, key_flows):
    """The generator's exact flow of ``pairs`` and ``key_pairs`` into the shard's datasets, carried
    through the frames' alignment ``matrices``; returns the exact aligned landmarks."""
    truth = GroundTruth(ground_truth)
    try:
        video = truth.video(record.subject, record.video_id)
    finally:
        truth.close()
    exact, landmarks = aligned_ground_truth(video, matrices, pairs + key_pairs, flows.shape[1])
    flows[...] = exact[: len(pairs)].astype(np.float16)
    key_flows[...] = exact[len(pairs) :].astype(np.float16)
    return landmarks


def _write_report(report: PrepareReport) -> tuple[Path, Path]:
    json_path = report.cache.with_name(report.cache.name + ".report.json")
    csv_path = report.cache.with_name(report.cache.name + ".report.csv")
    columns = ["key", "subject", "video", "emotion", "status", "reason", "frames", "flow_pairs", "missing_faces"]
    columns += ["unreadable_frames", "aligned_on"]
    json_path.write_text(json.dumps({"summary": report.summary(), "videos": report.rows}, indent=2, default=str))
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report.rows)
    return json_path, csv_path


def _differences(saved: dict, wanted: dict) -> str:
    """'--align per-frame there, onset here' for each option that differs."""
    keys = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    return "; ".join(f"--{k} {saved.get(k)} there, {wanted.get(k)} here" for k in keys)


def _check_inputs(root: Path, align: str, flow: str) -> Path | None:
    """Refuse bad options before any work; the ground-truth file of ``--flow exact``."""
    if align not in ALIGN_MODES:
        raise ConfigError(f"--align must be one of {ALIGN_MODES}, got {align!r}")
    if flow not in (*FLOW_METHODS, "exact"):
        raise ConfigError(f"--flow must be one of {(*FLOW_METHODS, 'exact')}, got {flow!r}")
    ground_truth = root / GROUND_TRUTH_FILE if flow == "exact" else None
    if ground_truth is not None and not ground_truth.is_file():
        raise ConfigError(f"{ground_truth}: --flow exact needs the ground truth that `mol synth` writes into --root")
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise ConfigError(f"--root {root}: {what}; give the dataset's folder as its owners ship it")
    return ground_truth


def _open_parts(out: Path, options: dict) -> tuple[Path, set[str]]:
    """The folder of per-video shards beside ``out`` (made, with the options it holds) and the
    keys already in ``out``; a cache or unfinished shards of other options are refused."""
    parts = out.with_name(out.name + ".parts")
    existing_keys: set[str] = set()
    if out.exists():
        if read_options(out) != options:
            raise CacheError(
                f"{out}: exists and was prepared with other options ({_differences(read_options(out), options)}); "
                "choose another --out, or delete it to prepare again"
            )
        existing_keys = {v.key for v in Cache(out).videos}
    options_file = parts / "options.json"
    if options_file.exists() and json.loads(options_file.read_text()) != options:
        raise CacheError(
            f"{parts}: unfinished shards of a run with other options "
            f"({_differences(json.loads(options_file.read_text()), options)}); "
            "rerun with those options to finish it, or delete that folder"
        )
    try:
        parts.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--out {out}: cannot make {parts} beside it ({exc.strerror}); give a writable path"
        ) from None
    write_text_atomically(options_file, json.dumps(options, sort_keys=True))
    return parts, existing_keys


def _plan(labelled, parts: Path, existing_keys: set[str], report: PrepareReport) -> list:
    """(record, label, shard) of each video still to prepare; those done already are reported kept."""
    todo = []
    for record, label in labelled:
        shard = parts / f"{record.key}{SHARD_SUFFIX}"
        if record.key in existing_keys or shard.exists():
            report.rows.append(
                {
                    "key": record.key,
                    "subject": record.subject,
                    "video": record.video_id,
                    "emotion": record.emotion,
                    "status": "kept",
                    "reason": "already prepared",
                    "frames": 0,
                    "flow_pairs": 0,
                }
            )
        else:
            todo.append((record, label, shard))
    return todo


def _process_all(todo: list, options: dict, ground_truth: Path | None, workers: int, bar) -> list[dict]:
    """Every video of ``todo`` to its shard, in ``workers`` processes; their report rows."""
    rows = []
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(process_video, r, lab, options, shard, ground_truth) for r, lab, shard in todo]
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update()
        return rows
    for r, lab, shard in todo:
        rows.append(process_video(r, lab, options, shard, ground_truth))
        bar.update()
    return rows


def _assemble(out: Path, parts: Path, existing_keys: set[str], options: dict, classes: list[str]) -> bool:
    """The cache from its old videos and the new shards (False: there is no video at all)."""
    shards = {p.stem: p for p in sorted(parts.glob(f"*{SHARD_SUFFIX}"))}
    if not existing_keys | set(shards):
        shutil.rmtree(parts, ignore_errors=True)
        return False

    def videos():
        """Every video's group: those already in the cache, then the new shards."""
        if existing_keys:
            with open_h5(out) as old:
                for key in sorted(existing_keys):
                    yield key, old["videos"][key]
        for key, shard in shards.items():
            if key not in existing_keys:
                with h5py.File(shard, "r") as f:
                    yield key, f["/"]

    create_cache(out, options, classes, videos())
    shutil.rmtree(parts, ignore_errors=True)
    return True


def prepare(
    kind: str,
    root: Path,
    out: Path,
    sheet: Path | None = None,
    scheme: str | None = None,
    align: str = "per-frame",
    flow: str = "tvl1",
    workers: int = 1,
    progress: bool = True,
) -> PrepareReport:
    """Build (or complete) the cache ``out`` from a raw dataset; see the module docstring."""
    root, out = Path(root), Path(out)
    ground_truth = _check_inputs(root, align, flow)
    started = time.perf_counter()
    result = read_dataset(kind, root, Path(sheet) if sheet else None)
    scheme_name = scheme or DEFAULT_SCHEME.get(kind)
    chosen = get_scheme(scheme_name) if scheme_name else scheme_from_labels([r.emotion for r in result.records])
    labelled, unlabelled = _label_records(result.records, chosen)
    options = {
        "dataset": kind,
        "scheme": chosen.name,
        "classes": list(chosen.classes),
        "align": align,
        "flow": flow,
        "size": ALIGNED_SIZE,
        "clip_frames": CLIP_FRAMES,
    }
    check_output_path(out, "--out", folder=False)
    parts, existing_keys = _open_parts(out, options)
    report = PrepareReport(out)
    report.rows += [
        {"key": s.item, "status": "skipped", "reason": s.reason, "frames": 0, "flow_pairs": 0}
        for s in result.skipped + unlabelled
    ]
    todo = _plan(labelled, parts, existing_keys, report)
    with tqdm(total=len(todo), desc=f"prepare {kind}", unit="video", disable=not progress) as bar:
        report.rows += _process_all(todo, options, ground_truth, workers, bar)
    stored = _assemble(out, parts, existing_keys, options, list(chosen.classes))
    report.seconds = time.perf_counter() - started
    _write_report(report)
    if not stored:
        raise CacheError(f"{root}: no video could be prepared; see {out}.report.csv for the reasons")
    return report


def format_summary(report: PrepareReport) -> str:
    s = report.summary()
    lines = [
        f"cache: {s['cache']}",
        f"videos stored: {s['videos_stored']} ({s['videos_new']} new), skipped: {s['videos_skipped']}",
        f"frames processed: {s['frames_processed']} in {s['seconds']} s"
        + (f" ({s['frames_per_second']} frames/s)" if s["frames_per_second"] else ""),
        f"flow computations: {s['flow_calls']} (the reference's procedure: {s['reference_flow_calls']})",
        f"report: {report.cache}.report.json, {report.cache}.report.csv",
    ]
    if report.skipped:
        lines.append("skipped:")
        lines += [f"  {r['key']}: {r['reason']}" for r in report.skipped[:20]]
        if len(report.skipped) > 20:
            lines.append(f"  … {len(report.skipped) - 20} more in the report")
    return "\n".join(lines)
