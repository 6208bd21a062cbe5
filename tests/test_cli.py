"""The `mol` command line, run in-process and as a real console script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mol.cli import main
from mol.model import load_checkpoint

from parity import official_state_dict


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for command in ("bench", "import-official"):
        assert command in text


def test_import_official_converts_a_reference_checkpoint(tmp_path, capsys):
    src, dst = tmp_path / "ref.pth", tmp_path / "mol.safetensors"
    torch.save(official_state_dict(3), src)
    assert main(["import-official", str(src), str(dst), "--classes", "3"]) == 0
    assert "3 classes" in capsys.readouterr().out
    model = load_checkpoint(dst)
    assert model.num_classes == 3
    torch.testing.assert_close(model.mer_head.fc2.weight, official_state_dict(3)["mer_3dcnn.fc2.weight"])


def test_import_official_errors_are_one_line(tmp_path, capsys):
    src = tmp_path / "corrupt.pth"
    src.write_bytes(b"garbage")
    assert main(["import-official", str(src), str(tmp_path / "out.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mol import-official: error:") and "corrupt.pth" in err and "\n" not in err
    assert not (tmp_path / "out.safetensors").exists()


def test_bench_json_report(capsys):
    assert main(["bench", "--batch", "1", "--repeats", "1", "--warmup", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch"] == 1 and report["dtype"] == "float32"
    for phase in ("train_step", "eval_forward"):
        assert report[phase]["ms_median"] > 0 and report[phase]["peak_memory_mib"] > 0
    assert report["parameters"] == sum(p.numel() for p in __import__("mol").MOL().parameters())
    assert report["versions"]["torch"] == torch.__version__


def test_bench_channels_last_reports_its_layout(capsys):
    args = ["bench", "--batch", "1", "--repeats", "1", "--warmup", "0", "--channels-last", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["channels_last"] is True and "compile off" in report["compile"]


def test_bench_data_times_the_training_loader(tiny_synthetic_cache, capsys):
    args = ["bench", "--data", str(tiny_synthetic_cache), "--batch", "4", "--batches", "3", "--json"]
    assert main([*args, "--workers", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips_in_cache"] == 45 and report["workers"] == 1 and report["clips_per_s"] > 0
    # uint8 frames + float16 flow + float32 landmarks, and the float32 model inputs
    assert report["bytes_per_clip_read"] == 8 * 128 * 128 + 7 * 128 * 128 * 2 * 2 + 7 * 136 * 4
    assert report["bytes_per_clip_model"] == (8 * 128 * 128 + 7 * 128 * 128 * 2 + 7 * 136) * 4
    assert report["peak_rss_mib_workers"] > 0
    assert main(["bench", "--data", str(tiny_synthetic_cache) + ".missing"]) == 2
    assert "not found" in capsys.readouterr().err


def test_bench_rejects_bad_arguments(capsys):
    assert main(["bench", "--batch", "0"]) == 2
    assert "batch" in capsys.readouterr().err


MOL_SCRIPT = Path(sys.executable).parent / "mol"


@pytest.mark.skipif(not MOL_SCRIPT.exists(), reason="console script not installed next to this interpreter")
def test_console_script_runs():
    result = subprocess.run([str(MOL_SCRIPT), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "import-official" in result.stdout
    result = subprocess.run([sys.executable, "-m", "mol", "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("mol ")


def test_help_starts_without_torch():
    import subprocess
    import sys

    code = "import sys, mol.cli; mol.cli.build_parser(); print('torch' in sys.modules, 'resource' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    from mol import MOL  # the model API still imports on first use

    assert MOL.__name__ == "MOL"


def test_user_errors_are_one_line_bugs_keep_their_traceback(monkeypatch, capsys):
    import mol.cli as cli
    from mol.cli import train_commands
    from mol.errors import CacheError

    def raising(error):
        def run(_args):
            raise error

        return run

    monkeypatch.setattr(train_commands, "run_bench", raising(CacheError("x.h5: truncated; rerun `mol prepare`")))
    assert cli.main(["bench"]) == 2
    assert capsys.readouterr().err.strip() == "mol bench: error: x.h5: truncated; rerun `mol prepare`"
    with pytest.raises(CacheError):
        cli.main(["--debug", "bench"])
    monkeypatch.setattr(train_commands, "run_bench", raising(FileNotFoundError(2, "No such file", "clip.mp4")))
    assert cli.main(["bench"]) == 2 and "clip.mp4" in capsys.readouterr().err
    monkeypatch.setattr(train_commands, "run_bench", raising(KeyError("a bug")))
    with pytest.raises(KeyError):
        cli.main(["bench"])


@pytest.mark.parametrize(
    "argv",
    [
        ["synth", "o", "--subjects", "0"],
        ["synth", "o", "--size", "0"],
        ["synth", "o", "--fps", "0"],
        ["synth", "o", "--fps", "-5"],
        ["synth", "o", "--max-blur", "-1"],
        ["synth", "o", "--jpeg-quality", "200"],
        ["synth", "o", "--min-amplitude", "-1"],
        ["prepare", "--dataset", "casme2", "--root", "r", "--out", "o.h5", "--workers", "0"],
        ["prepare", "--dataset", "casme2", "--root", "r", "--out", "o.h5", "--workers", "-1"],
        ["spot", "v.avi", "--fps", "0"],
        ["predict", "v.avi", "--checkpoint", "c", "--fps", "-1"],
    ],
)
def test_numeric_options_are_checked_when_parsing_with_their_name(argv, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert argv[-2] in err and "Traceback" not in err
    assert not Path("o").exists()


def test_synth_amplitudes_in_the_wrong_order_leave_nothing_behind(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["synth", str(out), "--min-amplitude", "3", "--max-amplitude", "1"]) == 2
    assert "--min-amplitude 3.0 exceeds --max-amplitude 1.0" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "option",
    [["--people", "nobody"], ["--scheme", "bogus"], ["--face-image", "NOT_AN_IMAGE"]],
)
def test_synth_refuses_a_bad_config_before_writing_anything(option, tmp_path, capsys):
    if option[1] == "NOT_AN_IMAGE":
        option = [option[0], str(tmp_path / "not-an-image.png")]
        Path(option[1]).write_text("text")
    out = tmp_path / "s"
    assert main(["synth", str(out), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mol synth: error: ") and "video/s" not in err  # not drawn inside a progress bar
    assert not out.exists()  # no folder, no .ground_truth.h5.tmp


def test_train_with_a_fold_that_does_not_exist_leaves_nothing(tiny_synthetic_cache, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--cache", str(tiny_synthetic_cache), "--out", str(out), "--config", "synthetic-demo"]
    assert main([*argv, "--folds", "7"]) == 2
    assert "no fold '7'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("command", ["synth", "train", "predict", "demo", "prepare-dir", "prepare-under-file"])
def test_output_paths_that_cannot_be_made_are_one_line_naming_the_path(command, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    argv = {
        "synth": ["synth", str(a_file)],
        "train": ["train", "--cache", "c.h5", "--out", str(a_file)],
        "predict": ["predict", "v.avi", "--checkpoint", "c", "--out", str(a_file)],
        "demo": ["demo", "--out", str(a_file / "sub")],
        "prepare-dir": ["prepare", "--dataset", "casme2", "--root", str(tmp_path), "--out", str(tmp_path)],
        "prepare-under-file": [
            "prepare",
            "--dataset",
            "casme2",
            "--root",
            str(tmp_path),
            "--out",
            str(a_file / "x.h5"),
        ],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Errno" not in err
    assert str(a_file) in err or str(tmp_path) in err
    assert ("a folder of that name exists" in err) == (command == "prepare-dir")


def test_prepare_names_what_is_wrong_with_root_and_the_option_that_differs(tiny_synthetic_cache, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["prepare", "--dataset", "casme2", "--root", str(a_file), "--out", str(tmp_path / "x.h5")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    root = tiny_synthetic_cache.parent / "synth0"
    argv = ["prepare", "--dataset", "casme2", "--root", str(root), "--out", str(tiny_synthetic_cache), "--quiet"]
    assert main([*argv, "--flow", "exact", "--align", "onset"]) == 2
    assert "--align per-frame there, onset here" in capsys.readouterr().err


def _readme_command_rows() -> dict[str, set[str]]:
    """The options each `mol COMMAND` row of the README's command table names."""
    import re

    rows: dict[str, set[str]] = {}
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for line in readme.splitlines():
        match = re.match(r"\| `mol ([a-z-]+)([^`]*)` \|", line)
        if match:
            rows.setdefault(match.group(1), set()).update(re.findall(r"--[a-z][a-z-]*", match.group(2)))
    return rows


def test_the_readmes_command_table_matches_the_parser():
    import argparse

    from mol.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    documented = _readme_command_rows()
    assert set(documented) == set(commands.choices), "a command without a README row, or a row of no command"
    for name, parser in commands.choices.items():
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help", "--quiet"}
        assert documented[name] == options, f"mol {name}: README lacks {options - documented[name]}, " + (
            f"names no such option {documented[name] - options}"
        )
        for action in parser._actions:
            assert action.help or action.dest == "help", f"mol {name} {action.option_strings}: no help text"


def test_demo_refuses_a_bad_setting_before_any_work(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--set", "nokey=1", "--quiet"]) == 2
    assert "nokey" in capsys.readouterr().err
    assert not out.exists()  # nothing synthesised or prepared first


def test_synth_says_the_next_step_as_the_readme_does(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["synth", str(out), "--subjects", "1", "--clips-per-class", "1", "--size", "96", "--people", "kanade"]
    assert main([*argv, "--quiet"]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    assert hint.startswith("next: mol prepare") and "--flow exact --align onset" in hint
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "make setup" in readme and ".venv/bin/mol" in readme  # how to run mol after set-up
