"""Procedural faces: geometry in the aligned frame, and features painted where the landmarks are."""

import numpy as np

from mol.constants import ALIGNED_SIZE, LEFT_EYE, RIGHT_EYE
from mol.data.synthetic.procedural import CANONICAL_SHAPE, paint_face, random_face, random_shape


def test_canonical_shape_is_a_frontal_face():
    eyes_y = CANONICAL_SHAPE[36:48, 1].mean()
    assert CANONICAL_SHAPE[17:27, 1].max() < eyes_y < CANONICAL_SHAPE[30, 1] < CANONICAL_SHAPE[48:68, 1].min()
    assert CANONICAL_SHAPE[8, 1] == CANONICAL_SHAPE[:, 1].max()  # the chin is lowest
    np.testing.assert_allclose(CANONICAL_SHAPE[36:42, 0].mean(), -CANONICAL_SHAPE[42:48, 0].mean(), atol=1e-9)


def test_random_shapes_are_aligned_like_prepared_faces_and_differ():
    rng = np.random.default_rng(0)
    shapes = [random_shape(rng) for _ in range(20)]
    for s in shapes:
        assert s.shape == (68, 2) and (s > 0).all() and (s < ALIGNED_SIZE).all()
        left, right = s[LEFT_EYE].mean(0), s[RIGHT_EYE].mean(0)
        tilt = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
        assert abs(tilt) < 3.0  # eyes levelled by the alignment, up to the residual pose
    spread = np.std(np.stack(shapes), axis=0).mean()
    assert spread > 1.0  # identities differ by more than a pixel on average


def test_features_are_painted_where_the_landmarks_are():
    rng = np.random.default_rng(1)
    darker = 0
    for _ in range(10):
        image, landmarks = random_face(rng)
        assert image.shape == (ALIGNED_SIZE, ALIGNED_SIZE) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 255
        brow = [image[round(y), round(x)] for x, y in landmarks[17:27]]
        cheek = image[
            int(landmarks[1, 1] * 0.5 + landmarks[31, 1] * 0.5), int(landmarks[1, 0] * 0.5 + landmarks[31, 0] * 0.5)
        ]
        darker += np.median(brow) < cheek
    assert darker >= 8  # brows are painted darker than the skin


def test_same_seed_same_face():
    a = paint_face(random_shape(np.random.default_rng(5)), np.random.default_rng(6))
    b = paint_face(random_shape(np.random.default_rng(5)), np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
