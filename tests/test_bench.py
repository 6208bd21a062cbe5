"""`mol bench` times the trainer's own training step, not a copy of it."""

import pytest

import mol.train.step as step
from mol.bench import run_bench
from mol.train.config import load_config
from mol.train.run import train_run


@pytest.fixture
def counted_step(monkeypatch):
    calls = []
    real = step.optimisation_step

    def counting(*args, **kwargs):
        calls.append(kwargs.get("flow_pairs", args[6] if len(args) > 6 else None))
        return real(*args, **kwargs)

    monkeypatch.setattr(step, "optimisation_step", counting)
    return calls


def test_bench_and_the_trainer_run_the_same_step(counted_step, tiny_synthetic_cache, tmp_path):
    report = run_bench(batch=1, repeats=1, warmup=0, flow_pairs=2)
    bench_steps = len(counted_step)
    assert bench_steps >= 1 and report.train_step.ms_median > 0
    assert all(p is not None and len(p) == 2 for p in counted_step)  # the bench's option reaches the step
    config = load_config("synthetic-demo", ["steps=2", "batch_size=2", "init=scratch", "motion_input=raw"])
    train_run([str(tiny_synthetic_cache)], tmp_path / "run", config, folds=["0"], progress=False)
    assert len(counted_step) == bench_steps + 2  # the fold's two steps went through it too
