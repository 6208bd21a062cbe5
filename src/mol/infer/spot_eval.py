"""The MEGC spotting metric: spotted intervals against annotated ones.

A spotted interval is a true positive when its intersection over union (IoU) with a
not-yet-matched annotated interval of the same kind (micro or macro) is at least 0.5; every
other spotted interval is a false positive and every unmatched annotated interval a false
negative. Counts are summed over all videos before precision, recall and F1 = 2PR/(P+R) are
computed, for micro- and macro-expressions apart and both together ("overall").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mol.constants import EXPRESSION_KINDS, SPOT_IOU
from mol.data.records import Interval
from mol.files import write_csv_atomically, write_text_atomically

OVERALL = "overall"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def scores(self) -> dict[str, float | int]:
        """Counts with precision, recall and F1 (0 where undefined: nothing spotted or annotated)."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": precision, "recall": recall, "f1": f1}


def match(spotted: Sequence[Interval], truth: Sequence[Interval], iou: float = SPOT_IOU) -> Counts:
    """TP/FP/FN of one video and one kind. Spotted intervals claim annotated ones in order of
    score (highest first; unscored ones in time order), each the unmatched one it overlaps most."""
    order = sorted(spotted, key=lambda s: (-(s.score if not math.isnan(s.score) else -math.inf), s.onset))
    free = list(truth)
    tp = 0
    for s in order:
        if not free:
            break
        overlaps = [s.iou(t) for t in free]
        best = max(range(len(free)), key=overlaps.__getitem__)
        if overlaps[best] >= iou:
            free.pop(best)
            tp += 1
    return Counts(tp, len(spotted) - tp, len(truth) - tp)


def video_counts(spotted: Iterable[Interval], truth: Iterable[Interval], iou: float = SPOT_IOU) -> dict[str, Counts]:
    """Per kind and overall counts of one video; a kind matches only its own kind."""
    spotted, truth = list(spotted), list(truth)
    out = {
        kind: match([s for s in spotted if s.kind == kind], [t for t in truth if t.kind == kind], iou)
        for kind in EXPRESSION_KINDS
    }
    out[OVERALL] = sum(out.values(), Counts())
    return out


@dataclass
class SpottingEvaluation:
    """Per-video counts and the totals over all videos, per kind and overall."""

    per_video: dict[str, dict[str, Counts]] = field(default_factory=dict)
    iou: float = SPOT_IOU

    @property
    def total(self) -> dict[str, Counts]:
        kinds = (*EXPRESSION_KINDS, OVERALL)
        return {k: sum((v[k] for v in self.per_video.values()), Counts()) for k in kinds}

    def summary(self) -> dict[str, dict[str, float | int]]:
        return {k: c.scores() for k, c in self.total.items()}

    def rows(self) -> list[dict]:
        """One row per video and kind, then the totals (video "ALL")."""
        rows = []
        for name, counts in [*self.per_video.items(), ("ALL", self.total)]:
            for kind, c in counts.items():
                rows.append({"video": name, "kind": kind, **c.scores()})
        return rows


def evaluate(videos: Mapping[str, tuple[Sequence[Interval], Sequence[Interval]]], iou: float = SPOT_IOU):
    """``videos``: name → (spotted, annotated) intervals."""
    result = SpottingEvaluation(iou=iou)
    for name, (spotted, truth) in videos.items():
        result.per_video[name] = video_counts(spotted, truth, iou)
    return result


def write_evaluation(evaluation: SpottingEvaluation, out_dir: Path, extra: dict | None = None) -> tuple[Path, Path]:
    """spotting_metrics.json (totals, per video, settings) and spotting_metrics.csv (every row)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "iou": evaluation.iou,
        "total": evaluation.summary(),
        "per_video": {v: {k: c.scores() for k, c in counts.items()} for v, counts in evaluation.per_video.items()},
        **(extra or {}),
    }
    json_path, csv_path = out_dir / "spotting_metrics.json", out_dir / "spotting_metrics.csv"
    write_text_atomically(json_path, json.dumps(data, indent=2))
    write_csv_atomically(csv_path, evaluation.rows())
    return json_path, csv_path


def format_summary(evaluation: SpottingEvaluation) -> str:
    lines = [f"{'':8s} {'TP':>5s} {'FP':>5s} {'FN':>5s} {'P':>6s} {'R':>6s} {'F1':>6s}"]
    for kind, s in evaluation.summary().items():
        lines.append(
            f"{kind:8s} {s['tp']:5d} {s['fp']:5d} {s['fn']:5d} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}"
        )
    return "\n".join(lines)
