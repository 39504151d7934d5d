"""Decision-curve analysis of predicted risks with censored outcomes: net benefit by risk threshold.

Treating the patients whose predicted risk by horizon t exceeds a threshold ``p_t`` has net benefit
``NB(p_t) = TP - FP p_t / (1 - p_t)`` per patient, with (Vickers et al. 2008, BMC Med Inform Decis Mak 8:53, for
censored data) ``TP = F(t | risk > p_t) P(risk > p_t)`` and ``FP = (1 - F(t | risk > p_t)) P(risk > p_t)``, where
``F(t | risk > p_t)`` is the Kaplan-Meier risk by t among the patients above the threshold. Treat all has
``F(t) - (1 - F(t)) p_t / (1 - p_t)`` with the whole cohort's Kaplan-Meier risk; treat none 0. This is the direct
computation of the STRATOS tutorial (McLernon et al. 2023) and of ``dcurves::dca`` for a ``Surv`` outcome. When no
patient is above a threshold, treating by the model treats nobody: net benefit 0. When the patients above it are not
followed up to t, their Kaplan-Meier risk is undefined: NaN (the tutorial writes 0 there).

For a treatment-benefit model on a randomized cohort (:func:`benefit_net_benefit`; Vickers, Kattan & Sargent 2007,
Trials 8:14), the policy treats the patients whose predicted benefit (control minus treated risk by t) exceeds a
threshold ``b``, the harm of treating expressed as a risk difference. Its event risk is
``P(above) F_treated(t | above) + P(below) F_control(t | below)``, each ``F`` the Kaplan-Meier risk in that arm among
those patients (randomization makes each arm's patients above the threshold represent all patients above it). Net
benefit against treating nobody: ``F_control(t) - risk(policy) - b P(above)``; treat all:
``F_control(t) - F_treated(t) - b``; treat none: 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmesurv.validation.ipcw import km_risk, survival_inputs
from tmesurv.validation.score import ExternalPredictions

THRESHOLDS = np.arange(1, 100) / 100  # 0.01 to 0.99
DECISION_COLUMNS = ["decision", "horizon", "threshold", "net_benefit", "treat_all", "treat_none"]


def net_benefit(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, thresholds: np.ndarray = THRESHOLDS
) -> pd.DataFrame:
    """Net benefit of treating by predicted risk, of treating all and of treating none, at each threshold.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    risk
        ``(n,)`` predicted probability of an event by ``horizon``.
    horizon
        The time t.
    thresholds
        Risk thresholds strictly between 0 and 1 (default 0.01, 0.02, ..., 0.99).

    Returns
    -------
    pandas.DataFrame
        Columns ``DECISION_COLUMNS``, one row per threshold; all NaN but ``treat_none`` when nobody is followed up
        to ``horizon``.
    """
    time, event, _, risk = survival_inputs(time, event, None, risk)
    thresholds = np.asarray(thresholds, dtype=float)
    if not ((thresholds > 0) & (thresholds < 1)).all():
        raise ValueError("thresholds must be strictly between 0 and 1")
    odds = thresholds / (1 - thresholds)
    above = (risk[None, :] > thresholds[:, None]).astype(float)
    share = above.mean(axis=1)
    with np.errstate(invalid="ignore"):
        risk_above = km_risk(time, event, above, horizon)
        model = np.where(share > 0, share * (risk_above - (1 - risk_above) * odds), 0.0)
    everyone = float(km_risk(time, event, np.ones((1, time.size)), horizon)[0])
    return pd.DataFrame(
        {
            "decision": "risk",
            "horizon": float(horizon),
            "threshold": thresholds,
            "net_benefit": model,
            "treat_all": everyone - (1 - everyone) * odds,
            "treat_none": 0.0,
        }
    )[DECISION_COLUMNS]


def decision_curve_table(predictions: ExternalPredictions) -> pd.DataFrame:
    """:func:`net_benefit` at every horizon the external follow-up reaches (``decision_curve.csv``, no ``model``)."""
    p = predictions
    tables = []
    for horizon, risk in sorted(p.risk.items()):
        if horizon > np.max(p.time):
            continue
        tables.append(net_benefit(p.time, p.event, risk, horizon))
        if p.treated is not None and p.risk_control is not None and p.risk_treated is not None:
            benefit = p.risk_control[horizon] - p.risk_treated[horizon]
            tables.append(benefit_net_benefit(p.time, p.event, p.treated, benefit, horizon))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=DECISION_COLUMNS)


def benefit_net_benefit(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    benefit: np.ndarray,
    horizon: float,
    thresholds: np.ndarray = THRESHOLDS,
) -> pd.DataFrame:
    """Net benefit of treating by predicted benefit, of treating all and of treating none (see the module docstring).

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    treated
        ``(n,)`` 1 for the treated arm, 0 for control (a randomized cohort).
    benefit
        ``(n,)`` predicted benefit by ``horizon``: risk under control minus risk under treatment.
    horizon
        The time t.
    thresholds
        Benefit thresholds (the harm of treatment as a risk difference), strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``DECISION_COLUMNS`` with ``decision`` ``benefit``; NaN where an arm of the patients above or below a
        threshold (both present) is not followed up to ``horizon``.
    """
    time, event, _, treated, benefit = survival_inputs(time, event, None, treated, benefit)
    thresholds = np.asarray(thresholds, dtype=float)
    above = benefit[None, :] > thresholds[:, None]
    share = above.mean(axis=1)
    arm = treated == 1
    with np.errstate(invalid="ignore"):
        treated_above = km_risk(time, event, (above & arm).astype(float), horizon)
        control_below = km_risk(time, event, (~above & ~arm).astype(float), horizon)
        policy = np.where(share > 0, share * treated_above, 0.0) + np.where(share < 1, (1 - share) * control_below, 0.0)
    control, treatment = (float(km_risk(time, event, w[None, :].astype(float), horizon)[0]) for w in (~arm, arm))
    return pd.DataFrame(
        {
            "decision": "benefit",
            "horizon": float(horizon),
            "threshold": thresholds,
            "net_benefit": control - policy - thresholds * share,
            "treat_all": control - treatment - thresholds,
            "treat_none": 0.0,
        }
    )[DECISION_COLUMNS]
