"""Prior predictive check of the PWE model: tight priors put the draws where the priors say."""

import numpy as np
import pandas as pd
import pytest

from tmesurv.models.pwe.prior_predictive import PRIOR_PREDICTIVE_COLUMNS, prior_predictive, summarize_prior_predictive
from tmesurv.models.pwe.settings import PwePriors, PweSettings

LANDMARKS = (6.0, 12.0)


def cohort(seed: int = 4, n: int = 300) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Exponential hazard 0.05 / month in both arms, censoring uniform on 6-30 months."""
    rng = np.random.default_rng(seed)
    arm = (np.arange(n) % 2).astype(float)
    event_time = rng.exponential(20.0, n)
    censor = rng.uniform(6, 30, n)
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), pd.DataFrame({"arm": arm})


# Every log HR ~ Normal(0, 0.001) per sd, the baseline starts within 0.001 of the crude rate and barely moves.
TIGHT = PwePriors(coef_sd=1e-3, baseline_sd=1e-3, random_walk_sd=1e-3, random_walk_sd_fixed=True)


@pytest.fixture(scope="module")
def tight_check():
    time, event, design = cohort()
    settings = PweSettings(intervals=4, priors=TIGHT)
    return prior_predictive(time, event, design, settings, draws=400, landmarks=LANDMARKS, seed=9), (time, event)


def test_tight_priors_concentrate_on_the_crude_exponential(tight_check):
    check, (time, event) = tight_check
    rate = event.sum() / time.sum()
    assert list(check["arm"].to_numpy()) == ["control", "treated"]
    assert check["survival"].dims == ("draw", "arm", "landmark")
    survival = check["survival"].to_numpy()
    expected = np.exp(-rate * np.array(LANDMARKS))
    np.testing.assert_allclose(survival, np.broadcast_to(expected, survival.shape), atol=5e-3)
    expected_events = (-np.expm1(-rate * time)).sum()
    np.testing.assert_allclose(check["expected_events"], expected_events, rtol=5e-3)
    # sampled counts: a sum of independent Bernoullis around that expectation
    sd = np.sqrt((-np.expm1(-rate * time) * np.exp(-rate * time)).sum())
    assert abs(float(check["events"].mean()) - expected_events) < 4 * sd / np.sqrt(400)
    assert float(check["events"].std()) == pytest.approx(sd, rel=0.15)
    assert int(check["observed_events"]) == int(event.sum())


def test_summary_table_and_vaguer_priors_are_wider(tight_check):
    check, (time, event) = tight_check
    summary = summarize_prior_predictive(check)
    assert list(summary.columns) == PRIOR_PREDICTIVE_COLUMNS
    assert list(summary["statistic"]) == ["survival"] * 4 + ["events"]
    assert summary.iloc[-1]["observed"] == event.sum()
    _, _, design = cohort()
    vague = prior_predictive(time, event, design, PweSettings(intervals=4), draws=400, landmarks=LANDMARKS, seed=9)
    assert float(vague["survival"].std("draw").min()) > 10 * float(check["survival"].std("draw").max())
    wide = summarize_prior_predictive(vague)
    assert (wide["upper"] - wide["lower"]).iloc[:4].min() > 0.5  # the default priors allow almost any survival
    assert np.isfinite(vague["survival"]).all()


def test_time_varying_prior_predictive_runs_with_a_flat_tight_effect():
    time, event, design = cohort()
    tight = TIGHT.model_copy(update={"time_varying_sd": 1e-3})
    settings = PweSettings(intervals=4, priors=tight, time_varying=True)
    check = prior_predictive(time, event, design, settings, draws=200, landmarks=LANDMARKS, seed=9)
    rate = event.sum() / time.sum()
    expected = np.broadcast_to(np.exp(-rate * np.array(LANDMARKS)), (200, 2))
    for arm in ("control", "treated"):
        np.testing.assert_allclose(check["survival"].sel(arm=arm), expected, atol=5e-3)
