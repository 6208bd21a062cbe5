"""The pre-training stream: exact targets, curriculum, determinism."""

from dataclasses import replace

import numpy as np
import pytest

from mol.constants import CROP, FRAME_PAIRS
from mol.data.synthetic import sample_field
from mol.data.synthetic.photos import FACE_PHOTOS, POOL_PHOTOS
from mol.data.synthetic.stream import (
    BENCHMARK_AMPLITUDE,
    LARGE_AMPLITUDE,
    STREAM_AUS,
    PhotoFaces,
    StreamConfig,
    amplitude_range,
    batch_stream,
    make_batch,
    make_clip,
)
from mol.errors import ConfigError

NO_PHOTOS = PhotoFaces(())


def test_clip_shapes_and_types():
    clip = make_clip(StreamConfig(), NO_PHOTOS, (1.0, 2.0), 3, np.random.default_rng(0))
    assert clip["clip"].shape == (8, CROP, CROP) and clip["clip"].dtype == np.uint8
    assert clip["aus"].shape == (len(STREAM_AUS),)
    assert set(np.unique(clip["aus"])) <= {0.0, 1.0}
    assert clip["flow"].shape == (2, CROP, CROP)
    assert clip["landmarks"].shape == (8, 68, 2)


@pytest.mark.parametrize("pair", [0, 3, 6])
def test_flow_carries_each_landmark_to_its_next_position(pair):
    """The exact flow of a frame pair, sampled at a landmark of the first frame, lands on the same
    landmark in the second frame: flow and landmarks come from one motion field."""
    rng = np.random.default_rng(pair)
    clip = make_clip(StreamConfig(null_share=0.0), NO_PHOTOS, (4.0, 8.0), pair, rng)
    start, end = clip["landmarks"][pair], clip["landmarks"][pair + 1]
    inside = ((start > 1) & (start < CROP - 2)).all(1)
    moved = start[inside] + sample_field(clip["flow"].transpose(1, 2, 0), start[inside])
    np.testing.assert_allclose(moved, end[inside], atol=0.02)


def test_the_target_names_the_action_units_that_moved():
    rng = np.random.default_rng(3)
    moved = still = 0
    for _ in range(12):
        clip = make_clip(StreamConfig(null_share=0.5, max_aus=2), NO_PHOTOS, (3.0, 3.0), 0, rng)
        frames = clip["clip"].astype(float)
        change = np.abs(frames[1:] - frames[0]).mean()
        if clip["aus"].sum() == 0:
            still += 1
        else:
            moved += 1
            assert change > 0.05
    assert moved and still  # null clips (no action unit) occur and are labelled all-zero


def test_head_motion_is_as_large_as_the_action_units_and_its_direction_is_the_target():
    config = StreamConfig(head_motion=True, null_share=1.0)  # no action unit: the head alone moves
    assert config.targets[: len(STREAM_AUS)] == STREAM_AUS and len(config.targets) == len(STREAM_AUS) + 2
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(8):
        clip = make_clip(config, NO_PHOTOS, (2.0, 2.5), 0, rng)
        travel = (clip["landmarks"][-1] - clip["landmarks"][0]).mean(0)  # the whole face, (x, y) px
        assert np.all(np.abs(travel) > 1.5)  # about the clip's amplitude (a small wobble rides along)
        np.testing.assert_array_equal(clip["aus"][len(STREAM_AUS) :], (travel > 0).astype(np.float32))
        seen.add(tuple(clip["aus"][len(STREAM_AUS) :]))
    assert len(seen) >= 3  # right and left, down and up all occur
    # the head starts off-centre by a random amount, so the last frame's position alone does not
    # tell the direction: the start's spread exceeds the travel
    starts = [make_clip(config, NO_PHOTOS, (2.0, 2.5), 0, rng)["landmarks"][0].mean(0) for _ in range(12)]
    assert np.std(starts, axis=0).min() > 1.0
    plain = make_clip(StreamConfig(), NO_PHOTOS, (2.0, 2.5), 0, np.random.default_rng(5))
    assert plain["aus"].shape == (len(STREAM_AUS),)  # without it: the action units alone


def test_plain_motion_moves_the_head_alone_without_photometry():
    """A plain clip is the head's translation and nothing else: every frame is the first one
    shifted by the landmarks' own displacement, with no noise, action unit or blink on top."""
    config = StreamConfig(identities="textures", head_motion=True, plain_motion=True, null_share=0.0)
    rng = np.random.default_rng(3)
    for _ in range(4):
        clip = make_clip(config, NO_PHOTOS, (4.0, 8.0), 0, rng)
        assert not clip["aus"][: len(STREAM_AUS)].any()  # no action unit, even with null_share 0
        moves = clip["landmarks"] - clip["landmarks"][:1]
        assert np.abs(moves - moves.mean(1, keepdims=True)).max() < 1e-3  # one translation, no local motion
    from mol.data.synthetic.stream import Identity, draw_identity

    face = draw_identity(StreamConfig(), NO_PHOTOS, np.random.default_rng(4))
    flat = Identity(np.full_like(face.image, 128.0), face.landmarks)  # nothing for motion to show
    clip = make_clip(config, NO_PHOTOS, (4.0, 8.0), 0, np.random.default_rng(4), flat)["clip"]
    assert (clip == 128).all()  # a flat face stays flat: no contrast change, flicker, noise or JPEG
    noisy = make_clip(StreamConfig(head_motion=True), NO_PHOTOS, (4.0, 8.0), 0, np.random.default_rng(4), flat)
    assert (noisy["clip"] != 128).any()  # which the usual stream adds
    with pytest.raises(ConfigError, match="plain_motion needs head_motion"):
        StreamConfig(plain_motion=True)


def test_sharp_textures_show_a_shift_more_than_smooth_ones():
    from mol.data.synthetic.stream import smooth_texture

    def shift_signal(sharp: bool) -> float:  # mean |T(x + 1) - T(x)| over many textures
        rng = np.random.default_rng(6)
        return float(np.mean([np.abs(np.diff(smooth_texture(96, rng, sharp), axis=1)).mean() for _ in range(20)]))

    assert shift_signal(True) > 2 * shift_signal(False)

    def stream_signal(sharp: bool) -> float:  # the same through the stream's clips
        config = StreamConfig(identities="textures", sharp_textures=sharp)
        clips = [make_clip(config, NO_PHOTOS, (1.0, 2.0), 0, np.random.default_rng(i))["clip"][0] for i in range(6)]
        return float(np.mean([np.abs(np.diff(c.astype(float), axis=1)).mean() for c in clips]))

    assert stream_signal(True) > 1.5 * stream_signal(False)


def test_texture_share_blends_faces_with_random_textures():
    from mol.data.synthetic.stream import draw_identity

    plain = draw_identity(StreamConfig(), NO_PHOTOS, np.random.default_rng(4))
    textured = draw_identity(StreamConfig(texture_share=1.0), NO_PHOTOS, np.random.default_rng(4))
    np.testing.assert_array_equal(plain.landmarks, textured.landmarks)  # the same face underneath
    assert np.abs(textured.image - plain.image).mean() > 10  # at least 0.3 of the texture mixed in
    assert textured.image.min() >= 0 and textured.image.max() <= 255
    with pytest.raises(ConfigError, match="texture_share"):
        StreamConfig(texture_share=1.5)


def test_texture_identities_show_no_face_but_move_as_one():
    from mol.data.synthetic.stream import draw_identity

    face = draw_identity(StreamConfig(), NO_PHOTOS, np.random.default_rng(4))
    texture = draw_identity(StreamConfig(identities="textures"), NO_PHOTOS, np.random.default_rng(4))
    np.testing.assert_array_equal(face.landmarks, texture.landmarks)  # motion placed by the same face
    correlation = np.corrcoef(face.image.ravel(), texture.image.ravel())[0, 1]
    assert abs(correlation) < 0.2  # nothing of the face is left to see
    other = draw_identity(StreamConfig(identities="textures"), NO_PHOTOS, np.random.default_rng(5))
    assert np.abs(other.image - texture.image).mean() > 10  # a fresh texture each draw
    with pytest.raises(ConfigError, match="no face to blend"):
        StreamConfig(identities="textures", texture_share=0.5)  # would be silently ignored


def test_morphed_faces_lie_between_their_two_faces():
    from mol.data.synthetic.procedural import random_face
    from mol.data.synthetic.stream import morph_faces

    first, second = random_face(np.random.default_rng(1)), random_face(np.random.default_rng(2))
    for weight in (0.0, 1.0):
        image, landmarks = morph_faces(first, second, weight)
        end = second if weight else first
        np.testing.assert_allclose(landmarks, end[1], atol=1e-4)
        np.testing.assert_allclose(image, end[0], atol=1e-2)
    image, landmarks = morph_faces(first, second, 0.3)
    np.testing.assert_allclose(landmarks, 0.7 * first[1] + 0.3 * second[1], atol=1e-4)
    assert min(np.abs(image - first[0]).mean(), np.abs(image - second[0]).mean()) > 3  # a third face


def test_morph_share_morphs_the_pool_photographs(tmp_path):
    from mol.data.synthetic.procedural import random_face
    from mol.data.synthetic.stream import draw_identity

    image, landmarks = random_face(np.random.default_rng(9))  # stands in for a framed photograph
    np.savez_compressed(tmp_path / "hopper.npz", image=image, landmarks=landmarks)
    photos = PhotoFaces(("hopper",), tmp_path)
    config = StreamConfig(identities="photos", people=("hopper",))
    plain = [draw_identity(config, photos, np.random.default_rng(s)) for s in range(4)]
    morphed = [draw_identity(replace(config, morph_share=1.0), photos, np.random.default_rng(s)) for s in range(4)]
    # the same variations (pose, lighting) of another face: the landmarks move, the images differ
    for a, b in zip(plain, morphed, strict=True):
        assert np.abs(a.landmarks - b.landmarks).mean() > 0.5
        assert np.abs(a.image - b.image).mean() > 5
    assert StreamConfig(identities="mixed", people=("hopper",), morph_share=0.5).morph_share == 0.5
    with pytest.raises(ConfigError, match="morph_share"):
        StreamConfig(identities="mixed", people=("hopper",), morph_share=1.5)
    with pytest.raises(ConfigError, match="morph_share morphs photographs"):
        StreamConfig(morph_share=0.5)


def test_photo_share_sets_how_many_clips_show_a_photograph(tmp_path):
    from mol.data.synthetic.procedural import random_face
    from mol.data.synthetic.stream import draw_identity

    face, landmarks = random_face(np.random.default_rng(9))
    flat = np.full_like(face, 128.0)  # a featureless "photograph": no edges at all
    np.savez_compressed(tmp_path / "hopper.npz", image=flat, landmarks=landmarks)
    photos = PhotoFaces(("hopper",), tmp_path)

    def photo_fraction(share: float, draws: int = 40) -> float:
        config = StreamConfig(identities="mixed", people=("hopper",), photo_share=share)
        rng = np.random.default_rng(0)
        edges = [np.abs(np.diff(draw_identity(config, photos, rng).image, axis=1)).max() for _ in range(draws)]
        return float(np.mean(np.array(edges) < 5))

    assert photo_fraction(0.0) == 0.0 and photo_fraction(1.0) == 1.0
    assert 0.6 <= photo_fraction(0.75) <= 0.9
    with pytest.raises(ConfigError, match="photo_share"):
        StreamConfig(identities="mixed", people=("hopper",), photo_share=1.5)
    with pytest.raises(ConfigError, match="needs identities 'mixed'"):
        StreamConfig(identities="photos", people=("hopper",), photo_share=0.75)


def test_curriculum_moves_from_large_to_benchmark_amplitudes():
    assert amplitude_range(0, 100) == LARGE_AMPLITUDE
    assert amplitude_range(99, 100) == LARGE_AMPLITUDE
    low, high = amplitude_range(150, 100)
    assert BENCHMARK_AMPLITUDE[0] < low < LARGE_AMPLITUDE[0] and BENCHMARK_AMPLITUDE[1] < high < LARGE_AMPLITUDE[1]
    assert amplitude_range(200, 100) == pytest.approx(BENCHMARK_AMPLITUDE)
    assert amplitude_range(10_000, 100) == pytest.approx(BENCHMARK_AMPLITUDE)
    assert amplitude_range(0, 0) == BENCHMARK_AMPLITUDE


def test_stream_is_a_function_of_seed_and_step_for_any_worker_split():
    config = StreamConfig()
    single = batch_stream(config, NO_PHOTOS, 2, seed=4, start_step=5, curriculum_steps=10)
    expected = [next(single) for _ in range(4)]
    workers = [batch_stream(config, NO_PHOTOS, 2, 4, 5, 10, stride=2, offset=w) for w in (0, 1)]
    split = [next(workers[0]), next(workers[1]), next(workers[0]), next(workers[1])]
    for a, b in zip(expected, split, strict=True):
        assert int(a["step"]) == int(b["step"])
        np.testing.assert_array_equal(a["clip"], b["clip"])
    assert [int(b["step"]) for b in expected] == [5, 6, 7, 8]
    assert not np.array_equal(expected[0]["clip"], expected[1]["clip"])  # no clip drawn twice


def test_batch_shares_one_pair():
    batch = make_batch(StreamConfig(), NO_PHOTOS, 3, BENCHMARK_AMPLITUDE, np.random.default_rng(0))
    assert batch["clip"].shape == (3, 8, CROP, CROP)
    assert 0 <= int(batch["pair"]) < FRAME_PAIRS


def test_pool_photographs_join_the_stream_but_no_synthetic_dataset():
    assert StreamConfig(identities="mixed", people=("hopper", "cranston")).people == ("hopper", "cranston")
    assert "cranston" in POOL_PHOTOS and "cranston" not in FACE_PHOTOS


def test_bad_stream_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown face photo"):
        StreamConfig(people=("nobody",))
    with pytest.raises(ConfigError, match="needs at least one photograph"):
        StreamConfig(identities="photos")
    with pytest.raises(ConfigError, match="identities"):
        StreamConfig(identities="cartoons")
