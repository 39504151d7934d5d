import json
import os
from pathlib import Path

import pytest

from tmesurv.outputs.atomic import write_atomically, write_text
from tmesurv.outputs.run_record import record_run


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = write_text(tmp_path / "cox.csv", "old")

    def half_write(temporary: Path) -> None:
        temporary.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, half_write)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["cox.csv"]


def test_outputs_get_the_usual_permissions(tmp_path: Path):
    mask = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_run_record_accumulates_commands(tmp_path: Path):
    config_path = write_text(tmp_path / "a.yaml", "data: {}")
    record_run(tmp_path, "cox", {"a": 1}, config_path)
    record_run(tmp_path, "bayes", {"a": 1}, config_path, seed=5)
    record_run(tmp_path, "cox", {"a": 1}, config_path)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["commands"] == ["bayes", "cox"]
    assert record["seed"] == 5
    assert len(record["config_hash"]) == 16
