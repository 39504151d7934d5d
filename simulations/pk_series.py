"""CAR T level time series behind the simulated peak, time to peak and AUC(0-28) of the treated arm.

Each treated patient's profile is piecewise linear through its samples (days :data:`SAMPLE_DAYS` and every possible
time to peak, 0 to 28): 0 on day 0, the peak on the time-to-peak day, a geometric decline ``peak x r^(day - time to
peak)`` on the later sample days. The rise is the straight line from day 0 when the simulated AUC allows it; the
decline ``r`` in [0, 1] is then solved (bisection, all patients at once) so that the linear-trapezoid AUC(0-28) of
the samples equals the simulated AUC. When even r = 0 (nothing left the day after the peak's next sample) leaves too
much area, the decline is r = 0 and the rise is made convex instead, ``peak (day / time to peak)^k`` with k >= 1
solved the same way (the expansion of CAR T cells is exponential-like). So the rules of :mod:`tmesurv.models.product.pk`
give back the simulated peak and time to peak always, and the AUC wherever a profile has it.

Not every simulated (peak, time to peak, AUC) triple has a profile: the simulation draws peak and AUC from
correlated distributions (:mod:`tmesurv.simulations.product`) without the constraints of a curve whose maximum is the
peak: an area of at most ``peak x (28 - time to peak / 2)`` (straight rise, r = 1) and at least
``peak x (next sample day - previous sample day) / 2`` (k infinite, r = 0). Those patients get the nearest profile;
their derived AUC differs from the export's ``auc_0_28`` and :func:`pk_series` flags them (15-25% of the treated arm
of the zuma7 scenario, nearly all above the maximum). Control patients have no samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.errors import InputError

SAMPLE_DAYS = (0, 3, 7, 8, 9, 11, 14, 21, 28)
"""Sampling schedule (days since infusion); every time-to-peak day of the scenario is added to it."""
END_DAY = 28
BISECTION_STEPS = 64  # halves [0, 1] down to below the spacing of doubles
MIN_RISE = 1e-12  # rise shape 0: (day / tmax)^1e12 underflows to 0 before the peak
PK_SERIES_COLUMNS = ["subject_id", "day", "car_t_cells_per_ul"]


@dataclass(frozen=True)
class PkSeries:
    """Simulated CAR T levels (long format, :data:`PK_SERIES_COLUMNS`) and the patients whose AUC was out of reach."""

    samples: pd.DataFrame
    infeasible: np.ndarray


def sample_days(time_to_peak_days: tuple[int, ...]) -> np.ndarray:
    """The sampling schedule: :data:`SAMPLE_DAYS` and every possible time to peak (which must be within 28 days)."""
    late = [day for day in time_to_peak_days if day > END_DAY]
    if late:
        raise InputError(
            f"product.time_to_peak_days has day {late[0]} > {END_DAY}: a CAR T series for AUC(0-28) needs the "
            "peak within 28 days"
        )
    return np.union1d(SAMPLE_DAYS, time_to_peak_days).astype(float)


def pk_series(
    ids: np.ndarray, peak: np.ndarray, time_to_peak: np.ndarray, auc: np.ndarray, days: np.ndarray
) -> PkSeries:
    """Levels on ``days`` of every patient with a peak (treated), reproducing peak, time to peak and AUC(0-28).

    Parameters
    ----------
    ids
        Patient ids.
    peak, time_to_peak, auc
        Simulated peak (cells/uL), time to peak (a day of ``days``) and AUC(0-28); NaN for control patients.
    days
        The sampling schedule, from :func:`sample_days` (0 to 28).

    Returns
    -------
    PkSeries
        One row per treated patient and day, and a flag per treated patient (in ``ids`` order) whose AUC had no
        profile (nearest feasible profile used).
    """
    treated = ~np.isnan(peak)
    peak, tmax, auc = peak[treated, None], time_to_peak[treated, None], auc[treated]
    ones, zeros = np.ones(auc.size), np.zeros(auc.size)

    def area(rise: np.ndarray, decline: np.ndarray) -> np.ndarray:
        levels = _levels(days, peak, tmax, rise, decline)
        return np.sum((levels[:, 1:] + levels[:, :-1]) / 2 * np.diff(days), axis=1)

    fastest_decline = area(ones, zeros)
    decline = _solve(lambda r: area(ones, r), np.maximum(auc, fastest_decline))
    rise = _solve(lambda q: area(q, zeros), np.minimum(auc, fastest_decline))
    infeasible = (auc < area(zeros, zeros)) | (auc > area(ones, ones))
    levels = _levels(days, peak, tmax, rise, decline)
    samples = pd.DataFrame(
        {
            PK_SERIES_COLUMNS[0]: np.repeat(np.asarray(ids)[treated], days.size),
            PK_SERIES_COLUMNS[1]: np.tile(days.astype(int), treated.sum()),
            PK_SERIES_COLUMNS[2]: levels.ravel(),
        }
    )
    return PkSeries(samples, infeasible)


def _levels(days: np.ndarray, peak: np.ndarray, tmax: np.ndarray, rise: np.ndarray, decline: np.ndarray) -> np.ndarray:
    """Levels (patients x days): ``peak (day / tmax)^(1 / rise)`` before the peak, ``peak decline^(day - tmax)`` after.

    ``rise`` 1 is the straight line from 0 on day 0; towards 0 the rise waits until the last sample before the peak.
    """
    after = days - tmax
    exponent = 1 / np.maximum(rise, MIN_RISE)[:, None]
    before = np.minimum(days / tmax, 1.0) ** exponent
    later = np.where(after > 0, decline[:, None] ** np.maximum(after, 0.0), 1.0)  # the peak itself: exactly 1
    return peak * np.where(after < 0, before, later)


def _solve(area_of, goal: np.ndarray) -> np.ndarray:
    """Per patient the x in [0, 1] with ``area_of(x) = goal`` (``area_of`` increasing; goal clipped to its range)."""
    lower, upper = np.zeros(goal.size), np.ones(goal.size)
    goal = np.clip(goal, area_of(lower), area_of(upper))
    for _ in range(BISECTION_STEPS):
        middle = (lower + upper) / 2
        below = area_of(middle) < goal
        lower, upper = np.where(below, middle, lower), np.where(below, upper, middle)
    return (lower + upper) / 2


def trial_pk_series(columns: dict[str, np.ndarray], time_to_peak_days: tuple[int, ...]) -> PkSeries:
    """The CAR T series of one simulated export (its columns: subject_id, peak_car_t, time_to_peak_days, auc_0_28).

    Parameters
    ----------
    columns
        :attr:`tmesurv.simulations.trial.SimulatedTrial.columns`.
    time_to_peak_days
        The scenario's possible times to peak (``product.time_to_peak_days``), added to the schedule.
    """
    days = sample_days(time_to_peak_days)
    peak, tmax, auc = (np.asarray(columns[c], dtype=float) for c in ("peak_car_t", "time_to_peak_days", "auc_0_28"))
    return pk_series(columns["subject_id"], peak, tmax, auc, days)
