"""Onset and apex frames from a sheet's numbers, and the onset-to-apex clip's frames."""

from mol.data.apex import onset_apex_frames, onset_apex_pairs, onset_apex_span


def test_onset_apex_span_from_sheet_numbers_and_fallbacks():
    assert onset_apex_span(40, 46, 50, 59, 80) == (4, 13, "annotated apex")
    assert onset_apex_span(40, 1, 11, None, 31) == (10, 20, "middle of the annotated interval")
    assert onset_apex_span(40, 1, -1, -1, -1) == (0, 20, "middle of the clip")
    assert onset_apex_span(40, 1, 5, 100, None) == (4, 39, "annotated apex")  # clamped to the last frame


def test_onset_apex_frames_are_evenly_spaced_from_onset_to_apex():
    assert onset_apex_frames(10, 24) == [10, 12, 14, 16, 18, 20, 22, 24]
    assert onset_apex_frames(3, 13) == [3, 4, 6, 7, 9, 10, 12, 13]  # 10/7 per step, rounded
    short = onset_apex_frames(5, 8)  # shorter than a clip: frames repeat, in order
    assert short[0] == 5 and short[-1] == 8 and len(short) == 8 and short == sorted(short)
    assert onset_apex_frames(6, 6) == [6] * 8
    pairs = onset_apex_pairs(5, 8)
    assert len(pairs) == 7 and all(b == a or b == a + 1 for a, b in pairs) and pairs[0][0] == 5 and pairs[-1][1] == 8
