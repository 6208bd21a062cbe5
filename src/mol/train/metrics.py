"""The field's metrics: from a confusion matrix summed over folds, and for flow and
landmarks."""

from __future__ import annotations

import numpy as np

from mol.constants import inter_ocular


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def classification_metrics(cm: np.ndarray) -> dict[str, float]:
    """Accuracy (= WAR), UAR (mean recall), UF1 (macro F1) and WF1 (support-weighted F1).

    One convention for both unweighted means: they average over the classes that occur in the
    true labels. A class that is only predicted still costs, through the precision of the
    classes whose samples went to it, but adds no term of its own (its recall is undefined).
    Over the confusion matrix summed over all folds, as the field reports, every class occurs."""
    cm = np.asarray(cm, dtype=np.float64)
    support, predicted, correct = cm.sum(1), cm.sum(0), np.diag(cm)
    total = support.sum()
    present = support > 0
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(correct), where=(precision + recall) > 0
    )
    return {
        "accuracy": float(correct.sum() / total) if total else 0.0,
        "uar": float(recall[support > 0].mean()) if (support > 0).any() else 0.0,
        "uf1": float(f1[present].mean()) if present.any() else 0.0,
        "wf1": float((f1 * support).sum() / total) if total else 0.0,
    }


def end_point_error(pred: np.ndarray, target: np.ndarray, channel_axis: int = -1) -> float:
    """Mean Euclidean distance between flow vectors, in pixels."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.sqrt((diff**2).sum(axis=channel_axis)).mean())


def landmark_nme(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean point error divided by the inter-ocular (eye-centre) distance of the target, in %.
    pred, target (..., 68, 2)."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    iod = inter_ocular(target)
    return float((np.linalg.norm(pred - target, axis=-1).mean(-1) / iod).mean() * 100)
