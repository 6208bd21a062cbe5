import math

import numpy as np
import pytest

from mol.infer.spot import REGIONS, Signals, SpotSettings, curvature, spot


def bump(n, onset, offset, amplitude):
    t = np.arange(n, dtype=np.float64)
    x = np.clip((t - onset) / max(offset - onset, 1), 0, 1)
    return amplitude * (0.5 - 0.5 * np.cos(2 * np.pi * x)) * (t >= onset) * (t <= offset)


def make_signals(n=900, events=(), lids=(), fps=30.0, seed=0):
    """Region positions: slow drift + small noise + ``events`` (region, onset, offset, px)."""
    rng = np.random.default_rng(seed)
    r = len(REGIONS) + 1
    positions = np.cumsum(rng.normal(0, 0.004, (n, r, 2)), axis=0)  # below the 0.2-px motion floor
    positions += np.linspace(0, 2.0, n)[:, None, None]  # a slow drift: not an expression
    for region, onset, offset, amplitude in events:
        positions[:, region, 1] -= bump(n, onset, offset, amplitude)
    for onset, offset, amplitude in lids:
        positions[:, -1, 1] += bump(n, onset, offset, amplitude)
    return Signals(
        frames=np.arange(n),
        positions=positions.astype(np.float32),
        difference=np.zeros(n, np.float32),
        face_found=np.ones(n, bool),
        landmarks=np.zeros((n, 68, 2), np.float32),
        fps=fps,
        num_frames=n,
    )


def test_curvature_ignores_drift_and_sees_a_passing_motion():
    x = np.zeros((100, 1, 2))
    x[:, 0, 0] = np.linspace(0, 10, 100)  # steady drift
    assert np.allclose(curvature(x, 5)[5:-5], 0.0)
    x[:, 0, 1] = bump(100, 40, 52, 2.0)
    c = curvature(x, 10)[:, 0]
    assert abs(int(np.argmax(c)) - 46) <= 1 and c.max() == pytest.approx(2.0, rel=0.05)


def test_a_short_motion_is_a_micro_expression_with_its_bounds():
    signals = make_signals(events=[(0, 300, 311, 1.5)])
    (found,) = spot(signals)
    assert found.kind == "micro"
    assert found.onset <= found.apex <= found.offset
    truth_len = 12
    overlap = min(found.offset, 311) - max(found.onset, 300) + 1
    assert overlap / (found.length + truth_len - overlap) >= 0.5


def test_a_long_motion_is_a_macro_expression():
    signals = make_signals(events=[(2, 300, 360, 4.0)])
    (found,) = spot(signals)
    assert found.kind == "macro"
    assert found.onset < 330 < found.offset


def test_nothing_is_found_in_noise_and_drift():
    assert spot(make_signals(seed=3)) == []


def test_a_blink_is_vetoed_unless_the_veto_is_off():
    motion = [(0, 300, 306, 0.6)]  # brows pulled along by the lids
    blink = [(300, 306, 3.0)]
    assert spot(make_signals(events=motion, lids=blink)) == []
    kept = spot(make_signals(events=motion, lids=blink), SpotSettings(blink_ratio=math.inf))
    assert len(kept) == 1


def test_signals_round_trip(tmp_path):
    signals = make_signals(n=50)
    signals.save(tmp_path / "s.npz")
    back = Signals.load(tmp_path / "s.npz")
    assert np.array_equal(back.positions, signals.positions) and back.fps == 30.0 and back.num_frames == 50


def test_spot_command_on_a_dataset_and_on_one_video(tmp_path, capsys):
    import json

    from mol.cli import main
    from mol.data.long_readers import read_long_dataset
    from mol.data.synthetic.long_dataset import generate_long_dataset
    from mol.data.synthetic.longvideo import LongConfig

    config = LongConfig(fps=30, seconds=8, micro_per_minute=15, macro_per_minute=0, talking_per_minute=0)
    generate_long_dataset(tmp_path / "data", "casme2-long", ("obama",), config=config, progress=False, seed=2)
    out = tmp_path / "spot"
    assert main(["spot", str(tmp_path / "data"), "--dataset", "casme2-long", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "spotting_metrics.json").read_text())
    assert metrics["total"]["micro"]["tp"] + metrics["total"]["micro"]["fn"] == 2  # both planted ones counted
    assert (out / "timeline.png").is_file() and list((out / "signals").glob("*.npz"))
    (record,) = read_long_dataset("casme2-long", tmp_path / "data").records
    single = tmp_path / "one"
    assert main(["spot", str(record.source), "--fps", "30", "--out", str(single), "--quiet"]) == 0
    assert "found; wrote" in capsys.readouterr().out
    rows = (single / "intervals.csv").read_text().splitlines()
    assert rows[0].startswith("video,kind,onset") and len(rows) - 1 == sum(
        v["tp"] + v["fp"] for k, v in metrics["total"].items() if k != "overall"
    )
    assert main(["spot", str(record.source), "--tune", "--out", str(single)]) == 2  # tuning needs annotations
    assert main(["spot", str(record.source), "--out", str(tmp_path / "nofps")]) == 2  # a folder needs --fps
