"""Proportional-hazards tests against R's ``survival::cox.zph`` (survival >= 3.0).

Reference files are made by ``Rscript tests/reference/cox_zph.R`` (run from the repository root); the tests need no
R. The kernel is checked alone on R's lung data from R's own coefficients (ties, strata, Breslow, a covariate
constant within strata); the tables of :func:`cox_analyses` on every model ``tmesurv cox`` fits on veteran.yaml and
colon.yaml, at tmesurv's own (lifelines) coefficients, which differ from R's by up to about 1e-8.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.config import load_config
from tmesurv.models.cox.analyses import cox_analyses
from tmesurv.models.cox.ph_test import (
    PH_RESIDUAL_COLUMNS,
    PH_TEST_COLUMNS,
    RESIDUAL_ANALYSES,
    TRANSFORMS,
    FittedCox,
    cox_zph,
    ph_tables,
)
from tmesurv.readers import read_cohort

REFERENCE = Path(__file__).parents[2] / "reference"
KEYS = ["endpoint", "analysis", "subgroup", "model", "term", "transform"]
DAYS_PER_MONTH = 365.25 / 12
LUNG_MODELS = {
    "efron": (["age", "sex", "wt_loss"], "efron", None),
    "breslow": (["age", "sex", "wt_loss"], "breslow", None),
    "stratified": (["age", "sex"], "efron", "ph_ecog"),
    "constant_in_strata": (["age", "male_ecog1"], "efron", "ph_ecog"),
}


@pytest.fixture(scope="module", params=["veteran", "colon"])
def study(request):
    """Every model of ``tmesurv cox`` on the study, tested with every transform, and R's values for it."""
    config, _ = load_config(REFERENCE / f"{request.param}.yaml")
    cohort = read_cohort(config.data)
    results = cox_analyses(cohort, config.analysis.endpoint, config.analysis, ph_transforms=TRANSFORMS)
    reference = pd.read_csv(REFERENCE / "cox_zph_r.csv").query("dataset == @request.param")
    residuals = pd.read_csv(REFERENCE / "cox_zph_residuals_r.csv").query("dataset == @request.param")
    return request.param, results, reference, residuals


def test_hand_computed_score_test():
    """Four deaths at 1..4, x = 1, 0, 1, 0, beta = 0, g(t) = t: risk-set variances 1/4, 2/9, 1/4, 0 and
    Schoenfeld residuals 1/2, -1/3, 1/2, 0 give U = -1/3 and the information [[13/18, -13/36], [-13/36, 49/72]],
    so chisq = U^2 [I^-1]_22 = (1/9) * 2; the scaled residuals are the residuals over 13/18 / 4 = 13/72."""
    test = cox_zph(np.arange(1.0, 5.0), np.ones(4), np.array([1.0, 0, 1, 0]), np.zeros(1), transform="identity")
    np.testing.assert_allclose(test.chisq, [2 / 9, 2 / 9], rtol=1e-14)
    np.testing.assert_array_equal(test.df, [1, 1])
    np.testing.assert_allclose(test.residuals[:, 0], np.array([1 / 2, -1 / 3, 1 / 2, 0]) * 72 / 13, atol=1e-14)
    np.testing.assert_array_equal(test.transformed_time, [1, 2, 3, 4])


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("model", LUNG_MODELS)
def test_kernel_equals_r_on_lung(model, transform):
    lung = pd.read_csv(REFERENCE / "cox_zph_lung.csv")
    columns, ties, strata = LUNG_MODELS[model]
    reference = pd.read_csv(REFERENCE / "cox_zph_lung_r.csv").query("model == @model and transform == @transform")
    residuals = pd.read_csv(REFERENCE / "cox_zph_lung_residuals_r.csv").query(
        "model == @model and transform == @transform"
    )
    assert reference["term"].tolist() == [*columns, "GLOBAL"]
    test = cox_zph(
        lung["time"].to_numpy(),
        lung["status"].to_numpy(),
        lung[columns].to_numpy(),
        reference["coef"].to_numpy()[:-1],
        None if strata is None else lung[strata].to_numpy(),
        transform,
        ties,
    )
    np.testing.assert_allclose(test.chisq, reference["chisq"], rtol=1e-10)
    np.testing.assert_array_equal(test.df, reference["df"])
    np.testing.assert_allclose(test.p, reference["p"], rtol=1e-10)
    expected = np.column_stack([residuals.loc[residuals["term"] == c, "residual"] for c in columns])
    np.testing.assert_allclose(test.residuals, expected, rtol=1e-10, atol=1e-12)  # NaN where R has NA
    first = residuals.query("term == @columns[0]")
    np.testing.assert_array_equal(test.time, first["time"])
    np.testing.assert_allclose(test.transformed_time, first["transformed_time"], rtol=1e-13, atol=1e-15)
    if model == "constant_in_strata":  # male_ecog1 varies only in ph_ecog = 1: no residual in the other strata
        assert np.isnan(test.residuals[:, 1]).sum() == (lung.query("ph_ecog != 1")["status"] == 1).sum()


def test_ph_table_equals_r_cox_zph_for_every_model_term_and_transform(study):
    _, results, reference, _ = study
    ours = results.ph_test
    assert list(ours.columns) == PH_TEST_COLUMNS
    assert not ours.duplicated(KEYS).any()
    assert sorted(map(tuple, ours[KEYS].to_numpy())) == sorted(map(tuple, reference[KEYS].to_numpy()))
    merged = ours.merge(reference, on=KEYS, suffixes=("", "_r"))
    np.testing.assert_array_equal(merged["df"], merged["df_r"])
    np.testing.assert_allclose(merged["chisq"], merged["chisq_r"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(merged["p"], merged["p_r"], rtol=1e-6, atol=0)
    # every Cox row has its PH row, and every model a GLOBAL row
    cox_keys = results.table[["endpoint", "analysis", "subgroup", "term"]].drop_duplicates()
    assert len(cox_keys.merge(ours.query("transform == 'km'"))) == len(results.table)
    model = ["endpoint", "analysis", "subgroup", "model", "transform"]
    terms = ours.query("term != 'GLOBAL'").groupby(model).size().rename("terms").reset_index()
    global_rows = ours.query("term == 'GLOBAL'").merge(terms, on=model, validate="one_to_one")
    assert len(global_rows) == len(terms)
    np.testing.assert_array_equal(global_rows["df"], global_rows["terms"])


def test_issue_values(study):
    """The P-values quoted in issue 17: veteran karno and colon node4, their terms of the interaction model."""
    name, results, _, _ = study
    biomarker, decimals, quoted = {"veteran": ("karno", 4, 0.0008), "colon": ("node4", 3, 0.006)}[name]
    table = results.ph_test
    rows = table[(table["analysis"] == "interaction") & (table["term"] == biomarker) & (table["transform"] == "km")]
    assert rows["p"].round(decimals).tolist() == [quoted]


def test_residual_points_equal_r(study):
    _, results, _, reference = study
    ours = results.ph_residuals.query("transform == 'km'")
    assert list(ours.columns) == PH_RESIDUAL_COLUMNS
    assert set(ours["analysis"]) == set(RESIDUAL_ANALYSES) == set(reference["analysis"])
    keys = ["endpoint", "analysis", "subgroup", "term"]
    ours = ours.assign(event=ours.groupby(keys).cumcount() + 1)
    merged = ours.merge(reference, on=[*keys, "event"], suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(ours) == len(reference)
    np.testing.assert_allclose(merged["time"] * DAYS_PER_MONTH, merged["time_r"], rtol=1e-13)
    np.testing.assert_allclose(merged["transformed_time"], merged["transformed_time_r"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(merged["residual"], merged["residual_r"], rtol=0, atol=1e-6)


def test_models_not_estimated_have_nan_rows_and_their_notes():
    """No events among the treated with adeno cell type: the treated within-arm celltype model (adeno is its reference
    level) and the adeno subgroup's model are not estimated; they, and only they, have NaN PH rows."""
    config, _ = load_config(REFERENCE / "veteran.yaml")
    cohort = read_cohort(config.data)
    patients = cohort.patients.copy()
    silenced = (patients["arm"] == "treated") & (patients["celltype"] == "adeno")
    patients.loc[silenced, "os.event"] = 0
    results = cox_analyses(replace(cohort, patients=patients), config.analysis.endpoint, config.analysis)
    missing = results.ph_test[results.ph_test["chisq"].isna()]
    celltype = ["celltype=large", "celltype=smallcell", "celltype=squamous"]
    assert missing[["analysis", "subgroup", "term"]].to_numpy().tolist() == [
        *(["within_arm", "treated", term] for term in [*celltype, "GLOBAL"]),
        ["subgroup", "celltype=adeno", "arm"],
        ["subgroup", "celltype=adeno", "GLOBAL"],
    ]
    assert missing["p"].isna().all()
    assert missing["df"].tolist() == [1, 1, 1, 3, 1, 1]
    not_estimated = [note for note in results.notes if "not estimated" in note]
    assert [note.split(":")[0] for note in not_estimated] == ["os within_arm treated", "os subgroup celltype=adeno"]


def test_a_singular_test_is_nan_with_a_note():
    """All deaths at one time: g(t) minus its mean over the deaths is 0, so the time terms carry no information."""
    model = FittedCox(
        endpoint="os",
        analysis="treatment",
        subgroup="all",
        time=np.array([1.0, 1, 2, 3, 4, 5]),
        event=np.array([1, 1, 0, 0, 0, 0]),
        design=pd.DataFrame({"arm": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]}),
        strata=None,
        coef=np.array([0.1]),
    )
    notes = []
    table, residuals = ph_tables([model], ("km", "rank"), notes)
    assert table["chisq"].isna().all()
    assert table["p"].isna().all()
    assert len(notes) == 2
    assert "PH test (km) not computed" in notes[0]
    assert len(residuals) == 2 * 2  # two deaths, two transforms: the residuals do not need the test


def test_a_stratum_without_events_changes_nothing():
    """With g(t) = t (centred over the deaths), patients of a stratum without deaths add no risk set and no death."""
    time, event = np.arange(1.0, 9.0), np.array([1, 1, 0, 1, 0, 0, 1, 0])
    x, stratum = np.array([1.0, 0, 1, 0, 1, 0, 1, 0]), np.array([0, 0, 0, 0, 0, 1, 0, 1])
    with_empty = cox_zph(time, event, x, np.array([0.3]), stratum, "identity")
    kept = stratum == 0
    without = cox_zph(time[kept], event[kept], x[kept], np.array([0.3]), None, "identity")
    np.testing.assert_allclose(with_empty.chisq, without.chisq, rtol=1e-13)
    np.testing.assert_allclose(with_empty.residuals, without.residuals, rtol=1e-13)


def test_a_covariate_without_variance_at_the_deaths_gives_nan_not_an_error():
    """x = 1 only for a patient censored before the first death: no information, no test, no residual."""
    test = cox_zph(np.array([1.0, 2, 3]), np.array([0, 1, 1]), np.array([1.0, 0, 0]), np.zeros(1))
    assert np.isnan(test.chisq).all()
    assert np.isnan(test.residuals).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"coef": np.zeros(2)}, "expected 1 coefficients"),
        ({"transform": "log"}, "transform must be one of"),
        ({"event": np.zeros(4)}, "at least one event"),
        ({"time": np.array([1.0, np.nan, 3, 4])}, "must be finite"),
    ],
)
def test_kernel_refuses_bad_arguments(change, message):
    arguments = {"time": np.arange(1.0, 5.0), "event": np.ones(4), "covariates": np.array([1.0, 0, 1, 0])}
    arguments["coef"] = np.zeros(1)
    with pytest.raises(ValueError, match=message):
        cox_zph(**(arguments | change))
