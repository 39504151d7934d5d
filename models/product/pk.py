"""CAR T pharmacokinetics from level time series: peak, time to peak and AUC(0-28), per patient.

Rules (non-compartmental, as in the ZUMA-7 product analyses):

* Day 0 is the infusion. A patient without a day-0 sample is given level 0 at day 0: CAR T cells are not in the
  blood before they are infused. A day-0 sample, when given, is used as it is.
* Only samples on days 0 to 28 count for the peak (the largest level, Cmax) and the time to peak (the first day with
  that level, so ties go to the earliest day).
* AUC(0-28) is the linear trapezoid of the samples on days 0 to 28. When no sample is on day 28 but one sample is
  before it and one after, the level at day 28 is interpolated linearly between them; later samples are ignored.
  A patient whose last sample is before day 28 has no AUC(0-28) (NaN, listed in :attr:`PkParameters.truncated`):
  a truncated area would be an underestimate, and extrapolating would be a guess.

The kernel works on arrays that are already valid (no missing levels, no repeated day of a patient, days and levels
non-negative); the reader checks files and says what is wrong (:mod:`tmesurv.readers.pk`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PK_COLUMNS = ("car_t_peak", "car_t_time_to_peak", "car_t_auc_0_28")
"""Per-patient columns derived from data.pk: peak (cells/uL), time to peak (days), AUC(0-28) (cells/uL x days)."""
PEAK, TIME_TO_PEAK, AUC = PK_COLUMNS
AUC_END_DAY = 28.0


@dataclass(frozen=True)
class PkParameters:
    """Per-patient PK parameters and the patients a rule touched.

    Attributes
    ----------
    table
        Indexed by patient id (sorted), columns :data:`PK_COLUMNS`.
    day0_assumed
        Patients without a day-0 sample, given level 0 at day 0.
    truncated
        Patients whose last sample is before day 28: AUC(0-28) is NaN.
    """

    table: pd.DataFrame
    day0_assumed: tuple[str, ...]
    truncated: tuple[str, ...]


def pk_parameters(ids: np.ndarray, day: np.ndarray, level: np.ndarray) -> PkParameters:
    """Peak, time to peak and AUC(0-28) of every patient (see the module docstring for the rules).

    Parameters
    ----------
    ids
        Patient id per sample.
    day
        Days since infusion (>= 0), per sample; at most one sample per patient and day.
    level
        CAR T level (cells/uL, >= 0), per sample.

    Returns
    -------
    PkParameters
        The per-patient table and the patients with an assumed day 0 or a truncated series.
    """
    samples = pd.DataFrame({"id": np.asarray(ids, dtype=str), "day": np.asarray(day, float), "level": level})
    first_day = samples.groupby("id")["day"].min()
    assumed = first_day.index[first_day > 0]
    zeros = pd.DataFrame({"id": assumed, "day": 0.0, "level": 0.0})
    samples = pd.concat([samples, zeros], ignore_index=True).sort_values(["id", "day"], ignore_index=True)
    last_day = samples.groupby("id")["day"].max()
    table = _peaks(samples[samples["day"] <= AUC_END_DAY])
    table[AUC] = _auc_to_end(samples).where(last_day >= AUC_END_DAY)
    truncated = last_day.index[last_day < AUC_END_DAY]
    return PkParameters(table[list(PK_COLUMNS)], tuple(assumed), tuple(truncated))


def _peaks(window: pd.DataFrame) -> pd.DataFrame:
    """Largest level and the first day with it, per patient, of samples sorted by patient and day."""
    peak = window.groupby("id")["level"].transform("max")
    at_peak = window[window["level"] == peak]
    first = at_peak.groupby("id").first()
    return pd.DataFrame({PEAK: first["level"], TIME_TO_PEAK: first["day"]})


def _auc_to_end(samples: pd.DataFrame) -> pd.Series:
    """Linear-trapezoid area from day 0 to day 28, per patient, of samples sorted by patient and day.

    Each segment between consecutive samples of a patient is cut at day 28 (its level there interpolated); the
    parts after day 28 add nothing.
    """
    patient = samples["id"].to_numpy()
    day, level = samples["day"].to_numpy(), samples["level"].to_numpy(dtype=float)
    segment = np.flatnonzero((patient[1:] == patient[:-1]) & (day[:-1] < AUC_END_DAY))
    a, b = day[segment], day[segment + 1]
    level_a, level_b = level[segment], level[segment + 1]
    end = np.minimum(b, AUC_END_DAY)
    level_end = level_a + (level_b - level_a) * (end - a) / (b - a)
    area = pd.Series((level_a + level_end) / 2 * (end - a)).groupby(patient[segment]).sum()
    return area.reindex(pd.unique(patient), fill_value=0.0)
