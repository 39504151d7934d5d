"""The screens a config asks for, run on a cohort, against R (tests/reference/screens.R on the same export)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.config import load_config
from tmesurv.models.screens.analyses import screen_analyses
from tmesurv.readers import read_cohort

REFERENCE = Path(__file__).parents[2] / "reference"
ARM_NAMES = {"treated": "axi-cel", "control": "SOC"}


@pytest.fixture(scope="module")
def screened():
    config, _ = load_config(REFERENCE / "zuma7_screens.yaml")
    cohort = read_cohort(config.data)
    return cohort, screen_analyses(cohort, config.screens)


def _compare(ours: pd.DataFrame, reference: pd.DataFrame, columns: list[str], rtol: float = 1e-9) -> None:
    merged = ours.merge(reference, on="feature" if "feature" in ours else ["x", "y"], suffixes=("", "_r"))
    assert len(merged) == len(reference) == len(ours)
    for column in columns:
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=rtol, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(("endpoint", "arm"), [("efs", "treated"), ("efs", "control"), ("dor", "treated")])
def test_cox_screen_per_arm_and_endpoint_equals_r(screened, endpoint, arm):
    _, results = screened
    table = results.tables["screen_cox"]
    ours = table[(table["endpoint"] == endpoint) & (table["arm"] == arm)]
    reference = pd.read_csv(REFERENCE / "screens_cox.csv")
    reference = reference[reference["screen"] == f"{endpoint}_{ARM_NAMES[arm]}"]
    _compare(ours, reference, ["n", "events", "coef", "se", "hr", "p", "q"])


def test_response_screens_in_the_treated_arm_equal_r(screened):
    _, results = screened
    rank_sum = results.tables["screen_response"]
    reference = pd.read_csv(REFERENCE / "screens_wilcox.csv")
    reference = reference[reference["screen"] == "ongoing_axi-cel"]
    _compare(rank_sum[rank_sum["arm"] == "treated"], reference, ["n_group", "n_rest", "statistic", "p", "q"])
    kruskal = results.tables["screen_response_groups"]
    reference = pd.read_csv(REFERENCE / "screens_kruskal.csv")
    _compare(kruskal[kruskal["arm"] == "treated"], reference, ["n", "statistic", "p", "q", "median_ongoing"])
    logistic = results.tables["screen_complete_response"]
    reference = pd.read_csv(REFERENCE / "screens_logistic.csv")
    reference = reference[reference["fit"] == "at_mle"]
    _compare(logistic[logistic["arm"] == "treated"], reference, ["n", "events", "coef", "se", "p", "q"], rtol=1e-8)


def test_correlations_equal_r(screened):
    _, results = screened
    reference = pd.read_csv(REFERENCE / "screens_spearman.csv")
    _compare(results.tables["correlations"], reference[reference["screen"] == "all"], ["n", "rho", "p", "q"])


def test_partial_endpoint_and_missing_values_are_counted(screened):
    cohort, results = screened
    missing_dor = cohort.patients["dor.time"].isna()
    reasons = {exclusion.reason: exclusion for exclusion in results.exclusions}
    assert reasons["no dor (time and event missing)"].count == missing_dor.sum() > 0
    assert set(reasons["no dor (time and event missing)"].ids) == set(cohort.patients.index[missing_dor])
    dor = results.tables["screen_cox"].query("endpoint == 'dor'")
    responders = cohort.patients[~missing_dor]
    for arm in ("treated", "control"):
        in_arm = responders[responders["arm"] == arm]
        expected = in_arm["sig_b_cells"].notna().sum()
        assert dor.loc[(dor["arm"] == arm) & (dor["feature"] == "sig_b_cells"), "n"].item() == expected


def test_clusters_indices_and_pca_cover_the_features(screened):
    cohort, results = screened
    clusters = results.tables["clusters"]
    assert sorted(clusters["feature"]) == sorted(cohort.features)
    assert set(clusters["cluster"]) == {1, 2, 3, 4}
    indices = results.tables["cluster_indices"].pivot_table(index="id", columns="cluster", values="index", dropna=False)
    members = clusters.loc[clusters["cluster"] == 1, "feature"]
    expected = np.sqrt((cohort.patients[members] ** 2).mean(axis=1, skipna=False))
    np.testing.assert_allclose(indices["cluster1"].loc[expected.index], expected, rtol=1e-12)
    selected = set(results.tables["pca_loadings"]["feature"])
    screened_q = pd.concat([results.tables["screen_cox"], results.tables["screen_response"]])
    assert selected == set(screened_q.loc[screened_q["q"] < 0.05, "feature"])


def test_cox_command_writes_the_screens_and_their_figures(tmp_path: Path):
    from typer.testing import CliRunner

    from tmesurv.cli import app

    result = CliRunner().invoke(app, ["cox", str(REFERENCE / "zuma7_screens.yaml"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for table in ["screen_cox", "screen_response", "screen_response_groups", "correlations", "clusters", "pca_scores"]:
        assert len(pd.read_csv(tmp_path / f"{table}.csv")) > 0
    figures = {path.name for path in (tmp_path / "figures").iterdir()}
    expected = ["km_efs", "km_efs_b_cell_ges", "forest_efs", "volcano_cox_dor_treated", "volcano_response_treated"]
    expected += ["response_boxes_treated", "signature_clusters", "pca"]
    for stem in expected:
        assert {f"{stem}.png", f"{stem}.svg"} <= figures, stem
        assert (tmp_path / "figures" / f"{stem}.png").stat().st_size > 10_000
    assert not [name for name in figures if name.endswith(".part")]
