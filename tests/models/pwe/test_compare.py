"""PSIS-LOO a block of patients at a time equals ArviZ's on the whole log-likelihood; models compared as az.compare."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from tmesurv.models.pwe import compare
from tmesurv.models.pwe.compare import (
    LOO_COLUMNS,
    add_loo,
    clearly_better,
    full_log_likelihood,
    loo_table,
    patient_blocks,
    preference,
    stored_loo,
)
from tmesurv.models.pwe.fit import pointwise_log_likelihood
from tmesurv.models.pwe.registry import PH, TIME_VARYING, bayes_model
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.models.pwe.storage import PweFit, load_posteriors, save_posteriors

SAMPLER = SamplerSettings(draws=150, tune=150, chains=2, seed=3)


@pytest.fixture(scope="module")
def fits():
    """A PH and a time-varying fit of one small cohort, whose hazard ratio changes at month 6."""
    from tests.models.conftest import simulated_pwe_cohort

    time, event, design = simulated_pwe_cohort(seed=8, n=120)
    settings = PweSettings(intervals=4)
    return {name: bayes_model(name).fit(time, event, design, settings, SAMPLER) for name in (PH, TIME_VARYING)}


def arviz_loo(idata: az.InferenceData) -> az.ELPDData:
    """``az.loo`` on the whole float64 log-likelihood."""
    whole = idata.copy()
    values = pointwise_log_likelihood(idata)
    whole.add_groups(log_likelihood={"event": values}, dims={"event": ["patient"]})
    with warnings.catch_warnings():  # a small fit can have a patient with a high Pareto k; the test compares the flag
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return az.loo(whole, pointwise=True)


@pytest.mark.sampling
@pytest.mark.parametrize("model", [PH, TIME_VARYING])
def test_blocked_loo_equals_arviz_loo_on_the_whole_log_likelihood(fits, model, monkeypatch):
    idata = fits[model].copy()
    monkeypatch.setattr(compare, "LOG_LIKELIHOOD_BLOCK_VALUES", 7 * 300)  # blocks of 7 patients: 18 blocks
    assert len(patient_blocks(idata)) == 18
    ours, reference = add_loo(idata, model), arviz_loo(fits[model])
    for name in ("elpd_loo", "se", "p_loo"):
        assert ours[name] == pytest.approx(reference[name], rel=1e-12, abs=1e-10), name
    np.testing.assert_allclose(ours["loo_i"].to_numpy(), reference["loo_i"].to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours["pareto_k"].to_numpy(), reference["pareto_k"].to_numpy(), rtol=1e-12, atol=1e-12)
    assert (ours["n_samples"], ours["n_data_points"], ours["warning"]) == (300, 120, reference["warning"])
    assert ours["good_k"] == reference["good_k"]
    assert "log_likelihood" not in idata.groups()  # nothing of size draws x patients is kept
    assert idata.loo["loo_i"].shape == (120,)


@pytest.mark.sampling
def test_the_kept_log_likelihood_is_float32_of_the_pointwise_values(fits):
    whole = full_log_likelihood(fits[TIME_VARYING], pointwise_log_likelihood)["event"]
    assert whole.dtype == np.float32
    assert whole.dims == ("chain", "draw", "patient")
    exact = pointwise_log_likelihood(fits[TIME_VARYING])
    np.testing.assert_array_equal(whole.to_numpy(), exact.astype(np.float32))


@pytest.mark.sampling
def test_loo_table_compares_the_models_of_an_analysis_as_arviz_compare(fits, tmp_path):
    kept = []
    for index, (model, idata) in enumerate(fits.items()):
        fitted = idata.copy()
        add_loo(fitted, model)
        kept.append(PweFit("efs", "treatment", "all", fitted, model, main=index == 0))
    table = loo_table(kept)
    assert table.columns.tolist() == LOO_COLUMNS
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        reference = az.compare({model: arviz_loo(idata) for model, idata in fits.items()}, ic="loo", scale="log")
    by_model = table.set_index("model")
    for column in ("elpd_loo", "se", "p_loo", "elpd_diff", "dse"):
        np.testing.assert_allclose(by_model[column], reference.loc[by_model.index, column], rtol=1e-10, atol=1e-10)
    assert by_model["rank"].tolist() == reference.loc[by_model.index, "rank"].tolist()
    assert table["rank"].tolist() == [0, 1]  # best first
    assert table.loc[0, "elpd_diff"] == 0
    # saved and loaded: the same table from the stored pointwise values
    _, loaded = load_posteriors(save_posteriors(tmp_path / "posterior.nc", kept, {}))
    assert [(fit.model, fit.main) for fit in loaded] == [(PH, True), (TIME_VARYING, False)]
    pd.testing.assert_frame_equal(loo_table(loaded), table)
    np.testing.assert_array_equal(stored_loo(loaded[1].idata)["pareto_k"], stored_loo(kept[1].idata)["pareto_k"])


def test_a_model_fitted_alone_has_rank_0_and_no_difference():
    idata = az.from_dict(posterior={"a": np.zeros((2, 5))})
    loo_i, pareto_k = np.array([-1.0, -2.5, -0.5]), np.array([0.1, 0.8, 0.2])
    idata.add_groups(
        loo=compare._loo_dataset(compare._elpd_data((-4.0, 1.2, 2.0, 10, 3, 0.7), loo_i, pareto_k), np.arange(3))
    )
    table = loo_table([PweFit("efs", "subgroup", "b=high", idata, TIME_VARYING)])
    row = table.iloc[0]
    assert (row["model"], row["elpd_loo"], row["elpd_diff"], row["dse"], row["rank"]) == (TIME_VARYING, -4, 0, 0, 0)
    assert row["n_pareto_k_high"] == 1
    assert preference(table) is None


@pytest.mark.parametrize(
    ("difference", "se", "expected"),
    [(12.3, 4.1, True), (4.0, 2.0, True), (3.9, 0.5, False), (10.0, 5.1, False)],
)
def test_a_clear_preference_needs_a_difference_of_4_and_2_se(difference, se, expected):
    assert clearly_better(difference, se) is expected
    rows = pd.DataFrame({"model": ["time_varying", "ph"], "rank": [0, 1], "elpd_diff": [0, difference], "dse": [0, se]})
    text = preference(rows)
    assert text.endswith(f"time_varying over ph by {difference:.1f} (SE {se:.1f})")
    assert text.startswith("no clear preference") is not expected


@pytest.mark.sampling
def test_compare_fits_every_model_and_the_tables_come_from_bayes_model(write_study, tmp_path):
    from tests.conftest import small_config, small_export
    from tmesurv.api.bayes import fit_pwe
    from tmesurv.cohort import Cohort

    config = small_config()
    config["data"]["biomarkers"] = ["b_cell_ges"]
    config["bayes"] = {"draws": 150, "tune": 150, "chains": 2, "intervals": 3, "seed": 4}
    alone = Cohort.from_config(write_study(small_export(n_per_arm=40, seed=9), config))
    compared = fit_pwe(alone, compare=[TIME_VARYING, PH])
    single = fit_pwe(alone)
    # bayes.model (ph) makes the tables, whatever else is fitted; the time-varying fits add their own table
    pd.testing.assert_frame_equal(compared.model_table(), single.table)
    for name in ("bayes", "bayes_curves", "bayes_survival", "bayes_fit_check"):  # ph rows: first, as when alone
        rows = compared.tables[name]
        assert rows["model"].tolist() == [PH] * len(single.tables[name]) + [TIME_VARYING] * len(single.tables[name])
        pd.testing.assert_frame_equal(rows[rows["model"] == PH], single.tables[name])
    time_varying = compared.model_table(TIME_VARYING)  # its terms as its fit summarises them (the weighted arm HR)
    assert time_varying[["endpoint", "analysis", "subgroup", "term"]].equals(single.table.iloc[:, :4])
    assert "bayes_time_varying" in compared.tables
    assert "bayes_time_varying" not in single.tables
    analyses = [("treatment", "all"), ("interaction", "b_cell_ges"), ("subgroup", "b_cell_ges=low"),
                ("subgroup", "b_cell_ges=high")]  # fmt: skip
    loo = compared.loo
    assert loo.columns.tolist() == LOO_COLUMNS
    assert list(dict.fromkeys(zip(loo["analysis"], loo["subgroup"], strict=True))) == analyses
    assert loo.groupby(["analysis", "subgroup"])["model"].apply(sorted).tolist() == [[PH, TIME_VARYING]] * 4
    for _, rows in loo.groupby(["analysis", "subgroup"]):
        ranked = rows.sort_values("rank")
        assert ranked["rank"].tolist() == [0, 1]
        assert ranked["elpd_loo"].iloc[0] >= ranked["elpd_loo"].iloc[1]
        assert ranked["elpd_diff"].iloc[1] == pytest.approx(ranked["elpd_loo"].iloc[0] - ranked["elpd_loo"].iloc[1])
    # the single-model run has the same LOO for ph, and rank 0 throughout
    ph_rows = loo[loo["model"] == PH].drop(columns=["elpd_diff", "dse", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ph_rows, single.loo.drop(columns=["elpd_diff", "dse", "rank"]))
    assert (single.loo["rank"] == 0).all()
    summary = repr(compared)
    assert "(model ph; compared with time_varying by LOO)" in summary
    assert "LOO, treatment model: " in summary
    assert any(note.startswith("efs LOO: of 4 analyses fitted with ph, time_varying") for note in compared.notes)
    assert compared.posterior("treatment", model=TIME_VARYING) is not compared.posterior("treatment")
    assert "coef_time" in compared.posterior("treatment", model=TIME_VARYING).posterior
    compared.write(tmp_path / "out")
    written = pd.read_csv(tmp_path / "out" / "bayes_loo.csv")
    np.testing.assert_allclose(written["elpd_loo"], loo["elpd_loo"], rtol=1e-15)
    _, fits = load_posteriors(tmp_path / "out" / "posterior.nc")
    assert [(fit.analysis, fit.model, fit.main) for fit in fits][:2] == [
        ("treatment", PH, True),
        ("treatment", TIME_VARYING, False),
    ]
    pd.testing.assert_frame_equal(loo_table(fits), loo)
