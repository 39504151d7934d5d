"""Every kind of bad input the Cohort contract rules out, through the reader and through the CLI."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import small_config, small_export
from tmesurv import InputError
from tmesurv.cli import app
from tmesurv.config import load_config
from tmesurv.readers import read_cohort


def _set(column, rows, value):
    def mutate(export: pd.DataFrame, config: dict) -> None:
        export[column] = export[column].astype(object)
        export.loc[rows, column] = value

    return mutate


def _missing_column(export, config):
    config["data"]["biomarkers"].append("sii_index")


def _one_arm(export, config):
    export["arm"] = "axi-cel"


def _no_events_in_control(export, config):
    export.loc[export["arm"] == "SOC", "efs_event"] = 0


def _one_value_biomarker(export, config):
    export["cd19_hscore"] = 120


def _duplicated_ids(export, config):
    export.loc[[4, 9], "subject_id"] = "S001"


def _with_dor(export, config):
    """A partial endpoint (duration of response, responders only) and a screened feature."""
    export["dor_time"] = np.where(np.arange(len(export)) % 3 == 0, np.nan, 5.0)
    export["dor_event"] = np.where(np.arange(len(export)) % 3 == 0, np.nan, 1.0)
    config["data"]["endpoints"]["dor"] = {"time": "dor_time", "event": "dor_event", "required": False}


def _half_missing_dor(export, config):
    _with_dor(export, config)
    export.loc[4, "dor_event"] = np.nan


def _text_feature(export, config):
    export["sig_stroma"] = ["high" if i == 6 else str(i) for i in range(len(export))]
    config["data"]["features"] = ["sig_*"]


def _pattern_matches_nothing(export, config):
    config["data"]["features"] = ["io360_*"]


# (case id, mutation, pattern the message must match). Rows are CSV line numbers: data row i is line i + 2.
BAD_INPUTS = [
    ("missing column", _missing_column, r"has no column 'sii_index' \(named by data\.biomarkers"),
    (
        "non-numeric time",
        _set("efs_time", [3], "12 mo"),
        r"column 'efs_time', row 5: time is not a number \('12 mo'\)",
    ),
    ("negative time", _set("efs_time", [2, 6], -1.5), r"column 'efs_time', rows 4, 8: time must be zero or positive"),
    ("infinite time", _set("efs_time", [0], np.inf), r"column 'efs_time', row 2: time must be zero or positive"),
    ("missing time", _set("efs_time", [7], np.nan), r"column 'efs_time', row 9: time is missing"),
    (
        "missing event",
        _set("efs_event", [1], np.nan),
        r"column 'efs_event', row 3: event indicator is missing",
    ),
    (
        "event code 2",
        _set("efs_event", [5, 6], 2),
        r"column 'efs_event', rows 7, 8: event must be 1 .* found 2",
    ),
    (
        "duplicated ids",
        _duplicated_ids,
        r"column 'subject_id', rows 2, 6, 11: duplicated patient ids \(S001\)",
    ),
    ("unknown arm", _set("arm", [10], "placebo"), r"column 'arm', row 12: arm value 'placebo' is neither"),
    ("one arm", _one_arm, r"column 'arm': every row is in the treated arm, none has the control value 'SOC'"),
    ("no events in an arm", _no_events_in_control, r"column 'efs_event' \(endpoint 'efs'\): the control arm has no"),
    (
        "partial endpoint with time but no event",
        _half_missing_dor,
        r"column 'dor_event', row 6: missing, while the endpoint's other column \('dor_time'\) is not",
    ),
    (
        "text in a screened feature",
        _text_feature,
        r"column 'sig_stroma', row 8: a column of data.features must be numeric",
    ),
    ("feature pattern matching nothing", _pattern_matches_nothing, r"the pattern 'io360_\*' in data.features matches"),
    (
        "one-valued biomarker",
        _one_value_biomarker,
        r"column 'cd19_hscore', rows 2, 3, 4, 5, 6 and 35 more: .*one",
    ),
]


@pytest.mark.parametrize(("mutate", "pattern"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_file_column_and_rows(write_study, export, config, mutate, pattern):
    mutate(export, config)
    loaded, _ = load_config(write_study(export, config))
    with pytest.raises(InputError, match=pattern) as raised:
        read_cohort(loaded.data)
    assert "cohort.csv" in str(raised.value)


@pytest.mark.parametrize("mutate", [case[1] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_cli_exits_2_without_traceback_or_output(write_study, export, config, mutate, tmp_path: Path):
    mutate(export, config)
    config_path = write_study(export, config)
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["cox", str(config_path), "--out", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "tmesurv: error:" in result.output
    assert not out.exists()


def test_missing_data_file(write_study, config, tmp_path: Path):
    config_path = write_study(config=config)
    (tmp_path / "cohort.csv").unlink()
    result = CliRunner().invoke(app, ["check", str(config_path)])
    assert result.exit_code == 2
    assert "data file" in result.output
    assert "cohort.csv' does not exist" in result.output


def test_missing_biomarker_values_are_excluded_and_counted(write_study, export, config, tmp_path: Path):
    export.loc[[0, 5, 6], "b_cell_ges"] = np.nan
    loaded, _ = load_config(write_study(export, config))
    cohort = read_cohort(loaded.data)
    assert cohort.n == len(export)
    complete, exclusions = cohort.complete_cases(["b_cell_ges"], analysis="biomarker b_cell_ges")
    assert complete.n == len(export) - 3
    assert [(e.reason, e.ids) for e in exclusions] == [("missing b_cell_ges", ("S001", "S006", "S007"))]
    result = CliRunner().invoke(app, ["check", str(tmp_path / "analysis.yaml")])
    assert result.exit_code == 0
    assert "excluded from biomarker b_cell_ges: 3 patients (missing b_cell_ges)" in result.output


def test_valid_export_becomes_a_cohort(write_study, export):
    loaded, _ = load_config(write_study(export))
    cohort = read_cohort(loaded.data)
    assert cohort.endpoints == ("efs",)
    assert list(cohort.patients.index[:2]) == ["S001", "S002"]
    assert list(cohort.patients["arm"][:2]) == ["treated", "control"]
    np.testing.assert_array_equal(cohort.time("efs"), export["efs_time"])
    np.testing.assert_array_equal(cohort.treated, (export["arm"] == "axi-cel").astype(int))


def test_time_unit_converts_to_months(write_study, export, config):
    config["data"]["time_unit"] = "days"
    loaded, _ = load_config(write_study(export, config))
    cohort = read_cohort(loaded.data)
    np.testing.assert_allclose(cohort.time("efs"), export["efs_time"] / (365.25 / 12), rtol=1e-15)


def test_two_level_text_biomarker_is_coded_0_1(write_study, export, config):
    export["cell_of_origin"] = np.where(np.arange(len(export)) % 3 == 0, "non-GCB", "GCB")
    config["data"]["biomarkers"] = ["cell_of_origin"]
    loaded, _ = load_config(write_study(export, config))
    cohort = read_cohort(loaded.data)
    assert cohort.biomarker_levels["cell_of_origin"] == ("GCB", "non-GCB")
    np.testing.assert_array_equal(cohort.patients["cell_of_origin"], (export["cell_of_origin"] == "non-GCB") * 1.0)


def test_check_prints_patients_events_and_follow_up_per_arm(write_study, export):
    result = CliRunner().invoke(app, ["check", str(write_study(export))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "cohort.csv: 40 patients; endpoint efs (months)"
    assert lines[1].split() == ["arm", "patients", "events", "median_follow_up"]
    treated = export[export["arm"] == "axi-cel"]
    assert lines[2].split()[:3] == ["treated", "20", str(treated["efs_event"].sum())]
    assert lines[-1] == "no exclusions"


def test_check_counts_patients_a_stratified_analysis_leaves_out(write_study, export, config):
    export["aaipi"] = np.where(np.arange(len(export)) % 2 == 0, "0-1", "2-3")
    export.loc[[1, 2], "aaipi"] = np.nan
    config["data"]["strata"] = ["aaipi"]
    result = CliRunner().invoke(app, ["check", str(write_study(export, config))])
    assert result.exit_code == 0, result.output
    assert "excluded from treatment_stratified: 2 patients (missing aaipi)" in result.output


def test_partial_endpoint_features_and_responses(write_study, export, config):
    _with_dor(export, config)
    export["sig_b_cells"] = np.where(np.arange(len(export)) == 2, np.nan, np.arange(len(export)) / 10)
    export["sig_stroma"] = np.arange(len(export)) % 5
    export["response_group"] = ["ongoing", "relapsed", None, "no_response"] * (len(export) // 4)
    config["data"] |= {"features": ["sig_*", "b_cell_ges"], "responses": ["response_group"]}
    loaded, _ = load_config(write_study(export, config))
    cohort = read_cohort(loaded.data)
    assert cohort.features == ("sig_b_cells", "sig_stroma", "b_cell_ges")
    assert cohort.patients["sig_b_cells"].isna().sum() == 1
    assert cohort.patients["response_group"].isna().sum() == len(export) // 4
    assert cohort.partial_endpoints == ("dor",)
    responders, exclusions = cohort.with_endpoint("dor")
    without = export["dor_time"].isna().to_numpy()
    assert responders.n == len(export) - without.sum()
    assert exclusions[0].ids == tuple(export.loc[without, "subject_id"])
    np.testing.assert_array_equal(responders.event("dor"), 1)


def test_single_arm_cohort_reads_for_validation_but_not_for_cox(write_study, export, config, tmp_path: Path):
    del config["data"]["arm"]
    config["data"]["single_arm"] = "treated"
    export = export.drop(columns="arm")
    loaded, _ = load_config(write_study(export, config))
    cohort = read_cohort(loaded.data)
    assert set(cohort.patients["arm"]) == {"treated"}
    result = CliRunner().invoke(app, ["cox", str(tmp_path / "analysis.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "single-arm cohort" in result.output
    checked = CliRunner().invoke(app, ["check", str(tmp_path / "analysis.yaml")])
    assert checked.exit_code == 0, checked.output
    assert "treated" in checked.output
    assert "control" not in checked.output


@pytest.mark.usefixtures("undrawn_figures")  # the tables, not the figures
@pytest.mark.parametrize(
    ("treated", "control", "written"),
    [(1, 0, {"axi-cel": "1", "SOC": "0"}), (True, False, {"axi-cel": "TRUE", "SOC": "FALSE"}), (2, 1, None)],
    ids=["integers", "booleans as R writes them", "integers as floats"],
)
def test_arm_codes_compare_as_the_columns_values_and_give_identical_results(tmp_path: Path, treated, control, written):
    runs = {}
    for name, coding in (("text", None), ("coded", written or {"axi-cel": "2.0", "SOC": "1.0"})):
        folder = tmp_path / name
        folder.mkdir()
        export, config = small_export(), small_config()
        if coding is not None:
            export["arm"] = export["arm"].map(coding)
            config["data"]["arm"] |= {"treated": treated, "control": control}
        export.to_csv(folder / "cohort.csv", index=False)
        (folder / "analysis.yaml").write_text(yaml.safe_dump(config))
        result = CliRunner().invoke(app, ["cox", str(folder / "analysis.yaml"), "--out", str(folder / "out")])
        assert result.exit_code == 0, result.output
        runs[name] = {p.name: p.read_bytes() for p in (folder / "out").glob("*.csv")}
    assert runs["coded"] == runs["text"]


def test_the_same_code_for_both_arms_is_refused(write_study, export, config):
    config["data"]["arm"] |= {"treated": 1, "control": "1"}
    with pytest.raises(InputError, match="treated and control are the same value"):
        load_config(write_study(export, config))


def test_a_header_only_file_says_it_has_no_rows(write_study, export, config):
    loaded, _ = load_config(write_study(export.iloc[:0], config))
    with pytest.raises(InputError, match=r"file 'cohort\.csv' has no rows \(columns: subject_id, arm"):
        read_cohort(loaded.data)


def test_one_text_value_in_a_numeric_biomarker_is_counted_exactly(write_study, export, config):
    export["cd19_hscore"] = export["cd19_hscore"].astype(object)
    export.loc[4, "cd19_hscore"] = "n/a?"
    loaded, _ = load_config(write_study(export, config))
    with pytest.raises(InputError, match=r"row 6: 1 value of this biomarker is not a number \('n/a\?'\)"):
        read_cohort(loaded.data)


def test_a_prognostic_model_is_developed_on_a_single_arm_cohort(synthetic, tmp_path: Path):
    model = {"terms": ["b_cell_ges", "ldh", "age"]}
    development = synthetic.write(tmp_path, "dev", synthetic.trial(400, 1, single_arm="treated"), "treated", model)
    external = synthetic.write(tmp_path, "ext", synthetic.trial(300, 2, single_arm="treated"), "treated")
    result = CliRunner().invoke(app, ["cox", str(development), "--out", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert "between-arm analyses (Cox treatment, interaction and subgroup models, log-rank tests) are skipped" in (
        result.output
    )
    assert (tmp_path / "model" / "validation_model.json").is_file()
    assert not (tmp_path / "model" / "cox.csv").exists()
    scored = CliRunner().invoke(
        app, ["validate", str(tmp_path / "model"), str(external), "--out", str(tmp_path / "v"), "--bootstrap", "0"]
    )
    assert scored.exit_code == 0, scored.output
    metrics = pd.read_csv(tmp_path / "v" / "validation.csv").set_index("metric")  # values checked against R elsewhere
    assert np.isfinite(metrics.loc[["harrell_c", "uno_c"], "estimate"]).all()


def test_a_single_arm_prognostic_model_cannot_have_an_arm_interaction(synthetic, tmp_path: Path):
    model = {"terms": ["b_cell_ges", "ldh"], "interaction": "b_cell_ges"}
    config = synthetic.write(tmp_path, "dev", synthetic.trial(100, 1, single_arm="treated"), "treated", model)
    result = CliRunner().invoke(app, ["cox", str(config), "--out", str(tmp_path / "model")])
    assert result.exit_code == 2
    assert "validation_model has an arm term (interaction or arm_effect), which needs two arms" in result.output
