"""An interrupted, concurrent or misdirected run never leaves confident wrong numbers or touches the user's files.

The battery of issue #22, run through the command line as a user would (subprocesses where a signal or a second
process is part of the story).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import small_config, small_export
from tmesurv.cli import app
from tmesurv.outputs.run_folder import LOCK_FILE
from tmesurv.simulations.scenario import analysis_config, load_scenario
from tmesurv.simulations.trial import simulate_trial


def run_cli(*arguments: str):
    return CliRunner().invoke(app, list(arguments))


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """A small two-arm study: ``cohort.csv`` and ``analysis.yaml`` in ``tmp_path/study``."""
    folder = tmp_path / "study"
    folder.mkdir()
    small_export().to_csv(folder / "cohort.csv", index=False)
    (folder / "analysis.yaml").write_text(yaml.safe_dump(small_config("cohort.csv")))
    return folder / "analysis.yaml"


def test_results_never_overwrite_an_input_file(study: Path):
    data = (study.parent / "cohort.csv").read_bytes()
    result = run_cli("cox", str(study), "--out", str(study.parent))
    assert result.exit_code == 2
    assert "holds the input file" in result.output
    assert "cohort.csv" in result.output
    assert (study.parent / "cohort.csv").read_bytes() == data
    assert sorted(p.name for p in study.parent.iterdir()) == ["analysis.yaml", "cohort.csv"]


@pytest.mark.parametrize("command", ["cox", "bayes"])
def test_out_that_is_a_file_is_refused_before_any_computation(
    study: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
):
    def never(*args, **kwargs):
        raise AssertionError("an analysis ran before the output folder was checked")

    monkeypatch.setattr("tmesurv.models.cox.analyses.cox_analyses", never)
    monkeypatch.setattr("tmesurv.models.pwe.analyses.pwe_analyses", never)
    target = tmp_path / "results.txt"
    target.write_text("mine")
    result = run_cli(command, str(study), "--out", str(target))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "is a file, not a folder" in result.output
    assert "Traceback" not in result.output
    assert target.read_text() == "mine"


def test_a_folder_of_another_study_is_refused_and_fresh_replaces_only_tmesurv_files(study: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert run_cli("cox", str(study), "--out", str(out)).exit_code == 0
    (out / "my_notes.txt").write_text("mine")
    config = yaml.safe_load(study.read_text())
    config["analysis"]["cutpoints"] = {"b_cell_ges": 0.5}  # another analysis plan
    study.write_text(yaml.safe_dump(config))
    before = contents(out)
    refused = run_cli("cox", str(study), "--out", str(out))
    assert refused.exit_code == 2
    assert "holds results of another study" in refused.output
    assert contents(out) == before
    assert run_cli("cox", str(study), "--out", str(out), "--fresh").exit_code == 0
    assert (out / "my_notes.txt").read_text() == "mine"
    record = json.loads((out / "run.json").read_text())
    listed = {*record["study_files"], *record["runs"]["cox"]["files"]}
    assert {name for name in contents(out)} == {*listed, "run.json", "my_notes.txt"}


def test_a_moved_study_folder_is_the_same_study_and_changed_data_another(study: Path, tmp_path: Path):
    """The study's identity is its plan and its patients' values, not where its files lie (paths relative to the
    config); a colleague's copy elsewhere adds to the same results, a changed value does not."""
    out = tmp_path / "out"
    assert run_cli("cox", str(study), "--out", str(out)).exit_code == 0
    moved = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(study.parent, moved)
    shutil.rmtree(study.parent)
    again = run_cli("cox", str(moved / "analysis.yaml"), "--out", str(out))
    assert again.exit_code == 0, again.output
    data = pd.read_csv(moved / "cohort.csv")
    data.loc[0, "b_cell_ges"] += 1.0
    data.to_csv(moved / "cohort.csv", index=False)
    before = contents(out)
    refused = run_cli("cox", str(moved / "analysis.yaml"), "--out", str(out))
    assert refused.exit_code == 2
    assert "holds results of another study" in refused.output
    assert contents(out) == before


def test_negative_seeds_are_refused_before_any_work(study: Path, tmp_path: Path):
    result = run_cli("validate", str(tmp_path), str(study), "--out", str(tmp_path / "v"), "--seed", "-1")
    assert result.exit_code == 2
    assert "--seed" in result.output
    assert "greater than or equal to 0" in result.output
    assert not (tmp_path / "v").exists()


def write_slow_study(parent: Path) -> Path:
    """The ZUMA-7-like trial (five biomarkers, no screens: a cox run of a few seconds, long enough to be interrupted):
    ``zuma7/trial.csv`` and ``zuma7/analysis.yaml`` in ``parent``; the config's path."""
    folder = parent / "zuma7"
    folder.mkdir()
    simulate_trial(load_scenario("zuma7"), seed=3).to_frame().to_csv(folder / "trial.csv", index=False)
    config = analysis_config(load_scenario("zuma7"), "trial.csv", seed=3)
    config.pop("screens")
    (folder / "analysis.yaml").write_text(yaml.safe_dump(config))
    return folder / "analysis.yaml"


def start_cli(*arguments: str) -> subprocess.Popen:
    code = "from tmesurv.cli import main; main()"
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", code, *arguments], stderr=subprocess.PIPE, text=True, env=env)


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def finished_cox(tmp_path_factory) -> Path:
    """The slow study's folder with the results of a finished cox run in ``out`` (made once, copied per test: a moved
    study folder holds the same study, else the runs into a copy would be refused as another study's)."""
    folder = tmp_path_factory.mktemp("finished")
    study = write_slow_study(folder)
    assert run_cli("cox", str(study), "--out", str(folder / "out")).exit_code == 0
    return folder


@pytest.mark.parametrize(("sent", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "term")])
def test_an_interrupted_cox_run_keeps_the_previous_results(finished_cox: Path, tmp_path: Path, sent, code, word):
    shutil.copytree(finished_cox, tmp_path / "copy")
    study, out = tmp_path / "copy" / "zuma7" / "analysis.yaml", tmp_path / "copy" / "out"
    before = contents(out)
    process = start_cli("cox", str(study), "--out", str(out))
    wait_for(out / LOCK_FILE, process)
    time.sleep(0.5)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert word in stderr
    assert "Traceback" not in stderr
    assert contents(out) == before  # nothing half-written, no lock or staging folder left


def test_a_second_run_into_a_busy_folder_is_refused(finished_cox: Path, tmp_path: Path):
    """While a cox run holds the folder, a second is refused and writes nothing; the first, then interrupted, leaves
    the folder as it was (no file of either run mixed in)."""
    shutil.copytree(finished_cox, tmp_path / "copy")
    study, out = tmp_path / "copy" / "zuma7" / "analysis.yaml", tmp_path / "copy" / "out"
    before = contents(out)
    first = start_cli("cox", str(study), "--out", str(out))
    wait_for(out / LOCK_FILE, first)
    second = run_cli("cox", str(study), "--out", str(out))
    assert second.exit_code == 2
    assert "in use by another tmesurv run" in second.output
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130, stderr
    assert contents(out) == before
    record = json.loads((out / "run.json").read_text())
    assert all((out / name).is_file() for name in record["runs"]["cox"]["files"])


@pytest.mark.parametrize("delay", [0.2, 4.0], ids=["while-starting", "while-sampling"])
def test_an_interrupted_bayes_run_stops_promptly_and_writes_nothing(study: Path, tmp_path: Path, delay: float):
    """Ctrl-C wherever it lands (start-up and compilation, or sampling): exit 130, no result, nothing left behind.

    nutpie catches Ctrl-C itself and returns the draws it has; the run must not summarise them (issue #22 item 1).
    """
    config = yaml.safe_load(study.read_text())
    config["bayes"] = {"draws": 20000, "tune": 1000, "chains": 2, "biomarkers": []}  # sampling outlasts the delay
    study.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    process = start_cli("bayes", str(study), "--out", str(out))
    wait_for(out / LOCK_FILE, process)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)  # stops within seconds, not after the 20,000 draws
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert contents(out) == {}  # no bayes.csv from the interrupted chains, no lock or staging folder


SUMMARY_THAT_WAITS = """
import sys, time
from pathlib import Path
import tmesurv.models.pwe.analyses as analyses
marker, name = Path(sys.argv.pop(1)), sys.argv.pop(1)
original = getattr(analyses, name)
def waits(*args, **kwargs):  # the summary, held open until the test's signal lands in it
    marker.touch()
    for _ in range(600):
        time.sleep(0.05)
    return original(*args, **kwargs)
setattr(analyses, name, waits)
from tmesurv.cli import main
main()
"""


def test_ctrl_c_during_the_summaries_of_a_bayes_run_writes_nothing(study: Path, tmp_path: Path):
    """Ctrl-C after sampling, while the posterior is summarised: exit 130 within seconds, nothing in ``--out``."""
    config = yaml.safe_load(study.read_text())
    config["bayes"] = {"draws": 100, "tune": 100, "chains": 2, "biomarkers": []}
    study.write_text(yaml.safe_dump(config))
    out, marker = tmp_path / "out", tmp_path / "summarising"
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    arguments = [str(marker), "summary_rows", "bayes", str(study), "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-c", SUMMARY_THAT_WAITS, *arguments], stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for(marker, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)  # the summary would hold on for 30 s: the interrupt cuts it short
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert contents(out) == {}


def test_a_bayes_run_that_nothing_interrupted_repeats_byte_for_byte(study: Path, tmp_path: Path):
    """The interrupt handling (signals turned into exceptions, the sampler's swallowed Ctrl-C re-raised) leaves an
    uninterrupted run as it was: two runs write the same bytes in every result table (posterior.nc aside: its
    creation timestamps)."""
    config = yaml.safe_load(study.read_text())
    config["bayes"] = {"draws": 100, "tune": 100, "chains": 2, "seed": 5, "biomarkers": ["b_cell_ges"]}  # 4 fits
    study.write_text(yaml.safe_dump(config))
    first, second = tmp_path / "first", tmp_path / "second"
    processes = [start_cli("bayes", str(study), "--out", str(out)) for out in (first, second)]  # side by side
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    tables = sorted(path.name for path in first.glob("*.csv"))
    assert "bayes.csv" in tables
    assert {name: (first / name).read_bytes() for name in tables} == {
        name: (second / name).read_bytes() for name in tables
    }


def test_degenerate_subgroups_are_not_estimable_and_the_run_stands(tmp_path: Path):
    """Through the command line (issue #22 items 2 and 6): a subgroup with no event in one arm, and one with no event
    at all, are 'not estimable' rows with their reason and a note naming them; the other analyses are estimated."""
    folder = tmp_path / "study"
    folder.mkdir()
    export = small_export(n_per_arm=20, seed=3)
    site = np.array(["main"] * 30 + ["tiny"] * 5 + ["none"] * 5)
    export = export.assign(site=site)
    export.loc[site == "tiny", ["arm", "efs_event"]] = [["axi-cel", 1], ["axi-cel", 0], ["SOC", 0], ["SOC", 0],
                                                         ["SOC", 0]]  # fmt: skip
    export.loc[site == "none", "efs_event"] = 0
    export.to_csv(folder / "cohort.csv", index=False)
    config = small_config("cohort.csv")
    config["data"]["covariates"] = ["site"]
    config["analysis"]["subgroup_covariates"] = ["site"]
    config["bayes"] = {"draws": 100, "tune": 100, "chains": 2, "seed": 4, "biomarkers": []}
    (folder / "analysis.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    result = run_cli("bayes", str(folder / "analysis.yaml"), "--out", str(out))
    assert result.exit_code == 0, result.output
    bayes = pd.read_csv(out / "bayes.csv").set_index("subgroup")
    for subgroup, reason in [("site=tiny", "0 events in the control arm"), ("site=none", "no events")]:
        assert bayes.loc[subgroup, "note"].startswith(f"not estimable: {reason}")
        assert bayes.loc[[subgroup], ["hr_mean", "prob_hr_below_1"]].isna().all().all()
        assert f"efs subgroup {subgroup}: not estimable, {reason}" in " ".join(result.output.split())
    assert (bayes.loc[["all", "site=main"], "hr_mean"] > 0).all()
