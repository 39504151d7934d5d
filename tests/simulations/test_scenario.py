from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tmesurv import InputError
from tmesurv.cli import app
from tmesurv.simulations.scenario import load_scenario, shipped_scenario
from tmesurv.simulations.trial import simulate_trial


def _edited(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(shipped_scenario("zuma7").read_text())
    edit(raw)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_scenario_loads_by_name():
    scenario = load_scenario("zuma7")
    assert scenario.arms.treated + scenario.arms.control == 359
    assert scenario.efs.treated.cure_fraction > scenario.efs.control.cure_fraction


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda raw: raw["efs"].update(trt={}), r"unknown key 'efs\.trt' \(did you mean 'treated'\?\)"),
        (lambda raw: raw["efs"]["treated"].update(hazards=[0.1]), r"efs\.treated.*one value per interval: 4"),
        (lambda raw: raw["efs"]["control"].update(cure_fraction=1.2), r"cure_fraction must be in \[0, 1\)"),
        (lambda raw: raw["accrual"].update(data_cutoff="2017-01-01"), r"start <= end < data_cutoff"),
        (lambda raw: raw["strata"]["second_line_aaipi"]["shares"].update(aaipi_2_3=0.9), r"sum to 1"),
        (lambda raw: raw["response"]["no_response_if_early_event"].update(treated=1.4), r"response\.no_response"),
        (lambda raw: raw.pop("efs"), r"missing key 'efs'"),
        (
            lambda raw: raw["analysis"]["analysis"].update(cutpoints={"spd": 3721}),
            r"its 'analysis' section.*analysis.cutpoints: 'spd' is not listed in data.biomarkers",
        ),
        (
            lambda raw: raw["analysis"]["screens"].update(clusterz=3),
            r"unknown key 'screens.clusterz' \(did you mean 'clusters'\?\)",
        ),
    ],
)
def test_bad_scenario_files_are_rejected_by_key(tmp_path: Path, edit, pattern):
    with pytest.raises(InputError, match=rf"(?s)scenario file .*{pattern}"):
        load_scenario(_edited(tmp_path, edit))


def test_effect_on_an_unknown_biomarker_is_named(tmp_path: Path):
    scenario = load_scenario(_edited(tmp_path, lambda raw: raw["efs"]["effects"].update(tmb={"treated": 0.2})))
    with pytest.raises(InputError, match=r"efs\.effects\.tmb is not a simulated biomarker"):
        simulate_trial(scenario, seed=1)


def test_cli_rejects_a_missing_scenario_with_exit_2(tmp_path: Path):
    result = CliRunner().invoke(app, ["simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.csv").exists()
