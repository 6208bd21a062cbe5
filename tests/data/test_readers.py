import math

import pandas as pd
import pytest

from mol.data.readers import DatasetError, read_dataset
from mol.data.schemes import get_scheme, scheme_from_labels

from fakes import casme2_tree, face_frames, write_frames, write_video


def test_casme2_sheet_quirks(tmp_path):
    casme2_tree(
        tmp_path,
        [(1, "EP02_01f", "Happiness", 50), (1, "EP03_02", "disgust", "/"), (2, "MISSING_01", "others", 48)],
    )
    result = read_dataset("casme2", tmp_path)
    by_id = {r.video_id: r for r in result.records}
    assert set(by_id) == {"EP02_01f", "EP03_02"}
    assert by_id["EP02_01f"].emotion == "happiness" and by_id["EP02_01f"].apex == 50
    assert by_id["EP03_02"].apex is None and by_id["EP03_02"].onset == 46
    assert by_id["EP02_01f"].subject == "sub01" and by_id["EP02_01f"].fps == 200
    assert [s.item for s in result.skipped] == ["sub02/MISSING_01"]
    assert "frame folder missing" in result.skipped[0].reason


def test_samm_header_after_preamble(tmp_path):
    write_frames(tmp_path / "SAMM" / "006" / "006_1_2", face_frames(3), pattern="006_{:05d}.jpg", first=5562)
    preamble = [["SAMM micro-expression database"] + [None] * 11] * 13
    header = [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Micro",
        "Action Units",
        "Estimated Emotion",
        "Objective Classes",
        "Notes",
    ]
    row = [6, "006_1_2", 1, 5562, 5563, 5564, 3, "Micro - 1/2", "4+7", "Anger", 1, None]
    pd.DataFrame([*preamble, header, row]).to_excel(
        tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", index=False, header=False
    )
    (record,) = read_dataset("samm", tmp_path).records
    assert (record.subject, record.video_id, record.emotion, record.apex) == ("006", "006_1_2", "anger", 5563)


def test_smic_layout(tmp_path):
    write_frames(tmp_path / "HS" / "s3" / "micro" / "surprise" / "s3_sur_01", face_frames(2), "image{:06d}.bmp")
    write_frames(tmp_path / "HS" / "s10" / "micro" / "negative" / "s10_ne_02", face_frames(2), "image{:06d}.bmp")
    records = read_dataset("smic", tmp_path).records
    assert [(r.subject, r.emotion, r.fps) for r in records] == [("s3", "surprise", 100.0), ("s10", "negative", 100.0)]


def test_class_folders_and_manifest_with_a_video_file(tmp_path):
    write_frames(tmp_path / "data" / "happiness" / "01_EP19_05f", face_frames(2))
    write_video(tmp_path / "data" / "surprise" / "s9_sur_03.avi", face_frames(3))
    records = read_dataset("folder", tmp_path / "data").records
    assert {(r.subject, r.emotion) for r in records} == {("01", "happiness"), ("s9", "surprise")}

    write_video(tmp_path / "m" / "clips" / "a.avi", face_frames(3))
    pd.DataFrame(
        {
            "subject": ["p1", "p2"],
            "video": ["clips/a.avi", "clips/gone.avi"],
            "label": ["Joy", "joy"],
            "onset": ["2", ""],
        }
    ).to_csv(tmp_path / "m" / "list.csv", index=False)
    result = read_dataset("manifest", tmp_path / "m" / "list.csv")
    (record,) = result.records
    assert (record.subject, record.emotion, record.onset, math.isnan(record.fps)) == ("p1", "joy", 2, True)
    assert "gone.avi" in result.skipped[0].reason


def test_missing_root_and_sheet(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_dataset("casme2", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="--sheet"):
        read_dataset("casme2", tmp_path)


def test_schemes_map_emotions_per_dataset():
    five, three = get_scheme("casme2-5"), get_scheme("megc-3")
    assert five.label_of("casme2", "Others") == 4 and five.label_of("casme2", "sadness") is None
    assert three.class_of("casme2", "repression") == "negative" and three.class_of("casme2", "others") is None
    assert three.class_of("samm", "Contempt") == "negative" and three.class_of("smic", "positive") == "positive"
    assert get_scheme("samm-5").class_of("samm", "Other") == "others"
    assert scheme_from_labels(["b", "A", "a"]).classes == ("a", "b")
    with pytest.raises(ValueError, match="unknown class scheme"):
        get_scheme("casme3")


def test_sheet_rows_may_point_at_video_files(tmp_path):
    casme2_tree(tmp_path, [(1, "EP01_01", "happiness", 48), (1, "MISSING_02", "surprise", 48)])
    write_video(tmp_path / "CASME2_RAW_selected" / "sub01" / "MISSING_02.avi", face_frames(9))
    records = read_dataset("casme2", tmp_path).records
    assert sorted(r.source.name for r in records) == ["EP01_01", "MISSING_02.avi"]
