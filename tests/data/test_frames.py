import numpy as np
import pytest

from mol.data.frames import FrameError, frame_number, list_frames, read_frames

from fakes import face_frames, write_frames, write_video


def test_frames_sort_numerically_and_strays_are_ignored(tmp_path):
    write_frames(tmp_path, face_frames(3), pattern="img{}.jpg", first=9)  # img9, img10, img11
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "cover.jpg").write_bytes(b"x")  # an image without a number
    assert [p.name for p in list_frames(tmp_path)] == ["img9.jpg", "img10.jpg", "img11.jpg"]
    assert frame_number(tmp_path / "006_05562.jpg") == 5562
    assert frame_number(tmp_path / "reg_img46.jpg") == 46


def test_unreadable_frame_names_the_file(tmp_path):
    write_frames(tmp_path, face_frames(2))
    (tmp_path / "img3.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FrameError, match=r"1 of 3 images unreadable \(img3\.jpg\)"):
        read_frames(tmp_path)


def test_a_few_unreadable_frames_borrow_their_nearest_neighbour(tmp_path):
    from mol.data.frames import FrameSource

    write_frames(tmp_path, face_frames(20))  # img1..img20
    (tmp_path / "img6.jpg").write_bytes(b"not a jpeg")
    source = FrameSource(tmp_path)
    frames = list(source)
    assert len(frames) == len(source) == 20 and source.unreadable == [5]
    np.testing.assert_array_equal(frames[5], frames[4])  # img5, the nearer neighbour (ties go left)
    for n in (7, 8):  # 3 of 20 is past the 10 % tolerated
        (tmp_path / f"img{n}.jpg").write_bytes(b"x")
    with pytest.raises(FrameError, match=r"3 of 20 images unreadable \(img6\.jpg, img7\.jpg, img8\.jpg\)"):
        FrameSource(tmp_path)


def test_video_file_is_read_like_a_frame_folder(tmp_path):
    frames = face_frames(5)
    video = write_video(tmp_path / "clip.avi", frames)
    decoded = read_frames(video)
    assert len(decoded) == 5 and decoded[0].shape == frames[0].shape and decoded[0].dtype == np.uint8
    assert np.abs(decoded[2].astype(int) - frames[2].astype(int)).mean() < 8  # lossy codec


def test_corrupt_video_and_missing_folder(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(FrameError, match=r"broken\.mp4"):
        read_frames(bad)
    with pytest.raises(FrameError, match="not found"):
        list_frames(tmp_path / "absent")
