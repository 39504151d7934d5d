"""Decision-curve analysis of predicted risks with censored outcomes: net benefit by risk threshold.

Treating the patients whose predicted risk by horizon t exceeds a threshold ``p_t`` has net benefit
``NB(p_t) = TP - FP p_t / (1 - p_t)`` per patient, with (Vickers et al. 2008, BMC Med Inform Decis Mak 8:53, for
censored data) ``TP = F(t | risk > p_t) P(risk > p_t)`` and ``FP = (1 - F(t | risk > p_t)) P(risk > p_t)``, where
``F(t | risk > p_t)`` is the Kaplan-Meier risk by t among the patients above the threshold. Treat all has
``F(t) - (1 - F(t)) p_t / (1 - p_t)`` with the whole cohort's Kaplan-Meier risk; treat none 0. This is the direct
computation of the STRATOS tutorial (McLernon et al. 2023) and of ``dcurves::dca`` for a ``Surv`` outcome. When no
patient is above a threshold, treating by the model treats nobody: net benefit 0. When the patients above it are not
followed up to t, their Kaplan-Meier risk is undefined: NaN (the tutorial writes 0 there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmesurv.validation.ipcw import km_risk, survival_inputs
from tmesurv.validation.score import ExternalPredictions

THRESHOLDS = np.arange(1, 100) / 100  # 0.01 to 0.99
DECISION_COLUMNS = ["horizon", "threshold", "net_benefit", "treat_all", "treat_none"]


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
    tables = [net_benefit(p.time, p.event, risk, h) for h, risk in sorted(p.risk.items()) if h <= np.max(p.time)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=DECISION_COLUMNS)
