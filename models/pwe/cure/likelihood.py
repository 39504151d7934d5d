"""The mixture-cure PWE likelihood: its data, a numba kernel for the value and gradient, and the per-patient values.

Patient ``i`` is cured with probability ``pi_i``, ``logit pi_i = u_i = alpha + z_i . g`` (the incidence); if not, its
hazard is ``exp(a_k + eta_i)`` in baseline interval ``k`` with ``eta_i = z_i . b`` (the latency, the PWE
proportional-hazards model). With ``w_i = exp(eta_i)`` and ``H_i`` the baseline cumulative hazard at the patient's
time, the log-likelihood of an event is ``log(1 - pi_i) + a_{k(i)} + eta_i - w_i H_i`` and of a censored time
``log(pi_i + (1 - pi_i) exp(-w_i H_i))``. With ``r_i`` the posterior probability that the patient is uncured given
its outcome (1 for an event, ``(1 - pi_i) S_u / (pi_i + (1 - pi_i) S_u)`` when censored), the gradients are

    dL/du_i = (1 - r_i) - pi_i,    dL/deta_i = d_i - r_i w_i H_i,    dL/da_k = D_k - exp(a_k) E_k,

with the exposure ``E_k = width_k sum_{i beyond k} r_i w_i + sum_{i in k} r_i w_i offset_i``: the PH model's, each
patient weighted by ``r_i``. Two passes (the patients in time order, then the intervals backwards) give the value and
every gradient: O(n p + K) per evaluation, nothing split into patient-intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from tmesurv.models.pwe.data import PweData, hazard_at_times, interval_layout, pwe_data

TINY = 1e-280
"""Below this a censored patient's likelihood ``pi + (1 - pi) S_u`` is summed in logs (both terms underflowing)."""


@dataclass(frozen=True)
class CureData:
    """The PWE data (:class:`~tmesurv.models.pwe.data.PweData`), the events in time order and the incidence rotation.

    Both parts share the standardised design ``pwe.z``. ``cure_rotation`` holds the eigenvectors of ``z' z`` (the
    logistic information at a constant cure fraction, up to a factor): the incidence coefficients are sampled along
    them, as the latency's along the Cox information's (``pwe.rotation``).
    """

    pwe: PweData
    event: np.ndarray  # (n,) 0/1 in time order
    cure_rotation: np.ndarray  # (p, p) orthogonal

    @property
    def interval(self) -> np.ndarray:
        """The baseline interval of each patient, in time order."""
        return np.repeat(np.arange(self.pwe.width.size), np.diff(self.pwe.boundaries))


def cure_data(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, intervals: int) -> CureData:
    """Standardise the design and compute the statistics of both parts (see :func:`~tmesurv.models.pwe.data.pwe_data`).

    Raises
    ------
    InputError
        As :func:`~tmesurv.models.pwe.data.pwe_data`: mismatched lengths, invalid values, a constant design column.
    """
    data = pwe_data(time, event, design, intervals)
    order = np.argsort(np.asarray(time, dtype=float), kind="stable")  # the order of pwe_data
    event_sorted = np.ascontiguousarray(np.asarray(event, dtype=float)[order])
    _, axes = np.linalg.eigh(data.z.T @ data.z)
    return CureData(data, event_sorted, np.ascontiguousarray(axes))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def cure_value_and_gradient(
    intercept: float,
    cure_coef: np.ndarray,
    coef: np.ndarray,
    log_hazard: np.ndarray,
    z: np.ndarray,
    event: np.ndarray,
    offset: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """The summed mixture-cure log-likelihood and its gradients (see the module docstring).

    Parameters are on the standardised design ``z`` (patients in time order, interval ``k`` at positions
    ``boundaries[k]`` to ``boundaries[k + 1] - 1``): the incidence ``intercept`` and ``cure_coef``, the latency
    ``coef`` and the centred log baseline ``log_hazard`` (K).

    Returns
    -------
    tuple
        The value and its gradients in ``intercept``, ``cure_coef``, ``coef`` and ``log_hazard``.
    """
    n_terms, n_intervals = z.shape[1], width.size
    value, gradient_intercept = 0.0, 0.0
    gradient_cure, gradient_coef = np.zeros(n_terms), np.zeros(n_terms)
    gradient_log_hazard = np.zeros(n_intervals)
    weighted = np.zeros(n_intervals)  # per interval: sum of r_i w_i
    within = np.zeros(n_intervals)  # per interval: sum of r_i w_i offset_i
    cumulative_before = 0.0
    for k in range(n_intervals):
        hazard = math.exp(log_hazard[k])
        for i in range(boundaries[k], boundaries[k + 1]):
            logit, eta = intercept, 0.0
            for j in range(n_terms):
                logit += z[i, j] * cure_coef[j]
                eta += z[i, j] * coef[j]
            weight = math.exp(eta)
            loss = weight * (cumulative_before + hazard * offset[i])  # w_i H_i
            # pi and 1 - pi from one exp, each to full precision; logs only where needed
            small = math.exp(-abs(logit))
            cured, not_cured = (1.0, small) if logit >= 0.0 else (small, 1.0)
            cured, not_cured = cured / (1.0 + small), not_cured / (1.0 + small)
            if event[i] == 1.0:
                log_not_cured = -(max(logit, 0.0) + math.log1p(small))
                value += log_not_cured + log_hazard[k] + eta - loss
                gradient_log_hazard[k] += 1.0
                uncured = 1.0
            else:
                uncured_survivor = not_cured * math.exp(-loss)  # (1 - pi) S_u
                mixture = cured + uncured_survivor
                if mixture > TINY:
                    value += math.log(mixture)
                    uncured = uncured_survivor / mixture
                else:  # both terms underflow: in logs
                    log_cured = -(max(-logit, 0.0) + math.log1p(small))
                    survivor = log_cured - logit - loss  # log((1 - pi) S_u)
                    top = max(log_cured, survivor)
                    total = top + math.log(math.exp(log_cured - top) + math.exp(survivor - top))
                    value += total
                    uncured = math.exp(survivor - total)
            weighted_loss = uncured * loss if uncured > 0.0 else 0.0  # r_i w_i H_i; 0 when r_i underflows
            d_logit = (1.0 - uncured) - cured
            d_eta = event[i] - weighted_loss
            gradient_intercept += d_logit
            for j in range(n_terms):
                gradient_cure[j] += d_logit * z[i, j]
                gradient_coef[j] += d_eta * z[i, j]
            weighted[k] += uncured * weight
            within[k] += uncured * weight * offset[i]
        cumulative_before += hazard * width[k]
    beyond = 0.0  # sum of r_i w_i over the intervals after k
    for k in range(n_intervals - 1, -1, -1):
        gradient_log_hazard[k] -= math.exp(log_hazard[k]) * (width[k] * beyond + within[k])
        beyond += weighted[k]
    return value, gradient_intercept, gradient_cure, gradient_coef, gradient_log_hazard


def cure_log_likelihood(
    time: np.ndarray,
    event: np.ndarray,
    eta: np.ndarray,
    log_baseline: np.ndarray,
    cuts: np.ndarray,
    cure_logit: np.ndarray,
) -> np.ndarray:
    """Per-patient mixture-cure log-likelihood on the original scale (for LOO and for scoring a saved fit).

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event), length ``n``.
    eta, cure_logit
        Latency linear predictors and logits of the cure fraction, shape ``(..., n)``.
    log_baseline
        Log baseline hazard per interval, shape ``(..., K)`` with ``K = len(cuts) + 1``.
    cuts
        Sorted interior cut points.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n)``: ``log(1 - pi) + log h0(t) + eta - exp(eta) H0(t)`` for an event and
        ``log(pi + (1 - pi) exp(-exp(eta) H0(t)))`` for a censored time.
    """
    index, offset, width = interval_layout(time, cuts)
    log_hazard, cumulative = hazard_at_times(np.asarray(log_baseline, dtype=float), index, offset, width)
    eta, cure_logit = np.asarray(eta, dtype=float), np.asarray(cure_logit, dtype=float)
    loss = np.exp(eta) * cumulative
    log_cured, log_uncured = -np.logaddexp(0.0, -cure_logit), -np.logaddexp(0.0, cure_logit)
    at_event = log_uncured + log_hazard + eta - loss
    censored = np.logaddexp(log_cured, log_uncured - loss)
    return np.where(np.asarray(event) == 1, at_event, censored)
