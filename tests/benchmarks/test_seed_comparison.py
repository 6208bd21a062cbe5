"""One held-out person's videos from a run, by either spelling of the subject."""

import pandas as pd
import pytest
from seed_comparison import only_subject

from mol.train.compare import RunVideos


def run() -> RunVideos:
    table = pd.DataFrame(
        {
            "dataset": ["casme2", "casme2", "samm", "casme2"],
            "subject": ["sub01", "sub02", "sub02", "sub02"],
            "video": ["a", "b", "c", "d"],
            "label": [0, 1, 2, 3],
            "pred": [0, 1, 2, 0],
        }
    )
    return RunVideos("r", "mol", table, ["a", "b", "c", "d"], 0.0)


def test_dataset_and_subject_keeps_that_person_only():
    assert only_subject(run(), "casme2/sub02").table["video"].tolist() == ["b", "d"]


def test_bare_subject_keeps_it_in_every_dataset():
    assert only_subject(run(), "sub02").table["video"].tolist() == ["b", "c", "d"]


def test_unknown_subject_is_refused():
    with pytest.raises(SystemExit, match="sub09"):
        only_subject(run(), "sub09")
