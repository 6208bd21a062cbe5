"""The synthetic benchmark: a named, versioned pair of synthetic datasets with different people.

``dev`` is where every setting of this project is chosen; ``test`` is where results are reported,
once. The two parts are built from disjoint photographs, so no person of ``test`` is ever seen
while choosing settings. Same version and scale, same bytes: ``benchmark.json`` records a SHA-256
of each part's files so a copy can be checked.

Both parts follow CASME II: 200 fps, JPEG frames, the 5 classes of casme2-5, apex motions of
0.5-2.5 px at the aligned 128-px face scale (the generator's default, the size of real
micro-movements after alignment), clips of 0.12-0.32 s, and per-subject pose, lighting, contrast,
noise and optical blur.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

from mol.constants import BENCHMARK_SCALES
from mol.data.synthetic.dataset import generate_dataset, synth_config_dict
from mol.data.synthetic.video import SynthConfig
from mol.errors import ConfigError
from mol.files import write_text_atomically

BENCHMARK_NAME = "mol-synthetic"
BENCHMARK_VERSION = 1
BENCHMARK_FILE = "benchmark.json"
PARTS: dict[str, dict] = {
    "dev": {"people": ("hopper", "paul"), "seed": 1001},
    "test": {"people": ("collins", "biden", "obama", "kanade"), "seed": 2002},
}
# clips per class and person: small (dev 30 videos, test 40) for CPUs and CI; large (dev 150,
# test 240, about CASME II's 255 videos) for GPU runs
SCALES: dict[str, dict[str, int]] = dict(
    zip(BENCHMARK_SCALES, ({"dev": 3, "test": 2}, {"dev": 15, "test": 12}), strict=True)
)
PART_DEFAULTS = SynthConfig(scheme="casme2-5", jpeg_quality=90, blur=(0.0, 1.0))


def part_config(part: str, scale: str = "small", **overrides) -> SynthConfig:
    """The generator settings of one part of the benchmark (``overrides`` only for tests)."""
    if part not in PARTS:
        raise ConfigError(f"unknown benchmark part {part!r}; choose one of {sorted(PARTS)}")
    if scale not in SCALES:
        raise ConfigError(f"unknown benchmark scale {scale!r}; choose one of {sorted(SCALES)}")
    people = PARTS[part]["people"]
    config = replace(
        PART_DEFAULTS,
        people=people,
        subjects=len(people),
        clips_per_class=SCALES[scale][part],
        seed=PARTS[part]["seed"],
    )
    return replace(config, **overrides)


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_benchmark(out: str | Path, scale: str = "small", progress: bool = True, **overrides) -> dict:
    """Write OUT/dev, OUT/test and OUT/benchmark.json. Rerunning keeps a part whose files still
    match the digest recorded in benchmark.json for the same version, scale and overrides."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / BENCHMARK_FILE
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest = {"name": BENCHMARK_NAME, "version": BENCHMARK_VERSION, "scale": scale, "parts": {}}
    if overrides:
        manifest["overrides"] = {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}
    same_settings = {k: v for k, v in old.items() if k != "parts"} == {
        k: v for k, v in manifest.items() if k != "parts"
    }
    for part in PARTS:
        config = part_config(part, scale, **overrides)
        root = out / part
        recorded = old.get("parts", {}).get(part, {}) if same_settings else {}
        if recorded.get("sha256") and root.is_dir() and tree_digest(root) == recorded["sha256"]:
            manifest["parts"][part] = recorded
            continue
        shutil.rmtree(root, ignore_errors=True)  # no frame of another version or scale may stay behind
        summary = generate_dataset(root, config, progress=progress)
        manifest["parts"][part] = {
            "people": list(config.people),
            "videos": summary["videos"],
            "frames": summary["frames"],
            "config": synth_config_dict(config),
            "sha256": tree_digest(root),
        }
    write_text_atomically(manifest_path, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest
