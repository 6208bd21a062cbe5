import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import tests/parity.py
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # and the benchmarks' helpers (shortcuts)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_synthetic_cache(tmp_path_factory):
    """3 synthetic subjects × 5 classes × 1 clip, prepared with exact flow: LOSO in seconds."""
    from mol.data.prepare import prepare
    from mol.data.synthetic import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, SynthConfig(subjects=3, clips_per_class=1, size=160, duration=(0.12, 0.13)), progress=False)
    out = root.parent / "tiny.h5"
    prepare("casme2", root, out, flow="exact", progress=False)
    return out
