import numpy as np
import pytest

from mol.data.align import (
    ALIGNED_SIZE,
    NoFaceError,
    align_video,
    apply_transform,
    detect_landmarks,
    eye_centres,
    nearest_found,
    shape_predictor_path,
    similarity_transform,
)

from fakes import face_frames, face_image


def test_model_file_is_found_without_importing_its_package():
    assert shape_predictor_path().stat().st_size > 50_000_000


def test_real_face_gets_68_plausible_landmarks():
    lm = detect_landmarks(face_image())
    assert lm is not None and lm.shape == (68, 2)
    left, right = eye_centres(lm)
    assert left[0] < lm[30, 0] < right[0]  # nose tip between the eyes horizontally
    assert lm[30, 1] < lm[57, 1]  # mouth below the nose


def test_similarity_transform_levels_eyes_and_frames_the_face():
    lm = detect_landmarks(face_image())
    rotated = lm.copy()
    theta = np.deg2rad(12)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rotated = (lm - 100) @ rot.T + 100
    for points in (lm, rotated):
        out = apply_transform(similarity_transform(points), points)
        left, right = eye_centres(out)
        assert abs(left[1] - right[1]) < 1e-3  # eyes level
        key = np.stack([left, right, out[30], out[48], out[54]])
        extent = (key.max(0) - key.min(0)).max()
        assert extent == pytest.approx(ALIGNED_SIZE / 2.5, rel=1e-5)  # box of 2.5× the key extent
        assert (key.max(0) + key.min(0)) / 2 == pytest.approx([ALIGNED_SIZE / 2] * 2, abs=1e-3)  # centred


def test_aligned_landmarks_follow_the_warped_frames():
    video = align_video(face_frames(3))
    assert video.frames.shape == (3, ALIGNED_SIZE, ALIGNED_SIZE) and video.frames.dtype == np.uint8
    redetected = detect_landmarks(video.frames[0])
    if redetected is not None:  # dlib on a 144 px face: compare where it finds one
        assert np.abs(redetected - video.landmarks[0]).mean() < 3.0


def test_frames_without_a_face_borrow_the_nearest_transform():
    frames = face_frames(4)
    frames[1] = np.full_like(frames[1], 90)  # blank frame: no face
    video = align_video(frames, mode="per-frame")
    assert video.missing_faces == [1]
    np.testing.assert_allclose(video.landmarks[1], video.landmarks[0])
    assert list(nearest_found(np.array([False, True, False, False, True]))) == [1, 1, 1, 4, 4]


def test_onset_mode_uses_one_transform_so_motion_survives():
    frames = face_frames(4, dx_per_frame=1.0, dy_per_frame=0.0)
    onset = align_video(frames, mode="onset")
    per_frame = align_video(frames, mode="per-frame")
    moved_onset = (onset.landmarks[3] - onset.landmarks[0]).mean(0)[0]
    moved_per_frame = (per_frame.landmarks[3] - per_frame.landmarks[0]).mean(0)[0]
    assert moved_onset > 1.0  # a 3 px input shift shows up after onset alignment
    assert abs(moved_per_frame) < moved_onset / 2  # per-frame alignment follows the face


def test_video_without_any_face():
    with pytest.raises(NoFaceError):
        align_video([np.full((120, 120), 100, np.uint8)] * 3)
