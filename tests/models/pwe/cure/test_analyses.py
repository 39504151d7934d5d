"""``bayes.model: cure`` end to end: every analysis fitted by the cure model, its tables from the cure code, its LOO.

One small seeded cohort with a supported plateau (:func:`simulated_cure_cohort`, n = 160), fitted once with the cure
model as ``bayes.model`` and PH compared, once the other way round. The numbers are checked against the posterior
draws by hand (the cure fraction is ``expit(cure_intercept + cure_coef . x)``, the survival the mixture
``pi + (1 - pi) exp(-H)``), the files against the registry (``.write`` checks their columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.models.pwe.cure.conftest import simulated_cure_cohort
from tmesurv.api.bayes import fit_pwe
from tmesurv.cohort import Cohort
from tmesurv.models.pwe.cure.tables import CURE_COLUMNS
from tmesurv.models.pwe.fit_check import arm_survival_draws
from tmesurv.models.pwe.rows import BAYES_COLUMNS
from tmesurv.reports.html import write_report
from tmesurv.reports.results import read_results
from tmesurv.reports.sections.cure import cure_section

SAMPLER = {"draws": 200, "tune": 200, "chains": 2, "intervals": 3, "seed": 11}
LANDMARK = 12.0


def cure_cohort() -> Cohort:
    time, event, design, _ = simulated_cure_cohort(seed=21, n=160)
    frame = pd.DataFrame(
        {
            "id": [f"P{number:03d}" for number in range(time.size)],
            "arm": np.where(design["arm"] == 1, "treated", "control"),
            "time": time,
            "event": event.astype(int),
            "b_cell_ges": design["b_cell_ges"],
        }
    )
    return Cohort.from_frame(frame, endpoint="efs", biomarkers=["b_cell_ges"])


@pytest.fixture(scope="module")
def cure_main():
    """bayes.model cure, PH compared."""
    settings = SAMPLER | {"model": "cure", "compare": ["ph"], "treatment_at": {"b_cell_ges": [0.0]}}
    settings["prior_predictive"] = True
    return fit_pwe(cure_cohort(), landmarks=[LANDMARK], **settings)


def expit(value):
    return 1.0 / (1.0 + np.exp(-value))


def node(result, analysis, subgroup, model):
    [fit] = [fit for fit in result.fits if (fit.analysis, fit.subgroup, fit.model) == (analysis, subgroup, model)]
    return fit


@pytest.mark.sampling
def test_every_analysis_is_a_cure_fit_with_both_parts_terms(cure_main, tmp_path):
    cure_main.write(tmp_path)  # the registry checks every file's columns
    bayes = pd.read_csv(tmp_path / "bayes.csv")
    assert bayes.columns.tolist() == BAYES_COLUMNS
    assert list(dict.fromkeys(bayes["model"])) == ["cure", "ph"]  # bayes.model's rows first, then the compared ph's
    bayes = bayes[bayes["model"] == "cure"]
    fitted = bayes[bayes["analysis"] != "treatment_at"]
    assert set(fitted["analysis"]) == {"treatment", "interaction", "subgroup"}
    treatment = fitted.query("analysis == 'treatment'")["term"].tolist()
    assert treatment == ["cure:arm", "latency:arm"]
    interaction = fitted.query("analysis == 'interaction'")["term"].tolist()
    assert interaction == [f"{part}:{term}" for part in ("cure", "latency") for term in
                           ("arm", "b_cell_ges", "arm:b_cell_ges")]  # fmt: skip
    at_zero = bayes.query("analysis == 'treatment_at' and subgroup == 'b_cell_ges=0'").set_index("term")
    at_interaction = fitted.query("analysis == 'interaction'").set_index("term")
    for part in ("cure", "latency"):  # effect at b = 0 is the arm's own coefficient
        assert at_zero.loc[f"{part}:arm", "mean"] == pytest.approx(at_interaction.loc[f"{part}:arm", "mean"], rel=1e-12)
    cure = pd.read_csv(tmp_path / "bayes_cure.csv")
    assert cure.columns.tolist() == CURE_COLUMNS
    assert set(cure["analysis"]) == {"treatment", "interaction", "subgroup"}
    loo = pd.read_csv(tmp_path / "bayes_loo.csv")
    models = loo.groupby(["analysis", "subgroup"], sort=False)["model"].apply(sorted)
    assert models.tolist() == [["cure", "ph"]] * 4
    assert loo["elpd_loo"].notna().all()
    prior = pd.read_csv(tmp_path / "bayes_prior_predictive.csv")  # the cure model's: its plateau next to KM's
    assert sorted(prior.query("statistic == 'cure_fraction'")["arm"]) == ["control", "treated"]
    page = write_report(tmp_path).read_text(encoding="utf-8")  # the report's cure section reads these files
    assert '<section id="cure">' in page
    assert "Odds ratio of cure, interaction" in page


@pytest.mark.sampling
def test_cure_fractions_and_survival_are_the_mixture_of_the_posterior_draws(cure_main):
    posterior = node(cure_main, "treatment", "all", "cure").idata.posterior
    intercept = posterior["cure_intercept"].to_numpy().ravel()
    arm = posterior["cure_coef"].sel(term="arm").to_numpy().ravel()
    cure = cure_main.tables["bayes_cure"].query("analysis == 'treatment'").set_index("arm")
    fractions = {"control": expit(intercept), "treated": expit(intercept + arm)}
    for name, draws in fractions.items():
        assert cure.loc[name, "mean"] == pytest.approx(draws.mean(), rel=1e-12)
        assert cure.loc[name, "upper"] == pytest.approx(np.quantile(draws, 0.975), rel=1e-12)
    difference = fractions["treated"] - fractions["control"]
    assert cure.loc["difference", "prob_above_zero"] == pytest.approx((difference > 0).mean())
    # survival at the landmark: pi + (1 - pi) exp(-H(t)), H the piecewise-constant uncured hazard summed by hand
    baseline = np.exp(posterior["log_baseline"].to_numpy().reshape(intercept.size, -1))
    latency_arm = posterior["coef"].sel(term="arm").to_numpy().ravel()
    cuts = node(cure_main, "treatment", "all", "cure").idata.constant_data["cuts"].to_numpy()
    edges = np.concatenate([[0.0], cuts, [np.inf]])
    exposure = np.clip(LANDMARK - edges[:-1], 0.0, np.diff(edges))
    statistics = cure_main.tables["bayes_survival"].query("subgroup == 'all' and statistic == 'survival'")
    statistics = statistics.query("model == 'cure'")
    for name, hazard_ratio in (("control", 1.0), ("treated", np.exp(latency_arm))):
        cumulative = (baseline * exposure).sum(axis=1) * hazard_ratio
        survival = fractions[name] + (1 - fractions[name]) * np.exp(-cumulative)
        row = statistics.set_index("arm").loc[name]
        assert row["estimate"] == pytest.approx(np.median(survival), rel=1e-10)


@pytest.mark.sampling
def test_the_fit_check_and_curves_are_those_of_the_mixture(cure_main):
    checks = cure_main.tables["bayes_fit_check"]  # both arms of the treatment, interaction, 2 subgroups; cure first
    assert checks["model"].tolist() == ["cure"] * 2 * 4 + ["ph"] * 2 * 4
    idata = node(cure_main, "treatment", "all", "cure").idata
    posterior = idata.posterior
    treated = idata.constant_data["design"].sel(term="arm").to_numpy() == 1
    curves = cure_main.tables["bayes_curves"].query("subgroup == 'all' and arm == 'treated' and model == 'cure'")
    times = curves["time"].to_numpy()
    pi = expit(posterior["cure_intercept"] + posterior["cure_coef"].sel(term="arm")).to_numpy().ravel()
    baseline = np.exp(posterior["log_baseline"].to_numpy().reshape(pi.size, -1))
    edges = np.concatenate([[0.0], idata.constant_data["cuts"].to_numpy(), [np.inf]])
    exposure = np.clip(times[:, None] - edges[:-1], 0.0, np.diff(edges))  # (times, intervals)
    cumulative = (baseline @ exposure.T) * np.exp(posterior["coef"].sel(term="arm").to_numpy().ravel())[:, None]
    by_hand = pi[:, None] + (1 - pi[:, None]) * np.exp(-cumulative)
    np.testing.assert_allclose(arm_survival_draws(idata, treated, times), by_hand, rtol=1e-12)
    np.testing.assert_allclose(curves["survival"], np.median(by_hand, axis=0), rtol=1e-12)


@pytest.fixture(scope="module")
def cure_compared():
    """bayes.model ph, cure compared: otherwise the data and settings of ``cure_main`` (same seed)."""
    settings = SAMPLER | {"model": "ph", "compare": ["cure"], "treatment_at": {"b_cell_ges": [0.0]}}
    return fit_pwe(cure_cohort(), landmarks=[LANDMARK], **settings)


@pytest.mark.sampling
def test_a_compared_cure_model_has_in_bayes_csv_the_rows_it_has_as_bayes_model(cure_main, cure_compared, tmp_path):
    table = cure_compared.table
    assert list(dict.fromkeys(table["model"])) == ["ph", "cure"]  # bayes.model's rows first, then the compared
    assert not cure_compared.model_table()["term"].str.startswith(("cure:", "latency:")).any()  # ph: log HRs
    compared, main = cure_compared.model_table("cure"), cure_main.model_table("cure")
    assert set(compared["term"]) >= {"cure:arm", "latency:arm", "cure:arm:b_cell_ges", "latency:arm:b_cell_ges"}
    # the same cure fits (same data, settings and seed): the same rows, estimates, diagnostics and sampling record
    pd.testing.assert_frame_equal(compared, main, check_exact=True)  # bit for bit: one seed, one code path
    pd.testing.assert_frame_equal(cure_compared.tables["bayes_cure"], cure_main.tables["bayes_cure"], check_exact=True)
    with pytest.raises(KeyError, match="the fitted models are: ph, cure"):
        cure_compared.model_table("time_varying")
    cure_compared.write(tmp_path)
    written = read_results(tmp_path)  # the report's cure section: the odds ratio of cure of the compared model
    [row] = cure_section(written, {}).interactions.rows
    [odds] = compared.query("analysis == 'interaction' and term == 'cure:arm:b_cell_ges'").to_dict("records")
    iqr = written.biomarkers.set_index("biomarker").loc["b_cell_ges", "iqr"]
    expected = f"{np.exp(odds['mean'] * iqr):.2f} ({odds['hr_lower'] ** iqr:.2f}\u2013{odds['hr_upper'] ** iqr:.2f})"
    assert row.cells[4] == expected
