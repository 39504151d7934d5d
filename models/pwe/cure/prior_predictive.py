"""Prior predictive check of the cure model: the plateau and the survival the priors expect, next to the data.

Parameters are drawn from the priors of the PyMC specification (:func:`~tmesurv.models.pwe.cure.model.cure_model`,
likelihood left out). Per draw and arm (the design's first column ``arm``, 0/1):

- ``cure_fraction``: the arm's cure fraction at the design's other terms' mean, the height of the plateau the priors
  expect; observed: the Kaplan-Meier survival at the arm's last event (the observed plateau);
- ``survival``: the arm's population-averaged survival at the landmarks, the mean over its patients of
  ``pi_i + (1 - pi_i) exp(-exp(eta_i) H0(t))``; observed: Kaplan-Meier.

The rows have the columns of ``bayes_prior_predictive.csv``
(:data:`~tmesurv.models.pwe.prior_predictive.PRIOR_PREDICTIVE_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmesurv.models.pwe.cure.likelihood import cure_data
from tmesurv.models.pwe.cure.model import cure_model
from tmesurv.models.pwe.cure.plateau import follow_up_facts
from tmesurv.models.pwe.data import hazard_at_times, interval_layout
from tmesurv.models.pwe.prior_predictive import (
    PRIOR_PREDICTIVE_COLUMNS,
    arm_groups,
    observed_survival,
    predictive_row,
    prior_draws,
)
from tmesurv.models.pwe.settings import PweSettings

NAMES = ("coef", "log_baseline", "cure_coef", "cure_intercept")


def cure_prior_predictive(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: PweSettings,
    draws: int = 1000,
    landmarks: Sequence[float] = (12.0, 24.0),
    *,
    seed: int,
) -> pd.DataFrame:
    """Prior predictive cure fraction per arm and survival at the landmarks, with the observed values.

    Parameters
    ----------
    time, event, design, settings
        As for :func:`~tmesurv.models.pwe.cure.fit.fit_cure` (the outcomes set only the cuts and the crude rate the
        baseline prior is centred on, as in the fit).
    draws
        Number of prior draws.
    landmarks
        Times (months) at which to give the survival.
    seed
        Seeds the draws.

    Returns
    -------
    pandas.DataFrame
        Columns ``PRIOR_PREDICTIVE_COLUMNS``: rows ``cure_fraction`` (time NaN) and ``survival`` per arm and landmark,
        each with the prior median and 95% interval, the observed value and the prior probability below it.
    """
    data = cure_data(time, event, design, settings.intervals)
    model = cure_model(data, list(design.columns), settings)
    sample = prior_draws(model, NAMES, draws, seed)
    x = design.to_numpy(dtype=float)
    cured = 1.0 / (1.0 + np.exp(-(sample["cure_intercept"] + sample["cure_coef"] @ x.T)))  # (draws, patients)
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    groups = arm_groups(design)
    observed = observed_survival(time, event, groups, landmarks)
    rows = []
    for position, (arm, members) in enumerate(groups.items()):
        plateau = follow_up_facts(time[members], event[members])["km_at_last_event"]
        rows.append(predictive_row("cure_fraction", arm, np.nan, cured[:, members].mean(axis=1), plateau))
        for column, landmark in enumerate(landmarks):
            survival = _survival(sample, x[members], cured[:, members], float(landmark), data.pwe.cuts)
            rows.append(predictive_row("survival", arm, float(landmark), survival, observed[position, column]))
    return pd.DataFrame(rows, columns=PRIOR_PREDICTIVE_COLUMNS)


def _survival(sample: dict, x: np.ndarray, cured: np.ndarray, landmark: float, cuts: np.ndarray) -> np.ndarray:
    """Per draw, the patients' mean mixture survival at ``landmark``."""
    index, offset, width = interval_layout(np.full(x.shape[0], landmark), cuts)
    cumulative = hazard_at_times(sample["log_baseline"], index, offset, width)[1]  # (draws, patients)
    with np.errstate(over="ignore", divide="ignore"):  # vague priors: the hazard overflows to inf (survival 0)
        uncured = np.exp(-np.exp(sample["coef"] @ x.T + np.log(cumulative)))
    return (cured + (1.0 - cured) * uncured).mean(axis=1)
