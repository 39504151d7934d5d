"""Score a model's predictions on an external cohort: every metric in one tidy table (``validation.csv``).

The table has the columns ``VALIDATION_COLUMNS``: ``metric, group, horizon, estimate, lower, upper, n, events,
note``. ``group`` is ``all`` except for rows about a group (a quantile group of predicted benefit, ``Q1`` lowest); the
interval is a bootstrap percentile interval (one set of resamples, drawn within arm for a two-arm cohort, shared by
all metrics) except for the observed benefit by group (Greenwood-based Wald interval, see
:mod:`tmesurv.validation.benefit`). ``events`` counts all events for the C indexes and the calibration slope, events
by the horizon for the metrics at a horizon. A horizon at or beyond the last external follow-up time gives NaN
estimates and says so in ``note``; a horizon beyond the development follow-up is scored with a caveat in ``note``.

Case-mix rows (:func:`tmesurv.validation.case_mix.case_mix_rows`) and the interaction's replication
(:func:`tmesurv.validation.benefit.interaction_replication`) use other inputs and are concatenated by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.validation.benefit import benefit_by_group
from tmesurv.validation.benefit_matching import (
    RANK_MATCHING,
    BenefitMatching,
    c_for_benefit,
    e_for_benefit,
    matching_note,
)
from tmesurv.validation.bootstrap import VALIDATION_COLUMNS, metric_row, resample_counts, with_estimate
from tmesurv.validation.brier import brier_score, integrated_brier, ipa, null_brier_score
from tmesurv.validation.calibration import calibration_curve, calibration_in_the_large, calibration_slope, oe_ratio
from tmesurv.validation.discrimination import harrell_c, time_auc, uno_c
from tmesurv.validation.ipcw import horizon_note


@dataclass(frozen=True)
class ExternalPredictions:
    """A model's predictions for the patients of an external cohort, with their outcome.

    Attributes
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    lp
        ``(n,)`` linear predictor (or any risk score, higher = worse).
    risk
        Predicted probability of an event by each horizon: ``{horizon: (n,) array}``.
    treated
        ``(n,)`` 1 for treatment, 0 for control, for a two-arm cohort (enables the benefit metrics).
    risk_control, risk_treated
        ``{horizon: (n,) array}``: each patient's predicted risk under control and under treatment.
    grid, risk_grid
        ``(K,)`` times and ``(n, K)`` predicted risks on them, for the integrated Brier score.
    """

    time: np.ndarray
    event: np.ndarray
    lp: np.ndarray
    risk: Mapping[float, np.ndarray]
    treated: np.ndarray | None = None
    risk_control: Mapping[float, np.ndarray] | None = None
    risk_treated: Mapping[float, np.ndarray] | None = None
    grid: np.ndarray | None = None
    risk_grid: np.ndarray | None = None


def validation_table(
    predictions: ExternalPredictions,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    tau: float | None = None,
    development_follow_up: float | None = None,
    n_groups: int = 4,
    matching: BenefitMatching = RANK_MATCHING,
) -> pd.DataFrame:
    """Discrimination, overall accuracy, calibration and (two arms) benefit metrics with bootstrap intervals.

    Parameters
    ----------
    predictions
        The external cohort's outcome and the model's predictions.
    n_boot
        Bootstrap replicates (0: estimates only).
    seed
        Seed of the resampling.
    alpha
        One minus the confidence level.
    tau
        Truncation time of Uno's C (None: the largest horizon before the last follow-up time).
    development_follow_up
        Last follow-up time of the development cohort, to flag horizons beyond it.
    n_groups
        Quantile groups of predicted benefit.
    matching
        How the c- and E-for-benefit pair treated with control patients
        (:mod:`tmesurv.validation.benefit_matching`).

    Returns
    -------
    pandas.DataFrame
        Columns ``VALIDATION_COLUMNS``.
    """
    p = predictions
    time, event = np.asarray(p.time, dtype=float), np.asarray(p.event, dtype=float)
    counts = resample_counts(time.size, n_boot, seed, p.treated) if n_boot > 0 else None
    w = with_estimate(time.size, counts)
    if tau is None:
        estimable = [h for h in p.risk if h <= time.max()]
        tau = max(estimable) if estimable else float(time.max())
    total = {"n": int(time.size), "events": int(event.sum())}
    rows = [
        metric_row("harrell_c", harrell_c(time, event, p.lp, w), **total, alpha=alpha),
        metric_row(
            "uno_c",
            uno_c(time, event, p.lp, tau, w),
            **total,
            horizon=tau,
            alpha=alpha,
            note=f"events up to tau = {tau:g}",
        ),
        metric_row("calibration_slope", calibration_slope(time, event, p.lp, weights=w), **total, alpha=alpha),
    ]
    for horizon in sorted(p.risk):
        note = horizon_note(time, horizon, development_follow_up, event)
        rows += _horizon_rows(p, horizon, w, alpha, note, n_groups, matching)
    if p.grid is not None and p.risk_grid is not None:
        grid = np.asarray(p.grid, dtype=float)
        note = horizon_note(time, float(grid[-1]), development_follow_up, event)
        value = integrated_brier(time, event, p.risk_grid, grid, w)
        rows.append(
            metric_row(
                "integrated_brier", value, **_counts(event, time, grid[-1]), horizon=grid[-1], note=note, alpha=alpha
            )
        )
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def _horizon_rows(
    p: ExternalPredictions,
    horizon: float,
    w: np.ndarray,
    alpha: float,
    note: str,
    n_groups: int,
    matching: BenefitMatching,
) -> list[dict]:
    """The rows of one horizon: AUC, Brier, IPA, calibration and, for two arms, benefit.

    The calibration slope at a horizon is fitted on follow-up administratively censored there (McLernon et al.
    2023); the row without a horizon uses all follow-up.
    """
    time, event, risk = np.asarray(p.time, dtype=float), np.asarray(p.event, dtype=float), p.risk[horizon]
    common = {**_counts(event, time, horizon), "horizon": horizon, "note": note, "alpha": alpha}
    curve = calibration_curve(time, event, risk, horizon, weights=w)
    slope = calibration_slope(time, event, p.lp, censor_at=horizon, weights=w) if horizon <= time.max() else np.nan
    curve_metrics = (("ici", curve.ici), ("e50", curve.e50), ("e90", curve.e90), ("emax", curve.emax))
    rows = [
        metric_row("time_auc", time_auc(time, event, risk, horizon, w), **common),
        metric_row("brier", brier_score(time, event, risk, horizon, w), **common),
        metric_row("brier_null", null_brier_score(time, event, horizon, w), **common),
        metric_row("ipa", ipa(time, event, risk, horizon, w), **common),
        metric_row("oe_ratio", oe_ratio(time, event, risk, horizon, w), **common),
        metric_row("calibration_in_the_large", calibration_in_the_large(time, event, risk, horizon, w), **common),
        metric_row("calibration_slope", slope, **common),
        *(metric_row(name, values, **_curve_common(common, curve.ici[0])) for name, values in curve_metrics),
    ]
    if p.treated is not None and p.risk_control is not None and p.risk_treated is not None:
        rows += _benefit_rows(p, horizon, w, common, n_groups, matching)
    return rows


def _benefit_rows(
    p: ExternalPredictions, horizon: float, w: np.ndarray, common: dict, n_groups: int, matching: BenefitMatching
) -> list[dict]:
    """c- and E-for-benefit, and predicted and observed benefit per quantile group and overall."""
    args = (p.time, p.event, p.treated, p.risk_control[horizon], p.risk_treated[horizon], horizon)
    matched = common | {"note": "; ".join(filter(None, [common["note"], matching_note(matching)]))}
    rows = [metric_row("c_for_benefit", c_for_benefit(*args, w, matching), **matched)]
    rows += [metric_row(name, values, **matched) for name, values in e_for_benefit(*args, w, matching).items()]
    groups = benefit_by_group(*args, n_groups=n_groups, alpha=common["alpha"])
    for group in groups.itertuples():
        base = {"group": group.group, "horizon": horizon, "n": group.n, "events": group.events}
        note = "; ".join(filter(None, [common["note"], group.note]))
        rows.append(metric_row("predicted_benefit", group.predicted, **base, note=note))
        observed = metric_row("observed_benefit", group.observed, **base, note=note)
        rows.append(observed | {"lower": group.lower, "upper": group.upper})
    return rows


def _curve_common(common: dict, ici: float) -> dict:
    """The row arguments of the calibration-curve metrics, saying why the curve is missing when no note does."""
    if np.isfinite(ici) or common["note"]:
        return common
    reason = "no smoothed calibration curve: too few distinct predicted risks for its knots, or its Cox fit failed"
    return common | {"note": reason}


def _counts(event: np.ndarray, time: np.ndarray, horizon: float) -> dict[str, int]:
    """Patients, and events by ``horizon``."""
    return {"n": int(time.size), "events": int(((time <= horizon) & (event == 1)).sum())}
