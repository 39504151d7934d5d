import json
from pathlib import Path

import pytest

from tmesurv.errors import InputError
from tmesurv.outputs.atomic import file_hash, write_text
from tmesurv.outputs.run_record import RunRecord, config_fingerprint, read_run_record, record_run


def test_run_record_accumulates_commands_and_their_files(tmp_path: Path):
    config_path = write_text(tmp_path / "a.yaml", "data: {}")
    cox_file = write_text(tmp_path / "cox.csv", "x")
    record_run(tmp_path, "cox", {"a": 1}, config_path, files=[cox_file])
    record_run(tmp_path, "bayes", {"a": 1}, config_path, seed=5, files=[write_text(tmp_path / "bayes.csv", "y")])
    record_run(tmp_path, "cox", {"a": 1}, config_path, files=[cox_file, write_text(tmp_path / "figures/km.png", "z")])
    record = read_run_record(tmp_path / "run.json")
    assert record.commands == ("bayes", "cox")
    assert record.seed == 5  # a command without a seed keeps the earlier one
    assert record.config_hash == file_hash(config_path)
    assert record.files == {"cox": ("cox.csv", "figures/km.png"), "bayes": ("bayes.csv",)}


def test_run_record_round_trips(tmp_path: Path):
    record = RunRecord(tmesurv_version="1", config_hash="ab", config={"data": {"arm": {"treated": "T"}}}, seed=3)
    (tmp_path / "run.json").write_text(record.model_dump_json())
    assert read_run_record(tmp_path / "run.json") == record
    assert record.arm_names == {"treated": "T"}


def test_config_without_a_file_is_hashed_by_its_canonical_json():
    assert config_fingerprint({"b": 1, "a": [1, 2]}, None) == config_fingerprint({"a": [1, 2], "b": 1}, None)
    assert config_fingerprint({"a": 1}, None) != config_fingerprint({"a": 2}, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a tmesurv run record"),
        (json.dumps({"tmesurv_version": "1", "config": {}}), r"config_hash: Field required"),
        (json.dumps({"tmesurv_version": "1", "config_hash": "x", "config": {}, "colour": 1}), "colour"),
        (json.dumps({"tmesurv_version": "1", "config_hash": "x", "config": {}, "seed": "abc"}), "seed"),
    ],
)
def test_malformed_run_record_is_named(tmp_path: Path, content: str, message: str):
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(InputError, match=message):
        read_run_record(tmp_path / "run.json")
