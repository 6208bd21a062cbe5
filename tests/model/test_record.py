"""The training record: typed, versioned, and read from checkpoints of every version."""

import json

import pytest

from mol.errors import CheckpointError
from mol.model.record import RECORD_KEY, RECORD_VERSION, HeldOut, Initialization, TrainingRecord

from fakes import training_record


def test_a_version_1_record_reads_with_the_defaults_its_code_assumed():
    record = TrainingRecord.from_dict(training_record(held_out={}))  # version 1 wrote {} for "not tested"
    assert record.version == RECORD_VERSION and record.held_out is None and record.initialization is None
    assert (record.normalize, record.clip_sampling, record.input) == ("fixed", "strided", "clip")
    assert record.alignment == "onset" and record.fps == (200.0,) and record.trained_heads == ("mer",)


def test_a_record_survives_its_json_unchanged():
    held_out = HeldOut(subjects=2, videos=20, video_uar=0.45, video_uf1=0.4, chance_uar=0.2, flow_epe_px=0.3)
    record = TrainingRecord.from_dict(training_record()).with_held_out(held_out)
    record = TrainingRecord.from_dict({**json.loads(record.to_json()), "initialization": {"init": "scratch"}})
    again = TrainingRecord.from_dict(json.loads(record.to_json()))
    assert again == record and again.initialization == Initialization("scratch") and again.held_out == held_out
    assert held_out.head_error("flow") is None  # no zero-flow baseline beside it


def test_version_1_onset_apex_checkpoints_keep_their_flow_method_in_the_metadata():
    metadata = {RECORD_KEY: json.dumps(training_record(input="onset_apex_flow")), "flow": "dis,tvl1"}
    assert TrainingRecord.from_metadata(metadata).input_flow == ("dis", "tvl1")
    assert TrainingRecord.from_metadata({}) is None


def test_unreadable_or_newer_records_are_named():
    with pytest.raises(CheckpointError, match=r"w\.safetensors: its training record"):
        TrainingRecord.from_metadata({RECORD_KEY: "{not json"}, "w.safetensors")
    newer = json.dumps(training_record(version=RECORD_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer than this mol reads"):
        TrainingRecord.from_metadata({RECORD_KEY: newer}, "w.safetensors")
