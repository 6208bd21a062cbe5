"""`mol spot`: the spotter over one video or a whole long-video dataset, with tuning and the
MEGC evaluation. Every video's front-end signals are saved as they are measured
(``OUT/signals/<video>.npz``), so an interrupted run resumes and tuning reads no frame again."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mol.data.frames import FrameSource
from mol.data.long_readers import read_long_dataset
from mol.data.records import Interval, LongVideoRecord
from mol.errors import ConfigError
from mol.files import atomic_write, write_csv_atomically, write_text_atomically
from mol.infer.spot import Signals, SpotSettings, analysis_step, measure, skipping_frames, spot
from mol.infer.spot_eval import SpottingEvaluation, evaluate, write_evaluation

SETTINGS_FILE = "spot_settings.json"
# values tried for each setting when tuning, one setting at a time (two rounds)
TUNING_GRID: dict[str, Sequence[float]] = {
    "macro_threshold": (3, 4, 6, 8, 11, 15, 20),
    "macro_span_seconds": (1.0, 1.5, 2.0, 3.0),
    "micro_threshold": (3, 4, 6, 8, 11, 15, 20),
    "micro_span_seconds": (0.25, 0.3, 0.4, 0.5),
    "boundary": (0.1, 0.15, 0.2, 0.3, 0.4),
    "min_motion": (0.0, 0.1, 0.2, 0.3, 0.5),
    "blink_ratio": (0.3, 0.6, 1.0, 2.0, math.inf),
}
BASELINE_GRID = {k: v for k, v in TUNING_GRID.items() if k not in ("boundary", "blink_ratio", "min_motion")}


def measure_video(source: Path, fps: float, cache: Path | None = None, progress: bool = False) -> Signals:
    """The front-end's signals of one video file or frame folder (read from ``cache`` if there)."""
    if cache is not None and cache.is_file():
        return Signals.load(cache)
    signals = measure_frames(FrameSource(source), fps, progress)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        signals.save(cache)
    return signals


def measure_frames(frames: FrameSource, fps: float, progress: bool = False) -> Signals:
    """The front-end's signals of decoded frames; ``fps`` (else the video file's own rate) is
    required, since micro (≤ 0.5 s) and macro are told apart in seconds: no guessing."""
    fps = fps if fps and fps > 0 else frames.fps
    if not fps or fps <= 0:
        raise ConfigError(f"{frames.source}: the frame rate of a frame folder is unknown; give --fps")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(frames), desc=f"spot {frames.source.name}", unit="frame")
    signals = measure(skipping_frames(frames, analysis_step(fps)), fps, len(frames), bar.update if bar else None)
    if bar:
        bar.close()
    return signals


def faceless_note(signals: Signals) -> str | None:
    """One sentence naming the stretches of the video without a face, or None."""
    stretches = signals.faceless_stretches()
    if not stretches:
        return None
    fps = signals.fps
    parts = [f"{a}-{b} ({a / fps:.2f}-{(b + 1) / fps:.2f} s)" for a, b in stretches[:10]]
    more = f" and {len(stretches) - 10} more stretches" if len(stretches) > 10 else ""
    frames = sum(b - a + 1 for a, b in stretches)
    return (
        f"No face in {frames} of {signals.num_frames} frames: frames {', '.join(parts)}{more}. "
        "Nothing there was spotted or classified."
    )


def write_faceless(signals: dict[str, Signals], out: Path) -> Path:
    """faceless.csv: every stretch of every video where no face was found."""
    rows = [
        {
            "video": key,
            "first_frame": a,
            "last_frame": b,
            "first_s": round(a / s.fps, 4),
            "last_s": round((b + 1) / s.fps, 4),
        }
        for key, s in signals.items()
        for a, b in s.faceless_stretches()
    ]
    path = out / "faceless.csv"
    write_csv_atomically(path, rows, ["video", "first_frame", "last_frame", "first_s", "last_s"])
    return path


def measure_dataset(records: list[LongVideoRecord], out: Path, progress: bool = True) -> dict[str, Signals]:
    return {r.key: measure_video(r.source, r.fps, out / "signals" / f"{r.key}.npz", progress) for r in records}


def spot_all(signals: dict[str, Signals], settings: SpotSettings) -> dict[str, list[Interval]]:
    return {key: spot(s, settings) for key, s in signals.items()}


def score(signals: dict[str, Signals], truth: dict[str, Sequence[Interval]], settings: SpotSettings) -> float:
    """Overall F1 of ``settings`` on these videos."""
    spotted = spot_all(signals, settings)
    return evaluate({k: (spotted[k], truth[k]) for k in signals}).summary()["overall"]["f1"]


def tune(
    signals: dict[str, Signals],
    truth: dict[str, Sequence[Interval]],
    start: SpotSettings | None = None,
    rounds: int = 2,
) -> tuple[SpotSettings, list[dict]]:
    """The settings of highest overall F1 on these (dev) videos, one setting at a time over
    TUNING_GRID (BASELINE_GRID for the frame-difference baseline); ties keep the earlier value.
    Returns the settings and every trial as rows."""
    best = start or SpotSettings()
    grid = BASELINE_GRID if best.signal == "difference" else TUNING_GRID
    best_f1 = score(signals, truth, best)
    trials = [{"round": 0, "setting": "start", "value": None, "f1": best_f1}]
    for r in range(1, rounds + 1):
        for name, values in grid.items():
            for value in values:
                candidate = replace(best, **{name: value})
                f1 = score(signals, truth, candidate)
                trials.append({"round": r, "setting": name, "value": value, "f1": f1})
                if f1 > best_f1:
                    best, best_f1 = candidate, f1
    return best, trials


def load_settings(path: Path | None) -> SpotSettings:
    if path is None:
        return SpotSettings()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read spotting settings ({exc}); give the {SETTINGS_FILE} of `mol spot --tune`"
        ) from exc
    data = data.get("settings", data)
    known = set(SpotSettings.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown spotting settings {unknown}; known: {sorted(known)}")
    return SpotSettings(**{k: (math.inf if v is None and k == "blink_ratio" else v) for k, v in data.items()})


def settings_json(settings: SpotSettings) -> dict:
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in settings.to_dict().items()}


def write_intervals(spotted: dict[str, list[Interval]], fps: dict[str, float], out: Path) -> tuple[Path, Path]:
    """intervals.json and intervals.csv: every spotted interval with its frames and times."""
    rows = [
        {
            "video": key,
            **i.to_dict(),
            "onset_s": round(i.onset / fps[key], 4),
            "offset_s": round(i.offset / fps[key], 4),
        }
        for key, intervals in spotted.items()
        for i in intervals
    ]
    json_path, csv_path = out / "intervals.json", out / "intervals.csv"
    write_text_atomically(json_path, json.dumps({k: [i.to_dict() for i in v] for k, v in spotted.items()}, indent=1))
    fields = ["video", "kind", "onset", "apex", "offset", "onset_s", "offset_s", "score", "label"]
    write_csv_atomically(csv_path, rows, fields)
    return json_path, csv_path


def plot_timelines(
    spotted: dict[str, list[Interval]], truth: dict[str, Sequence[Interval]], lengths: dict[str, int], path: Path
) -> Path:
    """One row per video: annotated intervals above, spotted ones below (micro red, macro orange)."""
    from mol.figures import pyplot

    plt = pyplot()

    keys = list(spotted)
    fig, ax = plt.subplots(figsize=(12, 0.5 + 0.45 * len(keys)))
    colours = {"micro": "tab:red", "macro": "tab:orange"}
    for row, key in enumerate(keys):
        y = len(keys) - 1 - row
        for level, intervals in ((0.2, truth.get(key, ())), (-0.2, spotted[key])):
            for i in intervals:
                ax.broken_barh([(i.onset, i.length)], (y + level - 0.15, 0.3), color=colours[i.kind])
        ax.plot([0, lengths[key]], [y, y], color="0.85", lw=0.5)
    ax.set_yticks(range(len(keys)), [k.split("__")[-1] for k in reversed(keys)], fontsize=7)
    ax.set_xlabel("frame (upper bar: annotated, lower bar: spotted; red micro, orange macro)")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
    return path


def run_spot_dataset(
    kind: str,
    root: Path,
    out: Path,
    settings: SpotSettings,
    tune_settings: bool = False,
    sheet: Path | None = None,
    progress: bool = True,
) -> dict:
    """Measure, (tune,) spot and evaluate a long-video dataset; returns the summary written."""
    result = read_long_dataset(kind, root, sheet)
    if not result.records:
        raise ConfigError(f"{root}: no {kind} videos found")
    signals = measure_dataset(result.records, out, progress)
    truth = {r.key: r.intervals for r in result.records}
    summary: dict = {"dataset": kind, "root": str(root), "videos": len(signals)}
    if tune_settings:
        settings, trials = tune(signals, truth, settings)
        write_text_atomically(
            out / SETTINGS_FILE, json.dumps({"settings": settings_json(settings), "tuned_on": str(root)}, indent=1)
        )
        write_text_atomically(out / "tuning.json", json.dumps(trials, indent=1))
    spotted = spot_all(signals, settings)
    write_intervals(spotted, {r.key: r.fps for r in result.records}, out)
    evaluation: SpottingEvaluation = evaluate({k: (spotted[k], truth[k]) for k in signals})
    frames = sum(s.num_frames for s in signals.values())
    seconds = sum(s.seconds for s in signals.values())
    summary.update(
        settings=settings_json(settings),
        frames=frames,
        front_end_seconds=round(seconds, 2),
        frames_per_second=round(frames / seconds, 1) if seconds else None,
        skipped=[{"item": s.item, "reason": s.reason} for s in result.skipped],
    )
    summary["videos_without_face"] = sorted(k for k, s in signals.items() if not s.face_found.any())
    write_faceless(signals, out)
    write_evaluation(evaluation, out, summary)
    plot_timelines(spotted, truth, {k: s.num_frames for k, s in signals.items()}, out / "timeline.png")
    summary["evaluation"] = evaluation
    return summary
