import json

import pytest

from mol.data.records import Interval
from mol.infer.spot_eval import Counts, evaluate, match, video_counts, write_evaluation


def micro(on, off, score=float("nan")):
    return Interval(on, (on + off) // 2, off, "micro", score=score)


def macro(on, off):
    return Interval(on, (on + off) // 2, off, "macro")


def test_iou_counts_both_ends():
    assert micro(0, 9).iou(micro(5, 14)) == pytest.approx(5 / 15)
    assert micro(0, 9).iou(micro(10, 19)) == 0.0
    assert micro(3, 3).iou(micro(3, 3)) == 1.0


def test_match_by_iou_threshold():
    truth = [micro(100, 109)]
    # IoU 10/12 ≥ 0.5 → a hit; IoU 5/15 < 0.5 → a false positive and a miss
    assert match([micro(99, 110)], truth) == Counts(1, 0, 0)
    assert match([micro(105, 114)], truth) == Counts(0, 1, 1)


def test_an_annotation_is_matched_once():
    truth = [micro(100, 109)]
    counts = match([micro(100, 109, score=0.9), micro(101, 110, score=0.5)], truth)
    assert counts == Counts(1, 1, 0)


def test_higher_score_claims_first():
    # both spotted intervals reach IoU ≥ 0.5 with the first annotation; the better-scored one
    # claims it, the other goes on to the second annotation if it overlaps enough (it does not)
    truth = [micro(0, 9), micro(30, 39)]
    counts = match([micro(2, 11, score=0.2), micro(0, 9, score=0.8)], truth)
    assert counts == Counts(1, 1, 1)


def test_kinds_match_only_their_own_kind():
    counts = video_counts([micro(0, 9)], [macro(0, 9)])
    assert counts["micro"] == Counts(0, 1, 0)
    assert counts["macro"] == Counts(0, 0, 1)
    assert counts["overall"] == Counts(0, 1, 1)


def test_totals_sum_counts_over_videos_before_scoring():
    result = evaluate(
        {
            "a": ([micro(0, 9), micro(50, 59)], [micro(0, 9)]),  # 1 TP, 1 FP
            "b": ([], [micro(0, 9), macro(20, 60)]),  # 2 FN
        }
    )
    s = result.summary()
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 1, 1)
    assert s["overall"]["precision"] == pytest.approx(0.5)
    assert s["overall"]["recall"] == pytest.approx(1 / 3)
    assert s["overall"]["f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert s["macro"]["f1"] == 0.0  # nothing spotted: precision and recall 0, not NaN


def test_written_json_and_csv(tmp_path):
    result = evaluate({"a": ([micro(0, 9)], [micro(0, 9)])})
    json_path, csv_path = write_evaluation(result, tmp_path, {"thresholds": {"k": 1}})
    data = json.loads(json_path.read_text())
    assert data["total"]["micro"]["f1"] == 1.0
    assert data["thresholds"] == {"k": 1}
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("video,kind,tp,fp,fn")
    assert len(lines) == 1 + 2 * 3  # video a and ALL, three kinds each
