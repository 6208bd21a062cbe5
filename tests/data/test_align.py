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
    """The image under each aligned landmark is the image under the detected one: landmarks and
    pixels went through the same transform (a mismatched transform would sample elsewhere)."""
    import cv2

    frames = face_frames(3)
    video = align_video(frames)
    assert video.frames.shape == (3, ALIGNED_SIZE, ALIGNED_SIZE) and video.frames.dtype == np.uint8
    detected = detect_landmarks(frames[0])

    def sample(image, points, sigma):  # smoothed at the same physical scale in both images
        blurred = cv2.GaussianBlur(image, (0, 0), sigma).astype(np.float32)
        return cv2.remap(blurred, points[:, None, 0], points[:, None, 1], cv2.INTER_LINEAR)[:, 0]

    scale = float(np.linalg.norm(video.matrices[0][0, :2]))  # aligned pixels per input pixel
    original = sample(frames[0], detected, 2.0)
    same = np.abs(sample(video.frames[0], video.landmarks[0], 2.0 * scale) - original).mean()
    shifted = np.abs(sample(video.frames[0], video.landmarks[0] + 4, 2.0 * scale) - original).mean()
    assert same < 5 and shifted > 3 * same


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


def test_the_largest_face_is_taken_then_the_one_nearest_the_previous():
    from mol.data.align import choose_face

    boxes = [(0, 0, 10, 10), (50, 50, 90, 90), (200, 0, 230, 30)]
    assert choose_face(boxes) == 1  # largest
    assert choose_face(boxes, near=np.array([210.0, 12.0])) == 2  # the person followed so far
    assert choose_face([]) is None


def test_onset_alignment_uses_the_annotated_onset_frame():
    frames = face_frames(6, dx_per_frame=1.0, dy_per_frame=0.0)
    per_frame = align_video(frames, mode="per-frame")
    at_onset = align_video(frames, mode="onset", reference=3)
    assert at_onset.reference == 3 and per_frame.reference == -1
    np.testing.assert_allclose(at_onset.landmarks[3], per_frame.landmarks[3], atol=1e-3)  # its own transform
    assert align_video(frames, mode="onset").reference == 0  # no annotation: the first face
    frames[3] = np.full_like(frames[3], 90)  # the onset frame without a face: its nearest face's
    assert align_video(frames, mode="onset", reference=3).reference in (2, 4)


def test_unreadable_frames_count_as_frames_without_a_face():
    video = align_video(face_frames(4), unreadable={2})
    assert video.missing_faces == [2]
    np.testing.assert_allclose(video.landmarks[2], video.landmarks[1])


def test_aligning_a_video_holds_one_raw_frame_at_a_time(tmp_path):
    """Peak memory grows with the aligned output (144² bytes a frame), not the raw 640×480
    frames (2× the length would hold ~25 MB more raw pixels)."""
    import tracemalloc

    from mol.data.frames import FrameSource

    from fakes import write_video

    face = face_frames(1)[0]
    canvas = np.full((480, 640), 100, np.uint8)
    canvas[140:340, 220:420] = face
    points = detect_landmarks(canvas)
    peaks = []
    for length in (40, 120):
        video = write_video(tmp_path / f"v{length}.avi", [canvas] * length)
        source = FrameSource(video)
        tracemalloc.start()
        aligned = align_video(source, detect=lambda frame, near=None: points)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert aligned.frames.shape == (length, ALIGNED_SIZE, ALIGNED_SIZE)
    raw_growth = 80 * 640 * 480
    assert peaks[1] - peaks[0] < 80 * ALIGNED_SIZE**2 * 2 < raw_growth / 5
