"""The Cox fit of the validation model: Efron coefficients, the Efron or Breslow baseline, and risk predictions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.models.cox.fitting import try_fit_cox
from tmesurv.models.prediction.info import RISK_FLOOR, Development, ModelInfo
from tmesurv.models.prediction.settings import ValidationModelPlan
from tmesurv.models.prediction.terms import ANALYSIS, model_patients, validation_design


@dataclass(frozen=True)
class CoxModel:
    """A Cox fit of the validation model (see :mod:`tmesurv.models.prediction`).

    Attributes
    ----------
    info
        Spec, endpoint, horizons, development cohort, config and version.
    coef, covariance
        ``(p,)`` log hazard ratios and their ``(p, p)`` covariance, in the order of ``info.design_terms``.
    centre
        ``(p,)`` design means (the baseline is at these values).
    baseline_time, baseline_hazard
        Distinct development event times and the baseline cumulative hazard just after each: Efron-type or Breslow
        (``info.spec.baseline``).
    """

    info: ModelInfo
    coef: np.ndarray
    covariance: np.ndarray
    centre: np.ndarray
    baseline_time: np.ndarray
    baseline_hazard: np.ndarray
    kind: ClassVar[str] = "cox"

    def linear_predictor(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(n,)`` linear predictor, centred at the development design means.

        Summed row by row (not a matrix product, whose blocking can change the last bits of one row and not of an
        identical one), so patients with equal terms get equal values and tie in the concordance indices.
        """
        design = validation_design(values, treated, self.info.spec, self.info.terms).to_numpy(dtype=float)
        return centred_linear_predictor(design, self.centre, self.coef)

    def cumulative_baseline(self, times: Sequence[float]) -> np.ndarray:
        """Baseline cumulative hazard at ``times`` (0 before the first event, flat after the last)."""
        position = np.searchsorted(self.baseline_time, np.asarray(times, dtype=float), side="right")
        return np.concatenate([[0.0], self.baseline_hazard])[position]

    def risk(self, values: pd.DataFrame, treated: np.ndarray, times: Sequence[float]) -> np.ndarray:
        """``(n, T)`` predicted probability of an event by each of ``times``: ``1 - S0(t)^exp(lp)``.

        ``S0`` is the step function of R's ``survfit``; lifelines' ``predict_survival_function`` interpolates
        linearly between event times instead, and agrees at the event times.
        """
        hazard = np.exp(self.linear_predictor(values, treated))[:, None] * self.cumulative_baseline(times)
        return np.clip(-np.expm1(-hazard), RISK_FLOOR, 1 - RISK_FLOOR)

    def interaction_effects(self) -> dict[str, tuple[float, float]]:
        """Each single-column interaction term's ``arm:<term>`` log hazard ratio and its standard error."""
        effects = {}
        for text, name in self.info.interaction_columns.items():
            column = self.info.design_terms.index(name)
            effects[text] = float(self.coef[column]), float(math.sqrt(self.covariance[column, column]))
        return effects

    def to_json(self) -> dict:
        """Everything in plain data, for ``validation_model.json`` (its format header aside)."""
        return {
            "model": self.kind,
            **self.info.header(),
            "design_terms": self.info.design_terms,
            "coef": self.coef.tolist(),
            "covariance": self.covariance.tolist(),
            "design_mean": self.centre.tolist(),
            "baseline": {"time": self.baseline_time.tolist(), "cumulative_hazard": self.baseline_hazard.tolist()},
            "development": self.info.development.to_json(),
        }


def fit_validation_model(cohort: Cohort, plan: ValidationModelPlan) -> tuple[CoxModel | None, list[Exclusion], str]:
    """Fit the validation model by Cox regression on its patients.

    Parameters
    ----------
    cohort
        The development cohort.
    plan
        The model, its endpoint and what the fit keeps (the config's ``validation_model`` section and more).

    Returns
    -------
    tuple[CoxModel | None, list[Exclusion], str]
        The fit (None when it cannot be estimated), the patients left out and why, and a note saying why the fit is
        missing (empty when it is not).

    Raises
    ------
    InputError
        If a term's source column is missing or has values it cannot take, or its knots cannot be placed.
    """
    spec, endpoint = plan.spec, plan.endpoint
    patients, exclusions, terms = model_patients(cohort, spec, ANALYSIS)
    time, event = patients.time(endpoint), patients.event(endpoint)
    values = patients.patients[terms.inputs]
    design = validation_design(values, patients.treated, spec, terms)
    fit, problem = try_fit_cox(time, event, design)
    if problem is not None:
        return None, exclusions, f"validation model not fitted ({problem}); nothing saved for tmesurv validate"
    coef = fit.coef[design.columns].to_numpy()
    centre = design.mean().to_numpy()
    estimator = efron_baseline if spec.baseline == "efron" else breslow_baseline
    baseline_time, baseline_hazard = estimator(time, event, centred_linear_predictor(design.to_numpy(), centre, coef))
    info = ModelInfo.of(plan, Development.of(time, event, values), cohort.expression, terms)
    covariance = fit.covariance.loc[design.columns, design.columns].to_numpy()
    return CoxModel(info, coef, covariance, centre, baseline_time, baseline_hazard), exclusions, ""


def centred_linear_predictor(design: np.ndarray, centre: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``(n,)`` linear predictor ``sum_j (x_ij - centre_j) coef_j``, summed row by row: equal rows, equal values."""
    return np.sum((np.asarray(design, dtype=float) - centre) * coef, axis=1)


def breslow_baseline(time: np.ndarray, event: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow estimate of the baseline cumulative hazard at ``lp = 0``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    lp
        ``(n,)`` linear predictors.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        The distinct event times and ``H0(t) = sum_{t_j <= t} d_j / sum_{i: T_i >= t_j} exp(lp_i)`` at each.
    """
    time, event, risk = np.asarray(time, dtype=float), np.asarray(event, dtype=float), np.exp(lp)
    times, position = np.unique(time, return_inverse=True)
    at_risk = np.cumsum(np.bincount(position, weights=risk, minlength=times.size)[::-1])[::-1]
    deaths = np.bincount(position, weights=event, minlength=times.size)
    has_event = deaths > 0
    return times[has_event], np.cumsum(deaths[has_event] / at_risk[has_event])


def efron_baseline(time: np.ndarray, event: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Efron-type estimate of the baseline cumulative hazard at ``lp = 0`` (R's ``survfit.coxph``, ``ctype = 2``).

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    lp
        ``(n,)`` linear predictors.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        The distinct event times and ``H0(t)``: a time with ``d`` events, risk-set sum ``R`` of ``exp(lp)`` and event
        sum ``E`` adds ``sum_{k<d} 1 / (R - (k / d) E)``; without tied events it equals the Breslow estimate.
    """
    time, event, risk = np.asarray(time, dtype=float), np.asarray(event, dtype=float), np.exp(lp)
    times, position = np.unique(time, return_inverse=True)
    at_risk = np.cumsum(np.bincount(position, weights=risk, minlength=times.size)[::-1])[::-1]
    deaths = np.bincount(position, weights=event, minlength=times.size)
    death_risk = np.bincount(position, weights=risk * event, minlength=times.size)
    has_event = np.flatnonzero(deaths > 0)
    counts = deaths[has_event].astype(int)
    group = np.repeat(np.arange(has_event.size), counts)
    k = np.arange(group.size) - np.repeat(np.cumsum(counts) - counts, counts)
    share = k / counts[group]
    increments = np.bincount(
        group, weights=1.0 / (at_risk[has_event][group] - share * death_risk[has_event][group]), minlength=counts.size
    )
    return times[has_event], np.cumsum(increments)
