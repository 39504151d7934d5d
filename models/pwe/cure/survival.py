"""Survival of the arms under the mixture-cure model: ``S_a(t) = pi_a + (1 - pi_a) exp(-H_a(t))`` per draw.

``pi_a`` is the cure fraction of arm ``a`` (from ``cure_intercept`` and the ``arm`` term of ``cure_coef``) and ``H_a``
the uncured's cumulative hazard (:func:`tmesurv.models.pwe.survival.arm_hazards` reads it from ``log_baseline`` and
``coef`` as for a proportional-hazards fit). A fit without a cure fraction has ``pi_a = 0``, so the functions here
serve every fit. Medians and restricted means are exact per draw: the median solves
``exp(-H_a(t)) = (1/2 - pi_a) / (1 - pi_a)`` (never reached when ``pi_a >= 1/2``), and the restricted mean up to ``tau``
is ``pi_a tau + (1 - pi_a)`` times the uncured's.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.designs import ARM


def arm_cure_fractions(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """Per arm, the cure fraction of every draw, shape ``(draws,)``; zeros for a fit without a cure fraction."""
    posterior = idata.posterior
    draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    if "cure_intercept" not in posterior:
        return {CONTROL: np.zeros(draws), TREATED: np.zeros(draws)}
    intercept = posterior["cure_intercept"].to_numpy().reshape(-1)
    arm = posterior["cure_coef"].sel(term=ARM).to_numpy().reshape(-1)
    return {CONTROL: _expit(intercept), TREATED: _expit(intercept + arm)}


def mixture_survival(cure: np.ndarray, cumulative_hazard: np.ndarray) -> np.ndarray:
    """``pi + (1 - pi) exp(-H)``: cure fractions ``(draws,)``, cumulative hazards ``(draws, times)``."""
    return cure[:, None] + (1.0 - cure[:, None]) * np.exp(-cumulative_hazard)


def uncured_median_target(cure: np.ndarray) -> np.ndarray:
    """The uncured's cumulative hazard at which the mixture's survival is 1/2 (infinite when ``pi >= 1/2``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cure < 0.5, -np.log((0.5 - cure) / (1.0 - cure)), np.inf)


def _expit(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))
