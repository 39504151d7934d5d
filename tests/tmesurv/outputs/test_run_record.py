import json
from pathlib import Path

import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.outputs.atomic import file_hash, write_text
from tmesurv.outputs.run_record import (
    CommandRun,
    RunRecord,
    config_fingerprint,
    read_run_record,
    record_run,
    study_fingerprint,
)


def test_run_record_accumulates_commands_and_their_files(tmp_path: Path):
    config_path = write_text(tmp_path / "a.yaml", "data: {}")
    cox_file = write_text(tmp_path / "cox.csv", "x")
    record_run(tmp_path, "cox", {"a": 1}, config_path, "study", files=[cox_file])
    bayes_file = write_text(tmp_path / "bayes.csv", "y")
    record_run(tmp_path, "bayes", {"a": 2}, None, "study", seed=5, files=[bayes_file])
    figure = write_text(tmp_path / "figures/km.png", "z")
    record_run(tmp_path, "cox", {"a": 1}, config_path, "study", files=[cox_file, figure])
    record = read_run_record(tmp_path / "run.json")
    assert record.commands == ("bayes", "cox")
    assert record.runs["bayes"].seed == 5
    assert record.runs["bayes"].config == {"a": 2}
    assert record.runs["bayes"].config_hash == config_fingerprint({"a": 2}, None)
    assert record.runs["cox"].config_hash == file_hash(config_path)
    assert record.files == {"cox": ("cox.csv", "figures/km.png"), "bayes": ("bayes.csv",)}


def test_a_record_of_another_study_is_replaced(tmp_path: Path):
    record_run(tmp_path, "cox", {"a": 1}, None, "one")
    record_run(tmp_path, "bayes", {"a": 1}, None, "two")
    record = read_run_record(tmp_path / "run.json")
    assert record.commands == ("bayes",)
    assert record.study_hash == "two"


def test_run_record_round_trips(tmp_path: Path):
    run = CommandRun(config={"data": {"arm": {"treated": "T"}}}, config_hash="ab", seed=3, files=("cox.csv",))
    record = RunRecord(tmesurv_version="1", study_hash="s", runs={"cox": run})
    (tmp_path / "run.json").write_text(record.model_dump_json())
    assert read_run_record(tmp_path / "run.json") == record
    assert record.arm_names == {"treated": "T"}
    assert record.config_of("cox") == run.config
    assert record.config_of("bayes") is None


def test_config_without_a_file_is_hashed_by_its_canonical_json():
    assert config_fingerprint({"b": 1, "a": [1, 2]}, None) == config_fingerprint({"a": [1, 2], "b": 1}, None)
    assert config_fingerprint({"a": 1}, None) != config_fingerprint({"a": 2}, None)


def test_the_study_is_the_plan_and_the_patients_not_the_other_sections():
    patients = pd.DataFrame({"time": [1.0, 2.0]}, index=["a", "b"])
    plan = {"data": {"id": "id"}, "analysis": {"endpoint": "os"}, "validation_model": None}
    same = study_fingerprint(plan | {"bayes": {"draws": 10}}, patients)
    assert same == study_fingerprint(plan | {"bayes": {"draws": 99}}, patients)
    assert same != study_fingerprint(plan | {"analysis": {"endpoint": "efs"}}, patients)
    assert same != study_fingerprint(plan, patients.assign(time=[1.0, 3.0]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a tmesurv run record"),
        (json.dumps({"tmesurv_version": "1", "runs": {}}), r"study_hash: Field required"),
        (json.dumps({"tmesurv_version": "1", "study_hash": "x", "runs": {}, "colour": 1}), "colour"),
        (json.dumps({"tmesurv_version": "1", "study_hash": "x", "runs": {"cox": {"config": {}}}}), "config_hash"),
    ],
)
def test_malformed_run_record_is_named(tmp_path: Path, content: str, message: str):
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(InputError, match=message):
        read_run_record(tmp_path / "run.json")
