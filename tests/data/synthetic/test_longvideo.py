import itertools

import numpy as np
import pytest

from mol.constants import MICRO_MAX_SECONDS
from mol.data.long_readers import expression_kind, read_long_dataset
from mol.data.synthetic.long_dataset import generate_long_dataset, read_long_ground_truth
from mol.data.synthetic.longvideo import LongConfig, plan_events


def test_planned_events_keep_their_kinds_apart():
    config = LongConfig(fps=200, seconds=60, micro_per_minute=8, macro_per_minute=6, talking_per_minute=4)
    events = plan_events(config, np.random.default_rng(0))
    expressions = [e for e in events if e.kind in ("micro", "macro", "talking", "shift")]
    for a, b in itertools.pairwise(expressions):
        assert a.offset < b.onset  # expressions, talking and head shifts never overlap
    micro = [e for e in events if e.kind == "micro"]
    assert len(micro) == 8
    assert all((e.offset - e.onset + 1) / config.fps <= MICRO_MAX_SECONDS for e in micro)
    assert all((e.offset - e.onset + 1) / config.fps > MICRO_MAX_SECONDS for e in events if e.kind == "macro")
    assert all(e.onset <= e.apex <= e.offset and e.label for e in micro)


@pytest.fixture(scope="module")
def tiny_long(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    config = LongConfig(fps=30, seconds=6, micro_per_minute=20, macro_per_minute=10, talking_per_minute=0)
    generate_long_dataset(root / "casme", "casme2-long", ("hopper",), config=config, progress=False)
    samm = LongConfig(fps=200, seconds=1.5, micro_per_minute=40, macro_per_minute=0, blinks_per_minute=0)
    generate_long_dataset(root / "samm", "samm-long", ("paul",), config=samm, progress=False)
    return root


@pytest.mark.parametrize("layout, folder", [("casme2-long", "casme"), ("samm-long", "samm")])
def test_readers_give_back_the_generated_intervals(tiny_long, layout, folder):
    result = read_long_dataset(layout, tiny_long / folder)
    truth = read_long_ground_truth(tiny_long / folder)
    assert not result.skipped
    (record,) = result.records
    (video,) = truth["videos"].values()
    planted = [
        (e["kind"], e["onset"], e["apex"], e["offset"]) for e in video["events"] if e["kind"] in ("micro", "macro")
    ]
    assert planted, "the tiny recording must hold expressions"
    assert [(i.kind, i.onset, i.apex, i.offset) for i in record.intervals] == planted
    assert record.fps == video["fps"]
    landmarks = np.load(tiny_long / folder / "landmarks" / f"{record.video_id}.npy")
    assert landmarks.shape == (video["num_frames"], 68, 2)


def test_the_same_seed_writes_the_same_frames(tiny_long, tmp_path):
    config = LongConfig(fps=200, seconds=1.5, micro_per_minute=40, macro_per_minute=0, blinks_per_minute=0)
    generate_long_dataset(tmp_path, "samm-long", ("paul",), config=config, progress=False)
    first = sorted((tiny_long / "samm" / "SAMM_longvideos" / "001_1").iterdir())[150].read_bytes()
    again = sorted((tmp_path / "SAMM_longvideos" / "001_1").iterdir())[150].read_bytes()
    assert first == again


def test_sheet_rows_that_cannot_be_placed_are_reported(tiny_long, tmp_path):
    import pandas as pd

    sheet = tiny_long / "casme" / "CAS(ME)^2code_final.xlsx"
    table = pd.read_excel(sheet, header=None)
    table.loc[len(table)] = [1, "nosuchvideo_1", 9, 1, 2, 3, "4", "others", "micro-expression"]
    table.loc[len(table)] = [1, table.iloc[0, 1], 9, 5, 6, 99999, "4", "others", "micro-expression"]
    table.loc[len(table)] = [1, table.iloc[0, 1], 9, 5, 6, 7, "4", "others", "blink"]
    edited = tmp_path / "edited.xlsx"
    table.to_excel(edited, header=False, index=False)
    result = read_long_dataset("casme2-long", tiny_long / "casme", sheet=edited)
    reasons = " | ".join(s.reason for s in result.skipped)
    assert len(result.skipped) == 3
    assert "ending with 'nosuchvideo'" in reasons and "outside the video's files" in reasons
    assert "neither micro nor macro" in reasons


def test_expression_kinds_as_the_sheets_write_them():
    assert expression_kind("micro-expression") == "micro"
    assert expression_kind("Micro - 1/2") == "micro"
    assert expression_kind("Macro") == "macro"
    assert expression_kind("blink") is None


def test_talking_opens_the_mouth_at_its_frequency_in_hertz():
    from mol.data.synthetic.longvideo import Event, event_coefficients

    fps, hz = 200.0, 4.0
    talking = Event("talking", 0, 200, 400, aus=["AU25", "AU26"], amplitude=2.0, frequency=hz)
    frames = np.arange(0, 401)
    c = event_coefficients(talking, frames, to_aligned=1.0, fps=fps)["AU25"]
    middle = c[100:300]  # one second inside the bout, away from its fade-in and fade-out
    peaks = np.flatnonzero((middle[1:-1] > middle[:-2]) & (middle[1:-1] >= middle[2:]))
    assert len(peaks) == hz  # 4 openings a second, not 4 a frame
