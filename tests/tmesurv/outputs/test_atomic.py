import os
from pathlib import Path

import pytest

from tmesurv.outputs.atomic import write_atomically, write_text


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
