import numpy as np
import pytest

from mol.train.metrics import classification_metrics, confusion_matrix, end_point_error, landmark_nme


def test_metrics_against_a_hand_computed_example():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    m = classification_metrics(cm)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]  # per-class F1
    assert m["uf1"] == pytest.approx(np.mean(f1))
    assert m["wf1"] == pytest.approx((3 * f1[0] + 2 * f1[1] + 1 * f1[2]) / 6)


def test_absent_class_is_left_out_of_unweighted_means():
    m = classification_metrics(confusion_matrix([0, 1], [0, 1], 3))
    assert m["uar"] == 1.0 and m["uf1"] == 1.0


def test_flow_and_landmark_errors():
    assert end_point_error(np.zeros((4, 4, 2)), np.full((4, 4, 2), [3.0, 4.0])) == pytest.approx(5.0)
    target = np.zeros((68, 2))
    target[42:48, 0] = 10.0  # eye centres 10 px apart
    pred = target + np.array([0.5, 0.0])
    assert landmark_nme(pred, target) == pytest.approx(5.0)


def test_uar_and_uf1_average_over_the_same_classes():
    # truth has classes 0 and 1; one sample of class 1 is predicted as class 2 (absent from truth)
    m = classification_metrics(confusion_matrix([0, 1, 1], [0, 1, 2], 3))
    assert m["uar"] == pytest.approx((1 + 0.5) / 2)
    f1_class1 = 2 * 1.0 * 0.5 / 1.5  # precision 1, recall 0.5
    assert m["uf1"] == pytest.approx((1 + f1_class1) / 2)  # class 2 adds no zero term
