"""Every compared model is checked against Kaplan-Meier: curves, statistics and fit check of ph, time_varying and cure.

A run shaped like the demo (``bayes.model: ph``, ``bayes.compare: [ph, time_varying, cure]``) on the small seeded cure
cohort of :mod:`tests.models.pwe.cure.test_analyses`. The curves of each model are set against the survival computed
by hand from that model's posterior draws (closed forms; independent of the package's interval code):

* PH: ``S_a(t) = exp(-exp(b a) sum_k h_k w_k(t))``, ``w_k(t)`` the time spent in interval ``k`` up to ``t``;
* time-varying: ``S_a(t) = exp(-sum_k h_k exp(b_k a) w_k(t))``, the arm's log hazard ratio of each interval;
* cure: ``S_a(t) = pi_a + (1 - pi_a) S_u(t)``, ``pi_a = expit(cure_intercept + cure_coef_arm a)``, ``S_u`` the PH
  form above.

The curve is the pointwise posterior median of those draws, to 1e-10; the fit check's per-draw arm survival is the
closed form itself (every draw is kept: 200 draws, fewer than ``CHECK_DRAWS``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.models.pwe.cure.test_analyses import cure_cohort, expit
from tmesurv.api.bayes import fit_pwe
from tmesurv.models.pwe.fit_check import arm_survival_draws
from tmesurv.models.pwe.notes import misfit_notes
from tmesurv.reports.html import write_report
from tmesurv.reports.results import read_results

MODELS = ["ph", "time_varying", "cure"]
SETTINGS = {"draws": 100, "tune": 150, "chains": 2, "intervals": 3, "seed": 5, "model": "ph", "compare": MODELS}
LANDMARK = 12.0


@pytest.fixture(scope="module")
def compared():
    """bayes.model ph, compared with time_varying and cure: treatment, b_cell_ges interaction and its subgroups."""
    return fit_pwe(cure_cohort(), landmarks=[LANDMARK], **SETTINGS)


def fit_of(result, analysis: str, subgroup: str, model: str):
    [fit] = [f for f in result.fits if (f.analysis, f.subgroup, f.model) == (analysis, subgroup, model)]
    return fit


def draws(idata, name: str) -> np.ndarray:
    """A posterior variable as (draws, ...), chains stacked."""
    values = idata.posterior[name].to_numpy()
    return values.reshape(-1, *values.shape[2:])


def exposure(idata, times: np.ndarray) -> np.ndarray:
    """``w_k(t)``: the time spent in each baseline interval up to each of ``times``, shape (times, intervals)."""
    edges = np.concatenate([[0.0], idata.constant_data["cuts"].to_numpy(), [np.inf]])
    return np.clip(times[:, None] - edges[:-1], 0.0, np.diff(edges))


def survival_by_hand(idata, model: str, treated: int, times: np.ndarray) -> np.ndarray:
    """Per draw and time, the arm's survival from the closed form of ``model`` (see the module docstring)."""
    baseline = np.exp(draws(idata, "log_baseline"))  # (draws, intervals)
    if model == "time_varying":
        hazard = baseline * np.exp(draws(idata, "coef_time") * treated)
        return np.exp(-hazard @ exposure(idata, times).T)
    arm = idata.posterior["coef"].sel(term="arm").to_numpy().ravel()
    uncured = np.exp(-(baseline @ exposure(idata, times).T) * np.exp(arm * treated)[:, None])
    if model == "ph":
        return uncured
    cure_arm = idata.posterior["cure_coef"].sel(term="arm").to_numpy().ravel()
    pi = expit(idata.posterior["cure_intercept"].to_numpy().ravel() + cure_arm * treated)
    return pi[:, None] + (1 - pi[:, None]) * uncured


@pytest.mark.sampling
def test_every_compared_model_has_curves_statistics_and_a_fit_check(compared, tmp_path):
    curves, survival, checks = (compared.tables[name] for name in ("bayes_curves", "bayes_survival", "bayes_fit_check"))
    analyses = [("treatment", "all"), ("subgroup", "b_cell_ges=low"), ("subgroup", "b_cell_ges=high")]
    for table in (curves, survival):
        fitted = {(model, subgroup) for model, subgroup in table[["model", "subgroup"]].itertuples(index=False)}
        assert fitted == {(model, subgroup) for model in MODELS for _, subgroup in analyses}
    for model in MODELS:
        rows = checks[checks["model"] == model]
        assert rows[["analysis", "subgroup"]].drop_duplicates().to_numpy().tolist() == [
            ["treatment", "all"],
            ["interaction", "b_cell_ges"],
            ["subgroup", "b_cell_ges=low"],
            ["subgroup", "b_cell_ges=high"],
        ]
        assert sorted(rows["arm"].unique()) == ["control", "treated"]
    for table in (curves, survival, checks):  # a block per model, bayes.model's first
        assert table["model"].map(MODELS.index).is_monotonic_increasing
    summary = repr(compared).splitlines()  # the misfits of bayes.model, then of the compared models, each named
    [main] = [line for line in summary if "Kaplan-Meier, bayes.model" in line]
    [others] = [line for line in summary if "Kaplan-Meier, compared models" in line]
    for line, models in ((main, ["ph"]), (others, ["time_varying", "cure"])):
        rows = checks[checks["model"].isin(models)]
        flagged = rows[rows["misfit"].astype(bool)]
        if flagged.empty:
            assert line.endswith(f"no misfit ({len(rows)} arms of fits checked)")
        else:
            assert all(f"{row.analysis} {row.subgroup} {row.model} (" in line for row in flagged.itertuples())
    compared.write(tmp_path)  # the registry checks the columns; the report's reader checks each key is unique
    assert set(read_results(tmp_path).bayes_curves["model"]) == set(MODELS)
    page = write_report(tmp_path).read_text(encoding="utf-8")
    check_section = page.split('<section id="model-check"')[1].split("</section>")[0]
    for model in ("ph (bayes.model)", "time_varying", "cure"):
        assert f">{model}</td>" in check_section


@pytest.mark.sampling
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("subgroup", ["all", "b_cell_ges=high"])
def test_curves_are_the_pointwise_median_of_the_closed_form_survival_of_each_models_draws(compared, model, subgroup):
    analysis = "treatment" if subgroup == "all" else "subgroup"
    idata = fit_of(compared, analysis, subgroup, model).idata
    curves = compared.tables["bayes_curves"].query("model == @model and subgroup == @subgroup")
    in_treated_arm = idata.constant_data["design"].sel(term="arm").to_numpy() == 1
    for arm, treated in (("treated", 1), ("control", 0)):
        rows = curves[curves["arm"] == arm]
        times = rows["time"].to_numpy()
        by_hand = survival_by_hand(idata, model, treated, times)
        members = in_treated_arm if treated else ~in_treated_arm  # the fit check's patient average: one design row
        np.testing.assert_allclose(arm_survival_draws(idata, members, times), by_hand, rtol=0, atol=1e-10)
        np.testing.assert_allclose(rows["survival"], np.median(by_hand, axis=0), rtol=0, atol=1e-10)
        np.testing.assert_allclose(rows["lower"], np.quantile(by_hand, 0.025, axis=0), rtol=0, atol=1e-10)
        np.testing.assert_allclose(rows["upper"], np.quantile(by_hand, 0.975, axis=0), rtol=0, atol=1e-10)
    landmark = compared.tables["bayes_survival"].query(
        "model == @model and subgroup == @subgroup and statistic == 'survival'"
    )
    at = np.array([LANDMARK])
    treated = survival_by_hand(idata, model, 1, at)[:, 0]
    control = survival_by_hand(idata, model, 0, at)[:, 0]
    estimates = landmark.set_index("arm")["estimate"]
    assert estimates["treated"] == pytest.approx(np.median(treated), abs=1e-10)
    assert estimates["control"] == pytest.approx(np.median(control), abs=1e-10)
    assert estimates["difference"] == pytest.approx(np.median(treated - control), abs=1e-10)


@pytest.mark.sampling
def test_the_time_varying_treated_curve_uses_each_intervals_effect(compared):
    """Not one hazard ratio: with the per-interval effects replaced by their mean the curve would differ."""
    idata = fit_of(compared, "treatment", "all", "time_varying").idata
    coef_time = draws(idata, "coef_time")
    assert np.ptp(coef_time, axis=1).min() > 0  # the effect does change between intervals in every draw
    rows = compared.tables["bayes_curves"].query("model == 'time_varying' and subgroup == 'all' and arm == 'treated'")
    times = rows["time"].to_numpy()
    baseline = np.exp(draws(idata, "log_baseline"))
    one_ratio = np.exp(-(baseline @ exposure(idata, times).T) * np.exp(coef_time.mean(axis=1))[:, None])
    assert np.abs(rows["survival"].to_numpy() - np.median(one_ratio, axis=0)).max() > 1e-4


def check_rows(misfits: dict[str, bool]) -> pd.DataFrame:
    """bayes_fit_check rows of one fit (efs treatment all), per model its treated arm misfitting or not."""
    rows = [
        {"endpoint": "efs", "analysis": "treatment", "subgroup": "all", "model": model, "arm": arm}
        | {"share_in_band": 0.5 if misfit and arm == "treated" else 0.95, "mean_abs_difference": 0.04}
        | {"max_abs_difference": 0.1, "largest_at": 6.0, "misfit": misfit and arm == "treated"}
        for model, misfit in misfits.items()
        for arm in ("treated", "control")
    ]
    return pd.DataFrame(rows)


def test_a_misfit_of_bayes_model_says_which_compared_models_fit():
    [note] = misfit_notes(check_rows({"ph": True, "time_varying": False, "cure": False}), "ph")
    assert note.startswith("efs treatment all: the posterior survival of bayes.model (ph) does not fit Kaplan-Meier")
    assert "treated: Kaplan-Meier inside the 95% band at 50% of its event times" in note
    assert note.endswith("the compared time_varying and cure fit Kaplan-Meier here (bayes_loo.csv compares them)")
    [alone] = misfit_notes(check_rows({"ph": True}), "ph")
    assert alone.endswith("consider bayes.model: time_varying or cure (or compare the models with bayes.compare)")
    [cure_alone] = misfit_notes(check_rows({"cure": True}), "cure")
    assert cure_alone.endswith("consider bayes.model: ph or time_varying (or compare the models with bayes.compare)")


def test_a_compared_models_misfit_note_names_it_and_does_not_speak_for_bayes_model():
    [note] = misfit_notes(check_rows({"ph": False, "time_varying": True, "cure": False}), "ph")
    assert note.startswith(
        "efs treatment all, compared model time_varying (not bayes.model): its posterior survival does not fit "
        "Kaplan-Meier (treated: "
    )
    assert note.endswith("bayes.model (ph), whose tables these are, fits Kaplan-Meier here")
    both = misfit_notes(check_rows({"ph": True, "cure": True}), "ph")
    assert len(both) == 2
    assert both[1].endswith("bayes.model (ph), whose tables these are, misfits too (note above)")
