"""Association screens against R (coxph, wilcox.test, kruskal.test, cor.test, glm, p.adjust), plus edge cases.

Reference files are made by ``Rscript tests/reference/screens.R`` (from the repository root) from the committed
``zuma7_trial.csv``; the tests need no R. The features include the 46 signature scores and nine other biomarkers
with their own missing values, so several missingness patterns (and ties) are exercised.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.models.screens.association import (
    CONSTANT,
    COX_SCREEN_COLUMNS,
    INESTIMABLE,
    KRUSKAL_COLUMNS,
    LOGISTIC_COLUMNS,
    MONOTONE,
    NO_PATIENTS,
    ONE_OUTCOME,
    RANK_SUM_COLUMNS,
    SEPARATED,
    SPEARMAN_COLUMNS,
    bh_qvalues,
    cox_screen,
    kruskal_screen,
    logistic_screen,
    rank_sum_screen,
    spearman_pairs,
)

REFERENCE = Path(__file__).parents[2] / "reference"
OTHERS = [
    "b_cell_ges",
    "bpi",
    "sii",
    "cluster3_index",
    "cluster4_index",
    "cd19_gene",
    "cd19_hscore",
    "spd_mm2",
    "ldh_ul",
]
ANALYTES = ["cd19_gene", "cd19_hscore", "spd_mm2", "ldh_ul", "b_cell_ges", "sii"]
TIGHT = {"rtol": 1e-9, "atol": 1e-15}


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "zuma7_trial.csv")


@pytest.fixture(scope="module")
def features(trial) -> list[str]:
    return [c for c in trial.columns if c.startswith("sig_")] + OTHERS


def reference(name: str, **selection) -> pd.DataFrame:
    table = pd.read_csv(REFERENCE / f"screens_{name}.csv", keep_default_na=False, na_values=["NA"])
    for column, value in selection.items():
        table = table[table[column] == value]
    return table.reset_index(drop=True)


def assert_columns_equal(ours: pd.DataFrame, theirs: pd.DataFrame, columns: list[str], **tolerance) -> None:
    for column in columns:
        np.testing.assert_allclose(ours[column], theirs[column], err_msg=column, **tolerance)


@pytest.mark.parametrize(
    ("screen", "arm", "endpoint"),
    [("efs_axi-cel", "axi-cel", "efs"), ("efs_SOC", "SOC", "efs"), ("dor_axi-cel", "axi-cel", "dor")],
)
def test_cox_screen_equals_r_coxph(trial, features, screen, arm, endpoint):
    patients = trial[trial["arm"] == arm]
    ours = cox_screen(patients[features], patients[f"{endpoint}_time"], patients[f"{endpoint}_event"])
    theirs = reference("cox", screen=screen)
    assert list(ours.columns) == COX_SCREEN_COLUMNS
    assert list(ours["feature"]) == list(theirs["feature"])
    assert (ours["note"] == "").all()
    np.testing.assert_array_equal(ours[["n", "events"]], theirs[["n", "events"]])
    assert_columns_equal(ours, theirs, ["coef", "se", "hr", "hr_lower", "hr_upper", "p", "q"], **TIGHT)


@pytest.mark.parametrize("screen", ["ongoing_axi-cel", "ongoing_subset30"])
def test_rank_sum_screen_equals_r_wilcox_test(trial, features, screen):
    patients = trial[trial["arm"] == "axi-cel"]
    if screen == "ongoing_subset30":
        patients = patients[patients["sig_b_cells"].notna()].iloc[:30]
    ours = rank_sum_screen(patients[features], (patients["response_group"] == "ongoing").to_numpy())
    theirs = reference("wilcox", screen=screen)
    assert list(ours.columns) == RANK_SUM_COLUMNS
    assert list(ours["feature"]) == list(theirs["feature"])
    assert list(ours["method"]) == list(theirs["method"])
    np.testing.assert_array_equal(ours[["n_group", "n_rest", "statistic"]], theirs[["n_group", "n_rest", "statistic"]])
    assert_columns_equal(ours, theirs, ["median_group", "median_rest", "median_difference", "p", "q"], **TIGHT)


def test_rank_sum_uses_r_exact_rule(trial, features):
    small = reference("wilcox", screen="ongoing_subset30")
    large = reference("wilcox", screen="ongoing_axi-cel")
    assert (small["method"] == "exact").sum() >= 50  # all but the tied cd19_hscore
    assert small.loc[small["feature"] == "cd19_hscore", "method"].item() == "normal"
    assert (large["method"] == "normal").all()  # both groups have 50 patients or more


def test_kruskal_screen_equals_r_kruskal_test(trial, features):
    patients = trial[trial["arm"] == "axi-cel"]
    ours = kruskal_screen(patients[features], patients["response_group"])
    theirs = reference("kruskal")
    medians = ["median_no_response", "median_ongoing", "median_relapsed"]
    assert list(ours.columns) == KRUSKAL_COLUMNS + medians
    assert list(ours["feature"]) == list(theirs["feature"])
    np.testing.assert_array_equal(ours[["n", "groups", "df"]], theirs[["n", "groups", "df"]])
    assert_columns_equal(ours, theirs, ["statistic", "p", "q", *medians], **TIGHT)


@pytest.mark.parametrize(("screen", "methods"), [("all", {"t", "edgeworth"}), ("subset8", {"exact"})])
def test_spearman_pairs_equal_r_cor_test(trial, screen, methods):
    patients = trial if screen == "all" else trial[trial[ANALYTES].notna().all(axis=1)].iloc[:8]
    ours = spearman_pairs(patients, ANALYTES)
    theirs = reference("spearman", screen=screen)
    assert list(ours.columns) == SPEARMAN_COLUMNS
    assert list(zip(ours["x"], ours["y"], strict=True)) == list(zip(theirs["x"], theirs["y"], strict=True))
    assert set(ours["method"]) == methods
    np.testing.assert_array_equal(ours["n"], theirs["n"])
    np.testing.assert_allclose(ours["statistic"], theirs["S"], rtol=1e-12)
    assert_columns_equal(ours, theirs, ["rho", "p", "q"], **TIGHT)


def test_logistic_screen_equals_r_glm(trial, features):
    patients = trial[trial["arm"] == "axi-cel"]
    ours = logistic_screen(patients[features], (patients["best_response"] == "CR").to_numpy(dtype=float))
    assert list(ours.columns) == LOGISTIC_COLUMNS
    assert (ours["note"] == "").all()
    columns = ["coef", "se", "odds_ratio", "or_lower", "or_upper", "p", "q"]
    at_mle = reference("logistic", fit="at_mle")
    assert list(ours["feature"]) == list(at_mle["feature"])
    np.testing.assert_array_equal(ours[["n", "events"]], at_mle[["n", "events"]])
    assert_columns_equal(ours, at_mle, columns, **TIGHT)
    # glm as run by default takes its standard errors one IRLS step before its estimate (see screens.R)
    assert_columns_equal(ours, reference("logistic", fit="default"), columns, rtol=0, atol=1e-6)


def test_bh_qvalues_by_hand():
    # sorted p 0.005, 0.01, 0.03, 0.04 (m = 4): p m / rank = 0.02, 0.02, 0.04, 0.04, then running minimum from the top
    np.testing.assert_allclose(bh_qvalues([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02], rtol=1e-15)
    # running minimum: 0.05 * 3 / 2 = 0.075 is lowered to the 0.06 of the largest p
    np.testing.assert_allclose(bh_qvalues([0.01, 0.05, 0.06]), [0.03, 0.06, 0.06], rtol=1e-15)


def test_bh_qvalues_leave_nan_out_of_the_count():
    q = bh_qvalues([0.01, np.nan, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04, 0.04, 0.02], rtol=1e-15)
    assert np.isnan(bh_qvalues([np.nan, np.nan])).all()
    assert bh_qvalues([]).shape == (0,)


@pytest.fixture
def survival() -> pd.DataFrame:
    rng = np.random.default_rng(20240611)
    n = 60
    marker = rng.standard_normal(n)
    time = rng.exponential(10 * np.exp(-0.5 * marker))
    event = (rng.random(n) < 0.7).astype(float)
    gappy = np.where(rng.random(n) < 0.2, np.nan, rng.standard_normal(n))
    return pd.DataFrame({"time": time, "event": event, "marker": marker, "gappy": gappy})


def test_cox_screen_monotone_constant_and_empty_features_give_nan(survival):
    features = pd.DataFrame(
        {
            "marker": survival["marker"],
            "separates": survival["event"],  # every event is at level 1: the hazard ratio is infinite
            "constant": 1.0,
            "empty": np.nan,
            "gappy": survival["gappy"],
        }
    )
    ours = cox_screen(features, survival["time"], survival["event"]).set_index("feature")
    assert list(ours["note"]) == ["", MONOTONE, INESTIMABLE, NO_PATIENTS, ""]
    assert ours.loc[["separates", "constant", "empty"], ["coef", "se", "hr", "p", "q"]].isna().all(axis=None)
    assert ours.loc["empty", "n"] == 0
    # the q of the two estimable features counts two tests only
    np.testing.assert_allclose(ours.loc[["marker", "gappy"], "q"], bh_qvalues(ours.loc[["marker", "gappy"], "p"]))


def test_cox_screen_leaves_out_missing_values_per_feature(survival):
    features = survival[["marker", "gappy"]]
    both = cox_screen(features, survival["time"], survival["event"]).set_index("feature")
    known = survival["gappy"].notna()
    alone = cox_screen(features[known][["gappy"]], survival["time"][known], survival["event"][known])
    assert both.loc["marker", "n"] == len(survival)
    assert both.loc["gappy", "n"] == known.sum() < len(survival)
    columns = ["coef", "se", "p"]
    np.testing.assert_allclose(both.loc["gappy", columns].to_numpy(float), alone[columns].iloc[0].to_numpy(float))


def test_cox_screen_leaves_out_patients_without_an_outcome(survival):
    time = survival["time"].where(survival.index % 5 != 0)  # e.g. non-responders have no duration of response
    ours = cox_screen(survival[["marker"]], time, survival["event"])
    kept = survival[time.notna()]
    expected = cox_screen(kept[["marker"]], kept["time"], kept["event"])
    assert ours["n"].item() == len(kept)
    np.testing.assert_allclose(ours["coef"], expected["coef"])


def test_rank_sum_fold_change_columns():
    features = pd.DataFrame({"linear": [1.0, 2, 4, 8, 16, 32], "log2": [-1.0, -2, 0.5, 1, 2, np.nan]})
    group = np.array([False, False, False, True, True, True])
    ours = rank_sum_screen(features, group).set_index("feature")
    assert ours.loc["linear", "log2_fold_change"] == pytest.approx(np.log2(16 / 2))
    assert ours.loc["linear", "median_difference"] == pytest.approx(14)
    assert ours.loc["linear", "statistic"] == 9  # every group value beats every other value
    assert ours.loc["linear", "p"] == pytest.approx(0.1)  # exact: 2 / C(6, 3)
    assert np.isnan(ours.loc["log2", "log2_fold_change"])  # median of the rest is negative
    assert ours.loc["log2", "median_difference"] == pytest.approx(1.5 - -1)
    assert (ours.loc["log2", "n_group"], ours.loc["log2", "n_rest"]) == (2, 3)


def test_rank_sum_empty_group_gives_nan():
    features = pd.DataFrame({"x": [1.0, 2, 3, np.nan]})
    ours = rank_sum_screen(features, np.array([False, False, False, True]))
    assert ours["n_group"].item() == 0
    assert ours[["statistic", "p", "q", "median_group"]].isna().all(axis=None)


def test_kruskal_leaves_out_missing_labels_and_empty_groups():
    features = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, np.nan, np.nan], "flat": 1.0})
    groups = ["a", "a", "b", "b", None, "c", "c", "c"]
    ours = kruskal_screen(features, groups).set_index("feature")
    assert (ours.loc["x", "n"], ours.loc["x", "groups"], ours.loc["x", "df"]) == (5, 3, 2)
    assert ours.loc["x", "median_c"] == 6
    assert np.isnan(ours.loc["flat", "p"])  # all values tied


@pytest.mark.parametrize("n", [3, 5, 9])
def test_spearman_exact_p_of_a_perfect_ranking(n):
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), "y": np.arange(n, dtype=float) ** 2})
    ours = spearman_pairs(frame, ["x", "y"])
    assert ours["rho"].item() == pytest.approx(1)
    assert ours["method"].item() == "exact"
    assert ours["p"].item() == pytest.approx(2 / np.prod(np.arange(1, n + 1)))  # one of n! rankings, two-sided


def test_spearman_constant_column_gives_nan():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": 2.0})
    assert spearman_pairs(frame, ["x", "y"])[["rho", "p"]].isna().all(axis=None)


def test_logistic_separation_and_one_outcome_give_nan_and_a_note():
    outcome = np.array([0.0, 0, 0, 0, 1, 1, 1, 1])
    features = pd.DataFrame(
        {
            "separates": [1.0, 2, 3, 4, 5, 6, 7, 8],
            "touches": [1.0, 2, 3, 5, 5, 6, 7, 8],  # quasi-complete: the groups share one value only
            "constant": 3.0,
            "overlaps": [1.0, 5, 3, 7, 2, 6, 4, 8],
            "only_events": [np.nan, np.nan, np.nan, np.nan, 1, 2, 3, 4],
        }
    )
    ours = logistic_screen(features, outcome).set_index("feature")
    assert list(ours["note"]) == [SEPARATED, SEPARATED, CONSTANT, "", ONE_OUTCOME]
    assert ours.drop(index="overlaps")[["coef", "se", "odds_ratio", "p", "q"]].isna().all(axis=None)
    assert np.isfinite(ours.loc["overlaps", ["coef", "se", "p", "q"]].to_numpy(float)).all()
    assert ours.loc["overlaps", "q"] == ours.loc["overlaps", "p"]  # the only test counted


def test_inputs_are_checked():
    features = pd.DataFrame({"x": [1.0, 2, 3], "label": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"features \['label'\] are not numeric"):
        cox_screen(features, [1.0, 2, 3], [1, 0, 1])
    with pytest.raises(ValueError, match="time has shape"):
        cox_screen(features[["x"]], [1.0, 2], [1, 0])
    with pytest.raises(ValueError, match="event must be 0 or 1"):
        cox_screen(features[["x"]], [1.0, 2, 3], [1, 2, 1])
    with pytest.raises(ValueError, match="in_group must be boolean"):
        rank_sum_screen(features[["x"]], np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="outcome must be 0 or 1"):
        logistic_screen(features[["x"]], [0.0, 1, 0.5])
    with pytest.raises(ValueError, match=r"columns \['missing'\] are not in the frame"):
        spearman_pairs(features, ["x", "missing"])
    with pytest.raises(TypeError, match="pandas DataFrame"):
        cox_screen(np.ones((3, 1)), [1.0, 2, 3], [1, 0, 1])
