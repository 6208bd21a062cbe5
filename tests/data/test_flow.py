import cv2
import numpy as np
import pytest

from mol.data.flow import compute_flow, needed_pairs, reference_flow_calls

from fakes import face_image


@pytest.mark.parametrize("method", ["tvl1", "dis", "farneback"])
def test_flow_recovers_a_known_shift(method):
    face = cv2.resize(face_image(), (144, 144), interpolation=cv2.INTER_AREA)
    shifted = cv2.warpAffine(face, np.float32([[1, 0, 1.5], [0, 1, -1.0]]), (144, 144), borderMode=cv2.BORDER_REFLECT)
    flow = compute_flow(face, shifted, method)
    assert flow.shape == (144, 144, 2) and flow.dtype == np.float32
    centre = flow[40:104, 40:104].reshape(-1, 2)
    np.testing.assert_allclose(np.median(centre, axis=0), [1.5, -1.0], atol=0.35)


def test_each_needed_pair_once():
    pairs = needed_pairs(35)  # stride 4: clips j = 0..3 of frames j, j+4, ..., j+28
    assert len(pairs) == len(set(pairs)) == 28 and pairs[0] == (0, 4) and pairs[-1] == (27, 31)
    clips = [[j + 4 * k for k in range(8)] for j in range(4)]
    assert {(c[k], c[k + 1]) for c in clips for k in range(7)} == set(pairs)
    assert reference_flow_calls(35) == 5 * len(pairs)
    assert needed_pairs(7) == []


def test_unknown_method():
    with pytest.raises(ValueError, match="flow method"):
        compute_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), "raft")
