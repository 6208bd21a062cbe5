"""The run folder's layout: folds found by name, a fold finished only once done.json is written."""

import pytest

from mol.train.folders import RunFolder


def test_a_fold_counts_as_finished_only_once_its_summary_is_written(tmp_path):
    run = RunFolder(tmp_path / "run")
    first, second = run.fold("casme2_sub01"), run.fold("casme2_sub02")
    for fold in (first, second):
        fold.path.mkdir(parents=True)
    assert first.read_history() is None
    first.write_history([{"step": 1, "total": 0.5}], [])
    second.write_done({"fold": "casme2_sub02"})
    assert [f.name for f in run.folds()] == ["casme2_sub01", "casme2_sub02"]
    assert run.finished_folds() == [second] and second.read_done() == {"fold": "casme2_sub02"}
    assert first.read_history()["history"][0]["total"] == 0.5
    assert not list(first.path.glob("*.tmp*")) and not list(second.path.glob("*.tmp*"))


def test_a_folder_without_a_configuration_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a mol run directory"):
        RunFolder(tmp_path).check_is_run()
