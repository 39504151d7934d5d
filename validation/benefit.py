"""Predicted treatment benefit on a two-arm external cohort: calibration by group, matched pairs, the interaction.

A patient's predicted absolute benefit at horizon t is the difference of the model's predicted event probabilities
under control and under treatment, ``risk_control - risk_treated`` (positive: treatment lowers the risk).

* **Benefit by group**: patients are split into quantile groups of predicted benefit (both arms together; R's
  ``cut(benefit, quantile(benefit, 0:g / g), include.lowest = TRUE)``). Per group, the observed benefit is the
  difference of Kaplan-Meier risks at t between the arms, ``(1 - S_control(t)) - (1 - S_treated(t))``, with a Wald
  interval from the arms' Greenwood standard errors (R's ``summary(survfit(...), times = t)$std.err``).
* **c-for-benefit** (van Klaveren et al. 2018, J Clin Epidemiol 94:59), adapted to censored outcomes at a horizon:
  the outcome is an event by t; patients censored before t (outcome unknown) are left out; the remaining treated and
  control patients are each ranked by predicted benefit and matched 1:1 by rank. With unequal arms the smaller arm's
  k-th of m patients (k = 0, 1, ...) is matched to the larger arm's patient of rank ``floor((k + 1/2) M / m)`` (M
  its size), spreading the matches evenly over its ranks rather than discarding a random subset, so the statistic is
  deterministic (:func:`rank_matched_pairs`; van Klaveren's random matching is in
  :mod:`tmesurv.validation.benefit_matching`, which computes the c-for-benefit by either). A pair's predicted
  benefit is the mean of its two patients' predicted benefits, its observed
  benefit ``y_control - y_treated`` (-1, 0 or 1). The c-for-benefit is the share of pairs of pairs with different
  observed benefit in which the pair with the larger observed benefit has the larger predicted benefit (ties in
  predicted benefit count one half), as ``Hmisc::rcorr.cens`` computes it in the original paper. Leaving out
  patients censored before t is unbiased only under censoring independent of the outcome and of predicted benefit.
* **Replication of the interaction**: the external Cox model ``treated + marker + treated:marker`` (Efron ties,
  :func:`tmesurv.models.cox.fitting.fit_cox`, equal to R's ``coxph``) gives the external interaction hazard ratio,
  compared with the model's interaction by their ratio (independent samples: the variances of the log ratios add).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from tmesurv.models.cox.fitting import fit_cox
from tmesurv.validation.bootstrap import metric_row
from tmesurv.validation.ipcw import survival_inputs, weighted_curves

BENEFIT_GROUP_COLUMNS = [
    "group",
    "benefit_from",
    "benefit_to",
    "n",
    "events",
    "n_treated",
    "n_control",
    "predicted",
    "observed",
    "lower",
    "upper",
    "note",
]
_PAIR_BLOCK = 1 << 22  # pair-of-pairs comparisons held at a time


def benefit_by_group(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    risk_control: np.ndarray,
    risk_treated: np.ndarray,
    horizon: float,
    n_groups: int = 4,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Observed against predicted absolute benefit at ``horizon``, by quantile group of predicted benefit.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    treated
        ``(n,)`` 1 (or True) for patients randomised to the treatment, 0 for control.
    risk_control, risk_treated
        ``(n,)`` the model's predicted probability of an event by ``horizon`` under control and under treatment.
    horizon
        The time t.
    n_groups
        Number of quantile groups; a final row ``group = "all"`` covers all patients.
    alpha
        One minus the confidence level of the observed benefit's interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``BENEFIT_GROUP_COLUMNS``: the group (``Q1`` lowest predicted benefit), its range of predicted
        benefit, patients, events by ``horizon``, patients per arm, mean predicted benefit, observed benefit with
        its interval, and a note when an arm of the group is not followed beyond ``horizon`` (observed benefit NaN).
    """
    time, event, _, treated, risk_control, risk_treated = survival_inputs(
        time, event, None, treated, risk_control, risk_treated
    )
    check_arms(treated)
    benefit = risk_control - risk_treated
    breaks = np.quantile(benefit, np.linspace(0, 1, n_groups + 1))
    labels = np.searchsorted(breaks[1:-1], benefit, side="left")
    z = stats.norm.ppf(1 - alpha / 2)
    rows = [
        _group_row(f"Q{g + 1}", breaks[g], breaks[g + 1], labels == g, time, event, treated, benefit, horizon, z)
        for g in range(n_groups)
    ]
    everyone = np.ones(time.size, dtype=bool)
    rows.append(_group_row("all", breaks[0], breaks[-1], everyone, time, event, treated, benefit, horizon, z))
    return pd.DataFrame(rows, columns=BENEFIT_GROUP_COLUMNS)


def interaction_replication(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    marker: np.ndarray,
    model_log_hr: float,
    model_se: float,
    alpha: float = 0.05,
) -> list[dict]:
    """The treatment-by-marker interaction in the external cohort against the model's.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    treated
        ``(n,)`` 1 for treatment, 0 for control.
    marker
        ``(n,)`` the biomarker on the scale the model used.
    model_log_hr, model_se
        The model's interaction log hazard ratio and its standard error (a Bayesian model: posterior mean and sd).
    alpha
        One minus the confidence level.

    Returns
    -------
    list[dict]
        Rows (``VALIDATION_COLUMNS``) ``interaction_hr_external``, ``interaction_hr_model`` and
        ``interaction_hr_ratio`` (external over model, with the P value of their difference in the note).
    """
    time, event, _, treated, marker = survival_inputs(time, event, None, treated, marker)
    check_arms(treated)
    design = pd.DataFrame({"treated": treated, "marker": marker, "treated:marker": treated * marker})
    external = fit_cox(time, event, design, alpha=alpha).loc["treated:marker"]
    z = stats.norm.ppf(1 - alpha / 2)
    log_ratio, se_ratio = external["coef"] - model_log_hr, math.hypot(external["se"], model_se)
    p = 2 * stats.norm.sf(abs(log_ratio / se_ratio))
    counts = {"n": int(time.size), "events": int(event.sum())}
    rows = [
        ("interaction_hr_external", external["coef"], external["se"], "external Cox: treated + marker + interaction"),
        ("interaction_hr_model", model_log_hr, model_se, "the model's interaction"),
        ("interaction_hr_ratio", log_ratio, se_ratio, f"external / model; P (difference) = {p:.3g}"),
    ]
    return [
        metric_row(metric, math.exp(log_hr), **counts, note=note)
        | {"lower": math.exp(log_hr - z * se), "upper": math.exp(log_hr + z * se)}
        for metric, log_hr, se, note in rows
    ]


def check_arms(treated: np.ndarray) -> None:
    """Raise unless ``treated`` is 0/1 with both arms present."""
    if not np.isin(treated, (0.0, 1.0)).all():
        raise ValueError("treated must be 1 (treatment) or 0 (control) for every patient")
    if np.unique(treated).size < 2:
        raise ValueError("the external cohort needs patients in both arms for treatment-benefit metrics")


def _group_row(
    label: str,
    low: float,
    high: float,
    members: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    benefit: np.ndarray,
    horizon: float,
    z: float,
) -> dict:
    """One row of :func:`benefit_by_group`: observed benefit = control risk - treated risk, Greenwood-based CI."""
    arms = [members & (treated == 0), members & (treated == 1)]
    (risk_c, se_c), (risk_t, se_t) = (_km_risk_se(time[arm], event[arm], horizon) for arm in arms)
    observed, se = risk_c - risk_t, math.hypot(se_c, se_t)
    note = "" if np.isfinite(observed) else f"an arm of the group is not followed beyond {horizon:g}"
    return {
        "group": label,
        "benefit_from": low,
        "benefit_to": high,
        "n": int(members.sum()),
        "events": int((event[members] * (time[members] <= horizon)).sum()),
        "n_treated": int(arms[1].sum()),
        "n_control": int(arms[0].sum()),
        "predicted": float(benefit[members].mean()) if members.any() else math.nan,
        "observed": observed,
        "lower": observed - z * se,
        "upper": observed + z * se,
        "note": note,
    }


def _km_risk_se(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier risk at ``horizon`` and its Greenwood standard error (NaN if nobody is followed up to it)."""
    if not (time >= horizon).any():
        return math.nan, math.nan
    curves = weighted_curves(time, event, np.ones((1, time.size)))
    n, d = curves.at_risk[0], curves.events[0]
    survival = curves.survival()[0]
    upto = curves.times <= horizon
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.sum(np.where(upto & (d > 0), d / (n * (n - d)), 0.0))
    s = survival[upto][-1] if upto.any() else 1.0
    return float(1 - s), float(s * math.sqrt(greenwood))


def rank_matched_pairs(
    benefit: np.ndarray, outcome: np.ndarray, arm: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-matched pairs per row: ``(B, K)`` pair predicted benefit, observed benefit and validity."""
    sorted_arms = []
    for in_arm in (~arm, arm):  # control, treated
        eligible = known & in_arm
        order = np.argsort(np.where(eligible, benefit, np.inf), axis=1, kind="stable")
        size = eligible.sum(axis=1)
        sorted_arms.append((np.take_along_axis(benefit, order, 1), np.take_along_axis(outcome, order, 1), size))
    (ben_c, y_c, m_c), (ben_t, y_t, m_t) = sorted_arms
    small, large = np.minimum(m_c, m_t)[:, None], np.maximum(m_c, m_t)[:, None]
    k = np.arange(benefit.shape[1])[None, :]
    valid = k < small
    partner = np.minimum((k + 0.5) * large // np.maximum(small, 1), benefit.shape[1] - 1).astype(int)
    control_small = (m_c <= m_t)[:, None]
    idx_c, idx_t = np.where(control_small, k, partner), np.where(control_small, partner, k)
    predicted = (np.take_along_axis(ben_c, idx_c, 1) + np.take_along_axis(ben_t, idx_t, 1)) / 2
    observed = np.take_along_axis(y_c, idx_c, 1) - np.take_along_axis(y_t, idx_t, 1)
    return np.where(valid, predicted, 0.0), np.where(valid, observed, 0.0), valid


def pair_concordance(predicted: np.ndarray, observed: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(B,)`` concordance of pair predicted with observed benefit over pairs of pairs with different observed."""
    width = int(valid.sum(axis=1).max()) if valid.size else 0
    predicted, observed, valid = predicted[:, :width], observed[:, :width], valid[:, :width]
    step = max(1, _PAIR_BLOCK // max(width * width, 1))
    concordant, usable = np.zeros(predicted.shape[0]), np.zeros(predicted.shape[0])
    for start in range(0, predicted.shape[0], step):
        rows = slice(start, start + step)
        p, o, v = predicted[rows], observed[rows], valid[rows]
        ordered = (o[:, :, None] > o[:, None, :]) & v[:, :, None] & v[:, None, :]
        score = (p[:, :, None] > p[:, None, :]) + 0.5 * (p[:, :, None] == p[:, None, :])
        concordant[rows] = (ordered * score).sum(axis=(1, 2))
        usable[rows] = ordered.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return concordant / usable
