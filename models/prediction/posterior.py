"""The Bayesian fit of the validation model: a piecewise-exponential posterior and its posterior-mean predictions."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from tmesurv.cohort import Cohort
from tmesurv.models.prediction.info import DEVELOPMENT_ATTR, METADATA_ATTR, RISK_FLOOR, Development, ModelInfo
from tmesurv.models.prediction.settings import ValidationModelPlan
from tmesurv.models.prediction.terms import ANALYSIS, model_patients, validation_design
from tmesurv.models.pwe.data import pwe_log_likelihood
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

if TYPE_CHECKING:  # arviz and the PWE fit (PyMC) are imported where needed: tmesurv cox does not need them
    import arviz as az


@dataclass(frozen=True)
class PosteriorModel:
    """A Bayesian piecewise-exponential fit of the validation model (see :mod:`tmesurv.models.prediction`).

    Attributes
    ----------
    info
        Spec, endpoint, horizons, development cohort, config and version.
    coef
        ``(S, p)`` posterior draws of the log hazard ratios, columns in the order of ``info.design_terms``.
    log_baseline
        ``(S, K)`` draws of the log baseline hazard per interval (at design value zero).
    cuts
        ``(K - 1,)`` interior cut points of the baseline intervals.
    """

    info: ModelInfo
    coef: np.ndarray
    log_baseline: np.ndarray
    cuts: np.ndarray
    kind: ClassVar[str] = "bayes"

    def eta(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(S, n)`` linear predictor at every draw, once per distinct design row (equal terms, equal values)."""
        design = validation_design(values, treated, self.info.spec, self.info.terms).to_numpy(dtype=float)
        distinct, patient_row = np.unique(design, axis=0, return_inverse=True)
        return (self.coef @ distinct.T)[:, patient_row.ravel()]

    def linear_predictor(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(n,)`` posterior mean of the linear predictor, summed row by row (equal terms, equal values)."""
        design = validation_design(values, treated, self.info.spec, self.info.terms).to_numpy(dtype=float)
        return np.sum(design * self.coef.mean(axis=0), axis=1)

    def risk(self, values: pd.DataFrame, treated: np.ndarray, times: Sequence[float]) -> np.ndarray:
        """``(n, T)`` posterior mean probability of an event by each of ``times``."""
        eta = self.eta(values, treated)
        never = np.zeros(eta.shape[1])
        columns = [
            -np.expm1(pwe_log_likelihood(np.full(eta.shape[1], t), never, eta, self.log_baseline, self.cuts)).mean(0)
            for t in np.asarray(times, dtype=float)
        ]
        return np.clip(np.stack(columns, axis=1), RISK_FLOOR, 1 - RISK_FLOOR)

    def log_predictive_density(
        self, values: pd.DataFrame, treated: np.ndarray, time: np.ndarray, event: np.ndarray
    ) -> np.ndarray:
        """``(n,)`` pointwise log predictive density ``log mean_s p(y_i | draw s)`` of the observed outcomes.

        The density of an event time is per month (the cohort's time unit); a censored time contributes its
        survival probability.
        """
        log_likelihood = pwe_log_likelihood(time, event, self.eta(values, treated), self.log_baseline, self.cuts)
        return logsumexp(log_likelihood, axis=0) - math.log(log_likelihood.shape[0])

    def draw_event_times(
        self, values: pd.DataFrame, treated: np.ndarray, draws: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``(draws, n)`` event times simulated from ``draws`` posterior draws (chosen at random, without censoring).

        A time is ``H^{-1}(E)`` with ``E ~ Exp(1)`` and ``H`` the patient's piecewise-linear cumulative hazard.
        """
        chosen = rng.choice(self.coef.shape[0], size=min(draws, self.coef.shape[0]), replace=False)
        eta = self.eta(values, treated)[chosen]
        hazard = np.exp(self.log_baseline[chosen])
        starts = np.concatenate([[0.0], self.cuts])
        cumulative = np.concatenate([np.zeros((chosen.size, 1)), np.cumsum(hazard[:, :-1] * np.diff(starts), 1)], 1)
        target = rng.exponential(size=eta.shape) / np.exp(eta)
        interval = (cumulative[:, None, :] <= target[..., None]).sum(axis=-1) - 1
        start_hazard = np.take_along_axis(cumulative, interval, axis=1)
        return starts[interval] + (target - start_hazard) / np.take_along_axis(hazard, interval, axis=1)

    def interaction_effects(self) -> dict[str, tuple[float, float]]:
        """Each single-column interaction term's posterior mean and sd of its ``arm:<term>`` log hazard ratio."""
        effects = {}
        for text, name in self.info.interaction_columns.items():
            draws = self.coef[:, self.info.design_terms.index(name)]
            effects[text] = float(draws.mean()), float(draws.std(ddof=1))
        return effects


def fit_validation_posterior(
    cohort: Cohort, plan: ValidationModelPlan, settings: PweSettings, sampler: SamplerSettings
) -> az.InferenceData:
    """Fit the validation model by the Bayesian PWE model, ready to save for ``tmesurv validate``.

    Parameters
    ----------
    cohort
        The development cohort.
    plan
        The model, its endpoint and what the fit keeps (the config's ``validation_model`` section and more).
    settings, sampler
        The PWE model's and the sampler's settings (the config's ``bayes`` section).

    Returns
    -------
    arviz.InferenceData
        The fit of :func:`tmesurv.models.pwe.fit.fit_pwe`, with the model's metadata (spec, endpoint, horizons,
        config, version) as JSON in ``posterior.attrs["tmesurv_validation_model"]``.

    Raises
    ------
    InputError
        If a term is not numeric, or the PWE model cannot be built.
    """
    from tmesurv.models.pwe.fit import fit_pwe

    spec, endpoint = plan.spec, plan.endpoint
    patients, _, terms = model_patients(cohort, spec, ANALYSIS)
    values = patients.patients[terms.inputs]
    time, event = patients.time(endpoint), patients.event(endpoint)
    design = validation_design(values, patients.treated, spec, terms)
    idata = fit_pwe(time, event, design, settings, sampler)
    development = Development.of(time, event, values)
    info = ModelInfo.of(plan, development, cohort.expression, terms)
    idata.posterior.attrs[METADATA_ATTR] = json.dumps(info.header())
    idata.posterior.attrs[DEVELOPMENT_ATTR] = json.dumps(development.to_json())
    return idata
