"""CAR T product attributes and pharmacokinetics for the treated arm (NaN for control).

Model
-----
A latent standard-normal triple per treated patient, (log peak, log AUC, logit CCR7+CD45RA+ fraction), is a
responder mean shift plus correlated Gaussian noise::

    x_k = shift_k (responder - r) + sqrt(1 - shift_k^2 r (1 - r)) e_k,    e ~ N(0, R)

with r the treated responder share of the cohort, so that each x_k has mean 0 and variance 1 in the treated arm
and the published (whole-arm) quartiles stay calibrated whatever the response rate. The latent values are mapped
to the observed scale:

* peak CAR T cells and AUC(0-28): a two-piece lognormal, ``median x exp(x s)`` with ``s = log(median / q1) / z75``
  below the median and ``log(q3 / median) / z75`` above (z75 = 0.674), which reproduces all three published
  quartiles (the peak's log-scale quartiles are asymmetric, so a single lognormal misses its median by ~10%);
* CCR7+CD45RA+ fraction: logit-normal around a median;
* time to peak: a discrete distribution over days, independent of the rest;
* grade >= 3 neurologic events: logistic in x_peak and in the CCR7-negative side, -x_ccr7 (the CCR7-negative
  share of the product is taken to fall as the CCR7+CD45RA+ fraction rises, so "CCR7-negative fraction above
  its median" is "CCR7+CD45RA+ fraction below its median");
* grade >= 3 CRS: logistic in x_peak.

Calibration of the defaults (``product_and_pk`` in ``zuma7_published.yaml``, aacr2022, n = 162)
-----------------------------------------------------------------------------------------------
* Quartiles: peak 8.2 / 25.8 / 57.9 cells/uL, AUC 76.4 / 236.2 / 758.0 cells/uL x days (exact by construction);
  time to peak 7, 8, 9, 11, 14, 21, 28 days with P = 0.12, 0.45, 0.22, 0.09, 0.07, 0.03, 0.02 (cumulative 0.12,
  0.57, 0.79, ...), giving q1 = median = 8 and q3 = 9.
* Responder shifts: P = 0.0224 (peak) and 0.0054 (AUC) for association with ORR with ~135 responders and ~27
  non-responders: a rank test's z of 2.28 and 2.78 over sqrt(135 x 27 / 162) = 4.74 gives standardised
  differences of about 0.5 and 0.6 latent SD.
* Peak-AUC latent correlation 0.9 ("strongly correlated"; AUC is largely driven by the peak).
* Neurologic events: intercept -1.79, 0.85 per latent SD of peak, 0.97 per latent SD of the CCR7-negative side
  solve (by quadrature) grade >= 3 NE = 0.30 with the CCR7-negative fraction above its median and 0.10 below, and a
  peak difference of 0.68 latent SD between patients with and without such an event (P = 0.0006 with ~32 events in
  162 gives z = 3.43 over sqrt(32 x 130 / 162) = 5.07); overall grade >= 3 NE 20% (ZUMA-7: 21%).
* CRS: intercept -2.86 with 0.5 per latent SD of peak gives 6% grade >= 3 CRS.
* CCR7+CD45RA+ fraction median 0.25, logit SD 0.9: not in the reference file, an assumption.

Randomness: :data:`NORMAL_ROWS` normals and :data:`UNIFORM_ROWS` uniforms per patient, drawn for every patient
(control patients' are unused) so that many cohorts transform together (:func:`product_from_draws`).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from tmesurv.schema import StrictModel

Z75 = 0.6744897501960817  # standard normal upper quartile
Correlation = Annotated[float, Field(gt=-1.0, lt=1.0)]
Shift = Annotated[float, Field(ge=-2.0, le=2.0)]
NORMAL_ROWS = 3
"""Standard normals per patient the product takes (latent log peak, log AUC, logit CCR7+CD45RA+)."""
UNIFORM_ROWS = 3
"""Uniforms per patient the product takes (grade >= 3 NE, grade >= 3 CRS, time to peak)."""


class Quartiles(StrictModel):
    """First quartile, median and third quartile of a positive quantity."""

    q1: Annotated[float, Field(gt=0.0)]
    median: Annotated[float, Field(gt=0.0)]
    q3: Annotated[float, Field(gt=0.0)]

    @model_validator(mode="after")
    def _ordered(self) -> Quartiles:
        if not self.q1 < self.median < self.q3:
            raise ValueError(f"quartiles must be ordered q1 < median < q3, got {self.q1}, {self.median}, {self.q3}")
        return self


class ProductSpec(StrictModel):
    """The ``product:`` section of a scenario: product attributes and PK of the treated arm.

    Defaults are calibrated to ZUMA-7 (see the module docstring for the derivation).
    """

    ccr7_cd45ra_median: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25
    ccr7_cd45ra_logit_sd: Annotated[float, Field(gt=0.0)] = 0.9
    peak_car_t: Quartiles = Quartiles(q1=8.2, median=25.8, q3=57.9)
    auc_0_28: Quartiles = Quartiles(q1=76.4, median=236.2, q3=758.0)
    time_to_peak_days: tuple[Annotated[int, Field(gt=0)], ...] = (7, 8, 9, 11, 14, 21, 28)
    time_to_peak_probabilities: tuple[Annotated[float, Field(ge=0.0, le=1.0)], ...] = (
        0.12, 0.45, 0.22, 0.09, 0.07, 0.03, 0.02,
    )  # fmt: skip
    peak_responder_shift: Shift = 0.5
    auc_responder_shift: Shift = 0.6
    ccr7_responder_shift: Shift = 0.0
    peak_auc_correlation: Correlation = 0.9
    peak_ccr7_correlation: Correlation = 0.0
    auc_ccr7_correlation: Correlation = 0.0
    ne_intercept: float = -1.79
    ne_per_sd_peak: float = 0.85
    ne_per_sd_ccr7_negative: float = 0.97
    crs_intercept: float = -2.86
    crs_per_sd_peak: float = 0.5

    @model_validator(mode="after")
    def _time_to_peak(self) -> ProductSpec:
        days, probs = self.time_to_peak_days, self.time_to_peak_probabilities
        if len(days) == 0 or len(days) != len(probs):
            raise ValueError("time_to_peak_days and time_to_peak_probabilities need the same, non-zero length")
        if any(b <= a for a, b in itertools.pairwise(days)):
            raise ValueError("time_to_peak_days must be strictly increasing")
        if abs(sum(probs) - 1.0) > 1e-6:
            raise ValueError(f"time_to_peak_probabilities must sum to 1, got {sum(probs):.6g}")
        return self

    @model_validator(mode="after")
    def _positive_definite(self) -> ProductSpec:
        if np.linalg.eigvalsh(self.latent_correlation()).min() <= 1e-10:
            raise ValueError(
                "peak_auc_correlation, peak_ccr7_correlation and auc_ccr7_correlation do not form a "
                "positive-definite correlation matrix"
            )
        return self

    def latent_correlation(self) -> np.ndarray:
        """The 3 x 3 correlation of the latent noise (log peak, log AUC, logit CCR7+CD45RA+)."""
        return _correlation_matrix(self.peak_auc_correlation, self.peak_ccr7_correlation, self.auc_ccr7_correlation)


def _correlation_matrix(peak_auc: float, peak_ccr7: float, auc_ccr7: float) -> np.ndarray:
    """The 3 x 3 correlation matrix with the given off-diagonal entries."""
    return np.array([[1.0, peak_auc, peak_ccr7], [peak_auc, 1.0, auc_ccr7], [peak_ccr7, auc_ccr7, 1.0]])


@lru_cache(maxsize=64)
def _noise_factor(peak_auc: float, peak_ccr7: float, auc_ccr7: float) -> np.ndarray:
    """Cholesky factor of :func:`_correlation_matrix` (read-only, cached)."""
    factor = np.linalg.cholesky(_correlation_matrix(peak_auc, peak_ccr7, auc_ccr7))
    factor.setflags(write=False)
    return factor


@lru_cache(maxsize=64)
def _time_to_peak_table(days: tuple[int, ...], probabilities: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The days as floats and their cumulative probabilities (read-only, cached)."""
    table = np.asarray(days, dtype=float), np.cumsum(probabilities)
    for array in table:
        array.setflags(write=False)
    return table


def _two_piece_lognormal(x: np.ndarray, quartiles: Quartiles) -> np.ndarray:
    """Map standard-normal ``x`` to a positive quantity with the given quartiles."""
    lower = math.log(quartiles.median / quartiles.q1) / Z75
    upper = math.log(quartiles.q3 / quartiles.median) / Z75
    return quartiles.median * np.exp(x * np.where(x < 0, lower, upper))


def _latent(normals: np.ndarray, treated: np.ndarray, responder: np.ndarray, spec: ProductSpec) -> np.ndarray:
    """The (3, ...) standardised latent values (rows: log peak, log AUC, logit CCR7+CD45RA+), for every patient.

    The responder share is the treated arm's, per cohort (last axis: patients). Element by element (no BLAS).
    """
    factor = _noise_factor(spec.peak_auc_correlation, spec.peak_ccr7_correlation, spec.auc_ccr7_correlation)
    count = treated.sum(axis=-1, keepdims=True)
    share = np.where(treated, responder, 0.0).sum(axis=-1, keepdims=True) / np.maximum(count, 1)
    variance = share * (1.0 - share)  # of the responder indicator in the treated arm
    shifts = (spec.peak_responder_shift, spec.auc_responder_shift, spec.ccr7_responder_shift)
    latent = np.empty(normals.shape)
    for row, shift in enumerate(shifts):
        noise = factor[row, 0] * normals[0]
        for column in range(1, row + 1):
            noise += factor[row, column] * normals[column]
        latent[row] = shift * (responder - share) + np.sqrt(np.maximum(1.0 - shift**2 * variance, 0.0)) * noise
    return latent


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    """The log odds of a probability."""
    return math.log(p / (1.0 - p))


def generate_product(
    rng: np.random.Generator,
    treated: np.ndarray,
    responder: np.ndarray,
    spec: ProductSpec,
) -> dict[str, np.ndarray]:
    """Draw product attributes, CAR T expansion and grade >= 3 toxicities for the treated arm.

    Parameters
    ----------
    rng
        Source of all randomness: one ``standard_normal`` and one ``random`` call.
    treated
        0/1 per patient (1 = treated arm).
    responder
        0/1 per patient (1 = CR or PR); shifts expansion upwards in the treated arm.
    spec
        Product settings.

    Returns
    -------
    dict of str to numpy.ndarray
        Float arrays, NaN for control patients: ``ccr7_cd45ra_fraction`` (proportion), ``peak_car_t``
        (cells/uL), ``time_to_peak_days`` (whole days), ``auc_0_28`` (cells/uL x days), ``grade3_ne`` and
        ``grade3_crs`` (0.0/1.0).
    """
    treated, responder = np.asarray(treated), np.asarray(responder, dtype=float)
    if not (treated.ndim == responder.ndim == 1 and treated.size == responder.size):
        raise ValueError("treated and responder must be one-dimensional arrays of the same length")
    normals = rng.standard_normal((NORMAL_ROWS, treated.size))
    uniforms = rng.random((UNIFORM_ROWS, treated.size))
    return product_from_draws(normals, uniforms, treated == 1, responder, spec)


def product_from_draws(
    normals: np.ndarray, uniforms: np.ndarray, treated: np.ndarray, responder: np.ndarray, spec: ProductSpec
) -> dict[str, np.ndarray]:
    """Turn pre-drawn variates into product columns, element by element (patients on the last axis).

    Parameters
    ----------
    normals
        ``(NORMAL_ROWS, ..., patients)`` standard normals (control patients' are drawn but unused).
    uniforms
        ``(UNIFORM_ROWS, ..., patients)`` uniforms on [0, 1).
    treated
        ``(..., patients)`` booleans, True in the treated arm.
    responder
        ``(..., patients)`` 0/1 (1 = CR or PR).
    spec
        Product settings.

    Returns
    -------
    dict of str to numpy.ndarray
        The columns of :func:`generate_product`, shaped like ``treated``.
    """
    x = _latent(normals, treated, responder, spec)
    ne = spec.ne_intercept + spec.ne_per_sd_peak * x[0] - spec.ne_per_sd_ccr7_negative * x[2]
    crs = spec.crs_intercept + spec.crs_per_sd_peak * x[0]
    days, cumulative = _time_to_peak_table(spec.time_to_peak_days, spec.time_to_peak_probabilities)
    day_index = np.minimum(np.searchsorted(cumulative, uniforms[2] * cumulative[-1], side="right"), cumulative.size - 1)
    columns = {
        "ccr7_cd45ra_fraction": _expit(_logit(spec.ccr7_cd45ra_median) + spec.ccr7_cd45ra_logit_sd * x[2]),
        "peak_car_t": _two_piece_lognormal(x[0], spec.peak_car_t),
        "time_to_peak_days": days[day_index],
        "auc_0_28": _two_piece_lognormal(x[1], spec.auc_0_28),
        "grade3_ne": (uniforms[0] < _expit(ne)).astype(float),
        "grade3_crs": (uniforms[1] < _expit(crs)).astype(float),
    }
    return {name: np.where(treated, values, np.nan) for name, values in columns.items()}
