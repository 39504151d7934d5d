"""The Bayesian PWE model against brms (Poisson trick, same cuts, same priors) and Cox, on the veteran data.

Reference files are made from the repository root by ``.venv/bin/python tests/reference/brms_pwe_data.py`` (the
patients and tmesurv's cuts) and then ``Rscript tests/reference/brms_pwe.R`` (brms's posterior: 4 chains x 5000
draws, with Monte Carlo standard errors); the tests need no R. The R script's header gives the model and how the
priors correspond: they are the same prior (vague coefficient and first-baseline priors, and the random-walk step sd
fixed at a vague 10, ``random_walk_sd_fixed``: the baseline is left free, as in Cox), so the two posteriors are the
same distribution and their summaries may differ only by Monte Carlo error. If models/pwe/model.py's priors change,
update brms_pwe.R to match and rerun it.
"""

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tmesurv.models.pwe.data import interval_cuts
from tmesurv.models.pwe.diagnostics import summarize_pwe
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings

REFERENCE = Path(__file__).parents[2] / "reference"
TERMS = ["arm", "karno10", "arm:karno10"]
INTERVALS = 10
VAGUE = PwePriors(coef_sd=10.0, baseline_sd=10.0, random_walk_sd=10.0, random_walk_sd_fixed=True)
SETTINGS = PweSettings(intervals=INTERVALS, priors=VAGUE)
SAMPLER = SamplerSettings(draws=2000, tune=1000, chains=2, seed=20240611)
MCSE_MULTIPLE = 4  # posterior means agree within 4 combined Monte Carlo standard errors
MEAN_ABS_MAX = 0.03  # ... and log hazard ratios within 0.03 in absolute terms (sanity bound, also the Cox bound)
SD_REL_MAX = 0.10


def read_reference(name: str) -> pd.DataFrame:
    # round_trip: pandas' default float parser can be one ulp off the 17-digit values R reads exactly
    return pd.read_csv(REFERENCE / name, float_precision="round_trip")


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return read_reference("brms_pwe_data.csv")


@pytest.fixture(scope="module")
def brms() -> pd.DataFrame:
    return read_reference("brms_pwe_posterior.csv").astype({"term": str})


@pytest.fixture(scope="module")
def fit(patients):
    return fit_pwe(patients["time"].to_numpy(), patients["event"].to_numpy(), patients[TERMS], SETTINGS, SAMPLER)


def ours_table(fit) -> pd.DataFrame:
    """Posterior mean, sd and MCSE of the mean of coef and log_baseline, in the layout of brms_pwe_posterior.csv."""
    rows = []
    for parameter, dim in [("log_baseline", "interval"), ("coef", "term")]:
        draws = fit.posterior[parameter]
        mcse = az.mcse(fit, var_names=[parameter], method="mean")[parameter]
        rows.append(
            pd.DataFrame(
                {
                    "parameter": parameter,
                    "term": draws[dim].to_numpy().astype(str),
                    "mean": draws.mean(("chain", "draw")).to_numpy(),
                    "sd": draws.std(("chain", "draw"), ddof=1).to_numpy(),
                    "mcse_mean": mcse.to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_reference_data_use_tmesurv_cuts(patients):
    cuts = read_reference("brms_pwe_cuts.csv")["cut"].to_numpy()
    expected = interval_cuts(patients["time"].to_numpy(), patients["event"].to_numpy(), INTERVALS)
    np.testing.assert_array_equal(cuts, expected, err_msg="stale reference: rerun brms_pwe_data.py and brms_pwe.R")
    veteran = pd.read_csv(REFERENCE / "veteran.csv")
    assert patients["id"].tolist() == veteran["id"].tolist()
    np.testing.assert_array_equal(patients["event"], veteran["status"])


def test_brms_reference_converged(brms):
    assert (brms["rhat"] < 1.01).all(), brms[["parameter", "term", "rhat"]]
    assert (brms["ess_bulk"] > 1000).all(), brms[["parameter", "term", "ess_bulk"]]
    # the centred random walk under a learned scale is a mild funnel (in tmesurv too): a handful of divergences
    assert (brms["divergences"] <= 0.001 * brms["draws"]).all()
    main = brms[brms["parameter"] != "random_walk_sd"]
    assert main["parameter"].tolist() == ["log_baseline"] * INTERVALS + ["coef"] * len(TERMS)
    assert main["term"].tolist() == [str(k) for k in range(INTERVALS)] + TERMS


@pytest.mark.sampling
def test_posterior_matches_brms_within_monte_carlo_error(fit, brms):
    summary = summarize_pwe(fit)
    assert (summary["r_hat"] < 1.01).all(), summary
    assert (summary["ess_bulk"] >= 1000).all(), summary
    assert summary.attrs["divergences"] <= 0.001 * SAMPLER.chains * SAMPLER.draws  # as brms: see above
    ours = ours_table(fit)
    merged = ours.merge(brms, on=["parameter", "term"], suffixes=("", "_brms"), validate="one_to_one")
    assert len(merged) == INTERVALS + len(TERMS)
    merged["difference"] = merged["mean"] - merged["mean_brms"]
    merged["tolerance"] = MCSE_MULTIPLE * np.hypot(merged["mcse_mean"], merged["mcse_mean_brms"])
    merged["sd_ratio"] = merged["sd"] / merged["sd_brms"]
    table = merged[["parameter", "term", "mean", "mean_brms", "difference", "tolerance", "sd_ratio"]].to_string()
    assert (merged["difference"].abs() <= merged["tolerance"]).all(), table
    assert ((merged["sd_ratio"] - 1).abs() <= SD_REL_MAX).all(), table
    coef = merged[merged["parameter"] == "coef"]
    assert (coef["difference"].abs() < MEAN_ABS_MAX).all(), table
    np.testing.assert_allclose(summary.set_index("term")["mean"], coef.set_index("term")["mean"], rtol=1e-12)


@pytest.fixture(scope="module")
def cox(patients):
    fitted = CoxPHFitter().fit(patients[["time", "event", *TERMS]], duration_col="time", event_col="event")
    return fitted.params_


@pytest.mark.sampling
@pytest.mark.parametrize("term", TERMS)
def test_posterior_mean_within_cox_bound(fit, brms, cox, term):
    ours = summarize_pwe(fit).set_index("term").loc[term, "mean"]
    reference = brms.set_index(["parameter", "term"]).loc[("coef", term), "mean"]
    assert abs(ours - cox[term]) < MEAN_ABS_MAX, (ours, cox[term])
    assert abs(reference - cox[term]) < MEAN_ABS_MAX, (reference, cox[term])
