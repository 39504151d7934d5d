"""Cure fractions on R's colon (recurrence, Lev+5FU against observation) against R frequentist mixture-cure fits.

tests/reference/cure_colon.R maximises the same mixture-cure likelihood (logistic incidence, piecewise-exponential
latency on the same 8 quantile intervals) with optim and Newton steps, independently of this package's code, and gives
standard errors from the Hessian (cure_colon_r.csv). The flat-prior posterior mode must be R's maximum; the posterior
under the default priors must put R's estimate inside its 95% interval, with its median within half an R standard
error of it where the likelihood identifies the cure fraction (the model of the arm alone).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.models.pwe.cure.conftest import flat_prior_mode
from tmesurv.models.pwe.cure.fit import fit_cure
from tmesurv.models.pwe.cure.plateau import follow_up_facts
from tmesurv.models.pwe.cure.summary import arm_rows, cure_fraction_draws, cure_fraction_table
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

REFERENCE = Path(__file__).parents[3] / "reference"
INTERVALS = 8


def colon():
    frame = pd.read_csv(REFERENCE / "colon.csv")
    arm = (frame["arm"] == "Lev+5FU").astype(float)
    node4 = frame["node4"].astype(float)
    designs = {
        "arm": pd.DataFrame({"arm": arm}),
        "arm_node4": pd.DataFrame({"arm": arm, "node4": node4, "arm:node4": arm * node4}),
    }
    return frame["time"].to_numpy(float), frame["status"].to_numpy(float), designs


def r_fit(model: str) -> pd.Series:
    table = pd.read_csv(REFERENCE / "cure_colon_r.csv")
    rows = table[(table["model"] == model) & (table["latency"] == "pwe")]
    return rows.set_index("parameter")


@pytest.mark.parametrize("model", ["arm", "arm_node4"])
def test_flat_prior_mode_is_r_maximum_likelihood_fit(model):
    time, event, designs = colon()
    design = designs[model]
    ours = flat_prior_mode(time, event, design, INTERVALS)
    reference = r_fit(model)
    names = ["cure_intercept", *(f"cure:{t}" for t in design), *(f"latency:{t}" for t in design)]
    names += [f"log_hazard_{k}" for k in range(INTERVALS)]
    np.testing.assert_allclose(ours, reference.loc[names, "estimate"].to_numpy(), rtol=0, atol=1e-5)


@pytest.mark.sampling
def test_posterior_cure_fractions_agree_with_r_fit():
    time, event, designs = colon()
    sampler = SamplerSettings(draws=1000, tune=1000, chains=4, seed=3)
    fit = fit_cure(time, event, designs["arm"], PweSettings(intervals=INTERVALS), sampler)
    table = cure_fraction_table(fit, {"all": None}).set_index("arm")
    reference = r_fit("arm")
    for arm in ("control", "treated"):
        estimate, se = reference.loc[f"cure_fraction:{arm}", ["estimate", "se"]]
        row = table.loc[arm]
        assert row["lower"] < estimate < row["upper"], arm
        draws_median = _median(fit, arm)
        assert abs(draws_median - estimate) < 0.5 * se, (arm, draws_median, estimate, se)
    # the follow-up facts: the control arm's plateau rests on 21 patients after its last event (not supported)
    assert not table.loc["control", "plateau_supported"]
    assert table.loc["treated", "plateau_supported"]


@pytest.mark.sampling
def test_two_level_biomarker_rows_carry_the_follow_up_of_their_level():
    time, event, designs = colon()
    design = designs["arm_node4"]
    sampler = SamplerSettings(draws=200, tune=200, chains=2, seed=3)
    fit = fit_cure(time, event, design, PweSettings(intervals=INTERVALS), sampler)
    table = cure_fraction_table(fit, {"node4=1": ("node4", 1.0)}).set_index("arm")
    members = (design["node4"] == 1) & (design["arm"] == 1)
    expected = follow_up_facts(time[members], event[members])
    for key, value in expected.items():
        assert table.loc["treated", key] == pytest.approx(value, nan_ok=True), key


def _median(fit, arm):
    return float(np.median(cure_fraction_draws(fit, arm_rows(1.0 if arm == "treated" else 0.0)).to_numpy()))
