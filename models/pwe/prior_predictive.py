"""Prior predictive check of the PWE model: what the priors say before they see the outcomes.

Parameters are drawn from the model's priors (the same PyMC model that :func:`~tmesurv.models.pwe.fit.fit_pwe`
samples, with the likelihood left out), and every draw is turned into quantities one can hold against the data:

- ``survival``: the population-averaged ("Kaplan-Meier-like") survival of each arm at the landmarks, the mean over
  that arm's patients of ``S_i(t) = exp(-exp(eta_i) H0(t))`` (with a time-varying effect, ``H0`` of the treated is
  built from ``log_baseline + coef_time``);
- ``events``: the number of events in the observed follow-up, each patient an event with probability
  ``1 - S_i(t_i)`` (``t_i`` the patient's own follow-up time), and its expectation ``expected_events``.

The observed Kaplan-Meier survival and event count are stored next to them, so priors that put the data in a far tail
are easy to see.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.cox.km import curve_at, fit_km
from tmesurv.models.designs import ARM
from tmesurv.models.pwe.data import hazard_at_times, interval_layout, pwe_data
from tmesurv.models.pwe.diagnostics import CI_PROB
from tmesurv.models.pwe.model import CoefficientPrior, pwe_model
from tmesurv.models.pwe.settings import PweSettings

ALL = "all"
PRIOR_PREDICTIVE_COLUMNS = ["statistic", "arm", "time", "estimate", "lower", "upper", "observed", "prob_below_observed"]


def prior_predictive(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: PweSettings,
    draws: int = 500,
    landmarks: Sequence[float] = (12.0, 24.0),
    *,
    seed: int,
    coefficient_prior: CoefficientPrior | None = None,
) -> xr.Dataset:
    """Draw from the prior and return the implied survival per arm at landmarks and events in the follow-up.

    Parameters
    ----------
    time, event, design, settings
        As for :func:`~tmesurv.models.pwe.fit.fit_pwe` (the outcomes only set the cuts and the crude rate the baseline
        prior is centred on, exactly as in the fit).
    draws
        Number of prior draws.
    landmarks
        Times (months) at which to give the survival.
    seed
        Seeds the draws (the sampler's seed in an analysis).
    coefficient_prior
        As for :func:`~tmesurv.models.pwe.fit.fit_pwe`.

    Returns
    -------
    xarray.Dataset
        ``survival`` (draw, arm, landmark), ``events`` and ``expected_events`` (draw), ``observed_survival`` (arm,
        landmark: Kaplan-Meier; NaN beyond follow-up) and ``observed_events``. ``arm`` is ``control`` and
        ``treated`` when the design's first column is ``arm`` (0/1), otherwise ``all``.
    """
    data = pwe_data(time, event, design, settings.intervals, time_varying=settings.time_varying)
    model = pwe_model(data, list(design.columns), settings, coefficient_prior)
    names = ["coef", "log_baseline", *(["coef_time"] if settings.time_varying else [])]
    sample = prior_draws(model, names, draws, seed)
    groups = arm_groups(design)
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    at = [time, *(np.full(time.size, float(landmark)) for landmark in landmarks)]
    cumulative = _patient_cumulative_hazard(sample, design, data.cuts, at)
    at_follow_up, at_landmarks = cumulative[0], cumulative[1:]
    rng = np.random.default_rng(seed)
    probability = -np.expm1(-at_follow_up)
    survival = np.stack(
        [np.stack([np.exp(-h[:, members]).mean(axis=1) for h in at_landmarks], axis=-1) for members in groups.values()],
        axis=1,
    )
    return xr.Dataset(
        {
            "survival": (("draw", "arm", "landmark"), survival),
            "events": ("draw", (rng.random(probability.shape) < probability).sum(axis=1)),
            "expected_events": ("draw", probability.sum(axis=1)),
            "observed_survival": (("arm", "landmark"), observed_survival(time, event, groups, landmarks)),
            "observed_events": ((), int(event.sum())),
        },
        coords={"draw": np.arange(draws), "arm": list(groups), "landmark": np.asarray(landmarks, dtype=float)},
    )


def prior_draws(model: pm.Model, names: Sequence[str], draws: int, seed: int) -> dict[str, np.ndarray]:
    """Draws of the variables ``names`` from the model's priors (its likelihood, a Potential, left out).

    Returns
    -------
    dict[str, numpy.ndarray]
        Name -> the draws, shape ``(draws, values of the variable)``.
    """
    with warnings.catch_warnings():  # the likelihood is a Potential, left out on purpose
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        prior = pm.sample_prior_predictive(draws=draws, model=model, var_names=list(names), random_seed=seed).prior
    return {name: prior[name].to_numpy().reshape(draws, -1) for name in names}


def summarize_prior_predictive(check: xr.Dataset) -> pd.DataFrame:
    """One row per arm and landmark (``survival``) and one for ``events``: prior median, 95% interval, observed.

    Returns
    -------
    pandas.DataFrame
        Columns ``PRIOR_PREDICTIVE_COLUMNS``; ``prob_below_observed`` is the prior predictive probability of a value
        below the observed one (near 0 or 1: the priors do not expect the data).
    """
    rows = []
    for arm in check["arm"].to_numpy():
        for landmark in check["landmark"].to_numpy():
            draws = check["survival"].sel(arm=arm, landmark=landmark).to_numpy()
            observed = float(check["observed_survival"].sel(arm=arm, landmark=landmark))
            rows.append(predictive_row("survival", arm, float(landmark), draws, observed))
    rows.append(predictive_row("events", ALL, np.nan, check["events"].to_numpy(), float(check["observed_events"])))
    return pd.DataFrame(rows, columns=PRIOR_PREDICTIVE_COLUMNS)


def arm_groups(design: pd.DataFrame) -> dict[str, np.ndarray]:
    """Patients of each arm (by the first column ``arm``), or everyone."""
    if design.columns[0] == ARM and design[ARM].isin([0, 1]).all():
        treated = design[ARM].to_numpy() == 1
        return {CONTROL: ~treated, TREATED: treated}
    return {ALL: np.ones(len(design), dtype=bool)}


def _patient_cumulative_hazard(
    sample: dict[str, np.ndarray], design: pd.DataFrame, cuts: np.ndarray, times: list[np.ndarray]
) -> list[np.ndarray]:
    """Per draw and patient, the cumulative hazard at each patient's entry of every array in ``times``.

    Computed as ``exp(eta + log H0)``, so a huge ``eta`` with ``H0 = 0`` gives 0 and an overflow gives infinity
    (survival 0), never NaN.
    """
    x, coef, log_baseline = design.to_numpy(dtype=float), sample["coef"], sample["log_baseline"]
    if "coef_time" in sample:  # the arm enters per interval
        treated = x[:, 0] == 1
        eta = coef[:, 1:] @ x[:, 1:].T
        arms = [(log_baseline, ~treated), (log_baseline + sample["coef_time"], treated)]
    else:
        eta = coef @ x.T
        arms = [(log_baseline, np.ones(x.shape[0], dtype=bool))]
    result = []
    for at in times:
        index, offset, width = interval_layout(np.asarray(at, dtype=float), cuts)
        cumulative = np.zeros_like(eta)
        for log_hazard, members in arms:
            cumulative[:, members] = hazard_at_times(log_hazard, index, offset, width)[1][:, members]
        with np.errstate(divide="ignore", over="ignore"):  # vague priors: H is 0 at time 0 or overflows to inf
            result.append(np.exp(eta + np.log(cumulative)))
    return result


def observed_survival(
    time: np.ndarray, event: np.ndarray, groups: dict[str, np.ndarray], landmarks: Sequence[float]
) -> np.ndarray:
    """Kaplan-Meier survival of each group (rows, in the order of ``groups``) at the landmarks (columns)."""
    values = np.empty((len(groups), len(landmarks)))
    for row, members in enumerate(groups.values()):
        curve = fit_km(time[members], event[members])
        values[row] = [curve_at(curve, float(landmark))["survival"] for landmark in landmarks]
    return values


def predictive_row(statistic: str, arm: str, time: float, draws: np.ndarray, observed: float) -> dict:
    """One row (``PRIOR_PREDICTIVE_COLUMNS``): the draws' median and 95% interval, and where ``observed`` falls."""
    tail = (1 - CI_PROB) / 2
    lower, estimate, upper = np.quantile(draws, [tail, 0.5, 1 - tail])
    below = float((draws < observed).mean()) if np.isfinite(observed) else np.nan
    return {
        "statistic": statistic,
        "arm": str(arm),
        "time": time,
        "estimate": estimate,
        "lower": lower,
        "upper": upper,
        "observed": observed,
        "prob_below_observed": below,
    }
