"""What a Kaplan-Meier figure marks besides its curves: censoring times, band scale, log-rank P, numbers at risk.

Censoring times are read off the step data of ``km_curves.csv``, which has a row at every distinct follow-up time
(events and censorings alike): at a row, ``at_risk - at_risk(next row) - events`` patients were censored, with
``events = round(at_risk x (1 - S / S(previous row)))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.reports.format import format_p

CENSOR_MARKER = "+"


GID_STEPS, GID_BAND, GID_CENSOR, GID_LOGRANK = "km-steps", "km-band", "km-censored", "km-logrank"  # artist ids


def band_label(ci_method: str | None) -> str:
    """The legend entry of the Kaplan-Meier confidence band: ``95% CI (log-log)``."""
    return "95% CI" + (f" ({ci_method})" if ci_method else "")


@dataclass(frozen=True)
class KmMarks:
    """What a Kaplan-Meier figure states besides its curves: log-rank tests, the band's scale, subgroup meanings.

    Attributes
    ----------
    logrank
        ``logrank.csv`` (``endpoint, comparison, subgroup, p``), optional: the P of each panel's comparison.
    ci_method
        Scale of the confidence band (``log-log`` or ``log``), named in the legend.
    descriptions
        Subgroup label -> what it means (``subgroups.csv``: ``spd_mm2=high`` -> ``spd_mm2 > 3721``), for titles.
    """

    logrank: pd.DataFrame | None = None
    ci_method: str | None = None
    descriptions: Mapping[str, str] | None = None

    def p_text(self, endpoint: str, comparison: str, subgroup: str) -> str | None:
        """``Log-rank P = 0.012`` for one row of ``logrank``, or None without it."""
        if self.logrank is None:
            return None
        rows = self.logrank[
            (self.logrank["endpoint"] == endpoint)
            & (self.logrank["comparison"] == comparison)
            & (self.logrank["subgroup"] == subgroup)
        ]
        if rows.empty or pd.isna(rows["p"].iloc[0]):
            return None
        p = format_p(rows["p"].iloc[0])
        return f"Log-rank P < {p[1:]}" if p.startswith("<") else f"Log-rank P = {p}"

    def title(self, subgroup: str) -> str:
        """A subgroup as a panel title: its meaning when known (``spd_mm2 > 3721``), else its label."""
        return (self.descriptions or {}).get(subgroup, subgroup)


def censoring_times(curve: pd.DataFrame) -> np.ndarray:
    """The times at which at least one patient of one curve was censored, read off its step data.

    Parameters
    ----------
    curve
        One curve's rows of ``km_curves.csv``, sorted by ``time``: a row per distinct follow-up time with the
        survival after it and the number at risk just before it.

    Returns
    -------
    numpy.ndarray
        The times where ``at_risk - at_risk(next row) - events > 0``, with the events of a row
        ``round(at_risk x (1 - S / S(previous row)))`` (survival 1 before the first row).
    """
    time = curve["time"].to_numpy(dtype=float)
    survival = curve["survival"].to_numpy(dtype=float)
    at_risk = curve["at_risk"].to_numpy(dtype=float)
    previous = np.r_[1.0, survival[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        events = np.rint(at_risk * np.where(previous > 0, 1.0 - survival / previous, 0.0))
    censored = at_risk - np.r_[at_risk[1:], 0.0] - events
    return time[censored > 0.5]


AT_RISK_STEPS = (3, 6, 12, 24, 48)  # candidate months between at-risk columns


TARGET_AT_RISK_INTERVALS = 6  # 36 or 44 months of follow-up get a column every 6 months


def at_risk_times(max_time: float) -> np.ndarray:
    """Regular times (months) for the numbers-at-risk row: 0, step, 2 x step, ... up to ``max_time``.

    The step is the one of :data:`AT_RISK_STEPS` whose number of intervals is closest to
    :data:`TARGET_AT_RISK_INTERVALS` (ties go to the longer step).
    """
    max_time = max(max_time, 0.0)
    step = min(AT_RISK_STEPS, key=lambda s: (abs(max_time / s - TARGET_AT_RISK_INTERVALS), -s))
    return np.arange(0.0, max_time + 1e-9, step)


def numbers_at_risk(curve: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Read the number at risk at each of ``times`` off one arm's step data.

    Parameters
    ----------
    curve
        One arm's rows, sorted by ``time``; ``at_risk`` is the number at risk just before each ``time``.
    times
        Times (months) to report.

    Returns
    -------
    numpy.ndarray
        For each time ``t``: ``at_risk`` of the first row with ``time >= t`` (patients still followed at
        ``t``), or 0 after the last row. Patients censored between ``t`` and that row are not counted, so when
        the step data holds event times only this is a slight undercount.
    """
    curve_times = curve["time"].to_numpy(dtype=float)
    at_risk = np.append(curve["at_risk"].to_numpy(dtype=float), 0.0)
    return at_risk[np.searchsorted(curve_times, times, side="left")].astype(int)
