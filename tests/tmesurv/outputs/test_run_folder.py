"""A result folder holds one complete run of one study: staging, study check, input protection, lock."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.outputs import run_folder
from tmesurv.outputs.atomic import write_text
from tmesurv.outputs.run_folder import LOCK_FILE, STAGING_PREFIX, RunPlan, reserve, staged
from tmesurv.outputs.run_record import read_run_record


def plan(study: str = "s1", command: str = "cox", fresh: bool = False, inputs: tuple[Path, ...] = ()) -> RunPlan:
    return RunPlan(command, {"data": {}}, None, study, inputs, fresh)


def write_cox(folder: Path, study: str = "s1", fresh: bool = False, names: tuple[str, ...] = ("cox.csv",)) -> None:
    with staged(folder, plan(study, fresh=fresh)) as run:
        for name in names:
            write_text(run.path / name, f"{study} {name}")


def test_staged_files_appear_together_with_their_record(tmp_path: Path):
    write_cox(tmp_path, names=("cox.csv", "figures/km.png"))
    assert (tmp_path / "figures/km.png").read_text() == "s1 figures/km.png"
    assert read_run_record(tmp_path / "run.json").files == {"cox": ("cox.csv", "figures/km.png")}
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))
    assert not (tmp_path / LOCK_FILE).exists()


def write_then_fail(folder: Path, error: BaseException) -> None:
    with staged(folder, plan()) as run:
        write_text(run.path / "cox.csv", "half")
        raise error


def test_a_failure_or_interrupt_while_writing_leaves_the_previous_run(tmp_path: Path):
    write_cox(tmp_path)
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            write_then_fail(tmp_path, error)
        assert (tmp_path / "cox.csv").read_text() == "s1 cox.csv"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cox.csv", "run.json"]


def test_another_study_is_refused_and_fresh_replaces_only_tmesurv_files(tmp_path: Path):
    write_cox(tmp_path, names=("cox.csv", "screen_cox.csv"))
    write_text(tmp_path / "my_notes.txt", "mine")
    with pytest.raises(InputError, match=r"holds results of another study .* add --fresh"):
        write_cox(tmp_path, study="s2")
    assert (tmp_path / "screen_cox.csv").is_file()
    write_cox(tmp_path, study="s2", fresh=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cox.csv", "my_notes.txt", "run.json"]
    assert read_run_record(tmp_path / "run.json").study_hash == "s2"


def test_a_command_rerun_removes_its_own_stale_files_and_keeps_the_others(tmp_path: Path):
    write_cox(tmp_path, names=("cox.csv", "screen_cox.csv"))
    with staged(tmp_path, plan(command="bayes")) as run:
        write_text(run.path / "bayes.csv", "b")
    write_cox(tmp_path, names=("cox.csv",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bayes.csv", "cox.csv", "run.json"]
    assert read_run_record(tmp_path / "run.json").commands == ("bayes", "cox")


def test_an_input_file_is_never_overwritten(tmp_path: Path):
    data = write_text(tmp_path / "cohort.csv", "id,arm\n")
    with pytest.raises(InputError, match=r"holds the input file '.*cohort\.csv'"):
        reserve(tmp_path, plan(inputs=(data,))).__enter__()
    assert data.read_text() == "id,arm\n"
    other = write_text(tmp_path / "figures" / "km.png", "input")
    with pytest.raises(InputError, match=r"km\.png"), staged(tmp_path, plan(inputs=(other,))) as run:
        write_text(run.path / "figures" / "km.png", "result")
    assert other.read_text() == "input"


def test_out_that_is_a_file_or_not_writable_is_refused(tmp_path: Path, monkeypatch):
    afile = write_text(tmp_path / "out", "x")
    with pytest.raises(InputError, match="is a file, not a folder"), reserve(afile, plan()):
        pass
    monkeypatch.setattr(run_folder.os, "access", lambda path, mode: False)  # as a user without write permission
    with pytest.raises(InputError, match="is not writable"), reserve(tmp_path, plan()):
        pass


def test_a_failed_run_into_a_new_folder_leaves_no_folder(tmp_path: Path):
    with pytest.raises(RuntimeError), reserve(tmp_path / "new", plan()):
        raise RuntimeError("bad input found after the check")
    assert not (tmp_path / "new").exists()


def test_a_live_lock_refuses_a_second_run_and_a_dead_one_is_taken_over(tmp_path: Path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / LOCK_FILE).write_text(f"{other.pid} cox\n")
        with pytest.raises(InputError, match=f"in use by another tmesurv run \\(process {other.pid}"):
            write_cox(tmp_path)
    finally:
        other.kill()
        other.wait()
    write_cox(tmp_path)  # the lock's owner is gone
    assert (tmp_path / "cox.csv").is_file()


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path):
    with reserve(tmp_path, plan()):
        write_cox(tmp_path)
        assert (tmp_path / LOCK_FILE).is_file()
    assert not (tmp_path / LOCK_FILE).exists()
    assert pd.read_json(tmp_path / "run.json", typ="series")["study_hash"] == "s1"


def write_command(folder: Path, command: str, names: tuple[str, ...], study: str = "s1", fresh: bool = False) -> None:
    """A command of ``study`` writing ``names``; a file's content is its study and name (a study's cohort files are
    the same whichever command computes them)."""
    with staged(folder, plan(study, command, fresh)) as run:
        for name in names:
            write_text(run.path / name, f"{study} {name}")


STUDY = ("biomarkers.csv", "cohort.csv")  # the registry's study files


@pytest.mark.parametrize("order", [("cox", "bayes"), ("bayes", "cox")])
def test_the_study_files_are_written_once_by_the_first_command_and_listed_once(tmp_path: Path, order):
    first, second = order
    write_command(tmp_path, first, (f"{first}.csv", *STUDY))
    written = {name: (tmp_path / name).stat().st_ino for name in STUDY}
    write_command(tmp_path, second, (f"{second}.csv", *STUDY))
    assert {name: (tmp_path / name).stat().st_ino for name in STUDY} == written  # kept, not replaced
    record = read_run_record(tmp_path / "run.json")
    assert record.study_files == STUDY
    assert record.files == {first: (f"{first}.csv",), second: (f"{second}.csv",)}
    write_command(tmp_path, first, (f"{first}.csv", *STUDY))  # a rerun neither removes nor rewrites them
    assert {name: (tmp_path / name).stat().st_ino for name in STUDY} == written
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bayes.csv", "cox.csv", "run.json", *STUDY])


def write_bayes_describing(folder: Path, description: str, fresh: bool = False) -> None:
    with staged(folder, plan(command="bayes", fresh=fresh)) as run:
        write_text(run.path / "bayes.csv", "b")
        write_text(run.path / "biomarkers.csv", description)


def test_a_study_file_that_differs_from_the_folders_is_refused_and_fresh_replaces_it(tmp_path: Path):
    write_command(tmp_path, "cox", ("cox.csv", *STUDY))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    refusal = r"holds 'biomarkers\.csv', .* the cohort of this study .* this bayes run's differs .* --fresh"
    with pytest.raises(InputError, match=refusal):
        write_bayes_describing(tmp_path, "another description")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    write_bayes_describing(tmp_path, "another description", fresh=True)
    assert (tmp_path / "biomarkers.csv").read_text() == "another description"
    assert read_run_record(tmp_path / "run.json").study_files == STUDY


def test_fresh_for_another_study_replaces_the_study_files_too(tmp_path: Path):
    write_command(tmp_path, "bayes", ("bayes.csv", *STUDY))
    write_command(tmp_path, "cox", ("cox.csv", "biomarkers.csv"), study="s2", fresh=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["biomarkers.csv", "cox.csv", "run.json"]
    assert (tmp_path / "biomarkers.csv").read_text() == "s2 biomarkers.csv"
    record = read_run_record(tmp_path / "run.json")
    assert (record.study_files, record.files) == (("biomarkers.csv",), {"cox": ("cox.csv",)})


def test_a_folder_of_an_earlier_version_listing_the_study_files_per_command_is_taken_over(tmp_path: Path):
    """Before the study owned them, cox and bayes each listed (and rewrote) biomarkers.csv: the next command writes it
    once more and run.json lists it as the study's only."""
    for command in ("cox", "bayes"):
        write_text(tmp_path / f"{command}.csv", command)
    write_text(tmp_path / "biomarkers.csv", "old description")
    runs = {command: {"config": {}, "config_hash": "ab", "files": [f"{command}.csv", "biomarkers.csv"]}
            for command in ("cox", "bayes")}  # fmt: skip
    write_text(tmp_path / "run.json", json.dumps({"tmesurv_version": "0.1.0", "study_hash": "s1", "runs": runs}))
    assert read_run_record(tmp_path / "run.json").listed == {"cox.csv", "bayes.csv", "biomarkers.csv"}
    write_command(tmp_path, "bayes", ("bayes.csv", "biomarkers.csv"))
    assert (tmp_path / "biomarkers.csv").read_text() == "s1 biomarkers.csv"
    record = read_run_record(tmp_path / "run.json")
    assert (record.study_files, record.files) == (("biomarkers.csv",), {"cox": ("cox.csv",), "bayes": ("bayes.csv",)})
