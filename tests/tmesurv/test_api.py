"""The Python API: the README's code runs, and what the API returns is what the commands write."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import tmesurv as ts
from tests.conftest import small_config, small_export
from tmesurv.cli import app

README = Path(__file__).parents[2] / "README.md"
REFERENCE = Path(__file__).parents[1] / "reference"
SMALL_BAYES = {"draws": 200, "tune": 200, "chains": 2, "seed": 3, "intervals": 4, "biomarkers": ["b_cell_ges"]}


def readme_python_blocks() -> list[str]:
    """The code blocks of the README's "From Python" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## From Python") : text.index("\n## ", text.index("## From Python") + 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.slow
@pytest.mark.sampling
def test_readme_python_section_runs_and_its_results_equal_the_written_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_python_blocks()[0], "README.md", "exec"), namespace)
    folder = tmp_path / "veteran-results"
    cox, pwe, val = namespace["cox"], namespace["pwe"], namespace["val"]
    assert cox.table.to_csv(index=False) == (folder / "cox.csv").read_text()
    assert pwe.table.to_csv(index=False) == (folder / "bayes.csv").read_text()
    assert (folder / "report.html").is_file()
    printed = capsys.readouterr().out
    assert "CoxResult: os, 69 patients" in printed
    assert "treatment HR: HR" in printed
    assert "PweResult: os, 69 patients" in printed
    assert {"harrell_c", "calibration_slope"} <= set(val.metrics["metric"])
    settings = json.loads(pwe.idata.attrs["tmesurv_settings"])
    assert settings["bayes"]["draws"] == 1000
    assert settings["analysis"] == "treatment"


@pytest.mark.slow
def test_readme_power_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"ts": ts}
    exec(compile(readme_python_blocks()[1], "README.md", "exec"), namespace)
    assert 0 <= float(namespace["study"]["power"].sel(method="cox_interaction").min()) <= 1


@pytest.fixture(scope="module")
def veteran(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("veteran")
    for name in ("veteran.csv", "veteran.yaml"):
        shutil.copy(REFERENCE / name, folder / name)
    return folder / "veteran.yaml"


@pytest.mark.usefixtures("undrawn_figures")  # the tables, not the figures
def test_fit_cox_tables_equal_the_files_of_tmesurv_cox(veteran, tmp_path):
    result = CliRunner().invoke(app, ["cox", str(veteran), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cox = ts.fit_cox(ts.Cohort.from_config(veteran))
    assert set(cox.tables) == {"cohort", "biomarkers", "subgroups", "exclusions", "km", "km_curves", "logrank", "cox",
                               "interactions", "ph_test", "ph_residuals"}  # fmt: skip
    for stem, table in cox.tables.items():
        assert table.to_csv(index=False) == (tmp_path / f"{stem}.csv").read_text(), stem
    files = json.loads((tmp_path / "run.json").read_text())["runs"]["cox"]["files"]
    assert "cox.csv" in files
    assert any(f.startswith("figures/") for f in files)


def test_from_frame_gives_the_results_of_the_config(veteran):
    config = yaml.safe_load(veteran.read_text())
    data = config["data"]
    frame = pd.read_csv(veteran.with_name("veteran.csv"), dtype={"id": str, "arm": str})
    cohort = ts.Cohort.from_frame(
        frame, id="id", arm="arm", treated="test", control="standard", time="time", event="status", endpoint="os",
        time_unit="days", biomarkers=data["biomarkers"], covariates=data["covariates"], strata=data["strata"],
    )  # fmt: skip
    analysis = {key: value for key, value in config["analysis"].items() if key != "endpoint"}
    from_frame = ts.fit_cox(cohort, **analysis)
    from_config = ts.fit_cox(ts.Cohort.from_config(veteran))
    for stem in ("cox", "interactions", "km", "logrank"):
        pd.testing.assert_frame_equal(from_frame.tables[stem], from_config.tables[stem])


@pytest.mark.usefixtures("undrawn_figures")  # the tables, not the figures
def test_fit_pwe_tables_equal_the_files_of_tmesurv_bayes(write_study, tmp_path):
    config_path = write_study(small_export(), small_config() | {"bayes": SMALL_BAYES})
    result = CliRunner().invoke(app, ["bayes", str(config_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    pwe = ts.fit_pwe(ts.Cohort.from_config(config_path))
    for stem, table in pwe.tables.items():
        assert table.to_csv(index=False) == (tmp_path / "out" / f"{stem}.csv").read_text(), stem
    assert pwe.posterior("interaction", "b_cell_ges") is pwe.fits[1].idata
    with pytest.raises(KeyError, match="treatment/all"):
        pwe.posterior("interaction", "ldh")


def test_keywords_override_the_config_and_unknown_ones_are_named(write_study):
    cohort = ts.Cohort.from_config(write_study(small_export(), small_config()))
    assert ts.fit_cox(cohort, landmarks=[3.0]).km.query("statistic == 'survival'")["time"].unique().tolist() == [3.0]
    with pytest.raises(ts.InputError, match=r"unknown key 'bayes\.draw'.*did you mean 'draws'"):
        ts.fit_pwe(cohort, draw=10)
    with pytest.raises(ts.InputError, match=r"analysis\.landmarks"):
        ts.fit_cox(cohort, landmarks=["soon"])


def test_from_frame_errors_name_the_column_and_rows():
    frame = small_export()
    frame.loc[3, "arm"] = "placebo"
    with pytest.raises(ts.InputError, match=r"<DataFrame>', column 'arm', row 3: arm value 'placebo'"):
        ts.Cohort.from_frame(frame, id="subject_id", treated="axi-cel", control="SOC", time="efs_time",
                             event="efs_event")  # fmt: skip
    with pytest.raises(ts.InputError, match="has no column 'os_time'"):
        ts.Cohort.from_frame(small_export(), id="subject_id", time="os_time", event="efs_event")


def test_from_frame_takes_integer_arm_codes_and_the_index_as_ids():
    frame = small_export().assign(arm=lambda f: (f["arm"] == "axi-cel").astype(int)).drop(columns="subject_id")
    cohort = ts.Cohort.from_frame(frame, id=None, treated=1, control=0, time="efs_time", event="efs_event")
    assert cohort.n == len(frame)
    assert cohort.treated.sum() == 20
    assert list(cohort.patients.index[:2]) == ["0", "1"]


def test_a_cohort_without_config_is_refused_with_advice(write_study):
    cohort = ts.Cohort.from_config(write_study(small_export(), small_config()))
    bare = type(cohort)(patients=cohort.patients, endpoints=cohort.endpoints)
    with pytest.raises(ts.InputError, match=r"Cohort\.from_config"):
        ts.fit_cox(bare)


def test_a_posterior_line_says_why_a_fit_has_no_estimate():
    from types import SimpleNamespace

    from tmesurv.api.display import posterior_line

    missing = SimpleNamespace(hr_mean=float("nan"), note="not estimable: no events", converged=None)
    assert posterior_line("treatment HR", missing) == "  treatment HR: not estimable: no events"
    fitted = SimpleNamespace(hr_mean=0.5, hr_lower=0.3, hr_upper=0.8, prob_hr_below_1=0.99, converged=False, note="")
    assert posterior_line("treatment HR", fitted).endswith("P(HR < 1) 0.990  NOT CONVERGED")
