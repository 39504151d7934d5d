"""The data of the piecewise-exponential (PWE) model: baseline intervals, interval statistics, the numpy likelihood.

Intervals are cut at quantiles of the event times; interval ``k`` is ``(c_{k-1}, c_k]`` (the first starts at 0, the last
is open to infinity). :class:`PweData` holds what the likelihood needs -- the standardised design (every column centred
and divided by its population sd, ``ddof=0``) and the interval statistics, patients in time order -- so the likelihood
is summed in O(n) per evaluation without splitting follow-up into patient-intervals. The per-patient log-likelihood
``loglik_i = d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)`` is here in numpy (:func:`pwe_log_likelihood`), for LOO
after sampling and for scoring a saved fit. The PyMC model on these data is :mod:`tmesurv.models.pwe.model`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.errors import InputError
from tmesurv.models.cox.batched import cox_information
from tmesurv.models.designs import ARM

COLLAPSE_MAX_SHARE = 0.5  # merge patients into records only when that at least halves the work


def interval_cuts(time: np.ndarray, event: np.ndarray, n_intervals: int) -> np.ndarray:
    """Interior cut points of the baseline intervals: quantiles of the event times.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    n_intervals
        The wanted number of intervals ``K``.

    Returns
    -------
    numpy.ndarray
        The sorted, distinct, positive ``(1/K, ..., (K-1)/K)`` quantiles of the event times (numpy's default
        linear interpolation); length at most ``K - 1``, fewer when quantiles coincide.

    Raises
    ------
    InputError
        If there are no events or ``n_intervals < 1``.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    event_times = time[event == 1]
    if n_intervals < 1:
        raise InputError(f"the number of baseline intervals must be at least 1, got {n_intervals}")
    if event_times.size == 0:
        raise InputError("the piecewise-exponential model needs at least one event")
    if n_intervals == 1:
        return np.empty(0)
    cuts = np.unique(np.quantile(event_times, np.arange(1, n_intervals) / n_intervals))
    return cuts[cuts > 0]


def interval_layout(time: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate every time in the intervals ``[0, c_1], (c_1, c_2], ..., (c_{K-1}, inf)``.

    Parameters
    ----------
    time
        Follow-up times (non-negative).
    cuts
        Sorted interior cut points.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
        The interval index of each time, the time elapsed since the start of that interval, and the widths of
        the ``K - 1`` closed intervals.
    """
    time, cuts = np.asarray(time, dtype=float), np.asarray(cuts, dtype=float)
    starts = np.concatenate([[0.0], cuts])
    index = np.searchsorted(cuts, time, side="left")
    return index, time - starts[index], np.diff(starts)


def pwe_log_likelihood(
    time: np.ndarray,
    event: np.ndarray,
    eta: np.ndarray,
    log_baseline: np.ndarray,
    cuts: np.ndarray,
    arm: np.ndarray | None = None,
    arm_effect: np.ndarray | None = None,
) -> np.ndarray:
    """Per-patient log-likelihood of the piecewise-exponential (proportional-hazards) model.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event), length ``n``.
    eta
        Linear predictors, shape ``(..., n)``; leading axes (e.g. chain, draw) broadcast with ``log_baseline``.
    log_baseline
        Log baseline hazard per interval, shape ``(..., K)`` with ``K = len(cuts) + 1``, on the same scale
        as ``eta`` (e.g. ``log_baseline`` with ``X . coef``).
    cuts
        Sorted interior cut points.
    arm, arm_effect
        A time-varying treatment effect (both or neither): the arm (0/1, length ``n``) and its log hazard ratio per
        interval, shape ``(..., K)``; ``eta`` then excludes the arm.

    Returns
    -------
    numpy.ndarray
        ``d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)``, shape ``(..., n)``; with a time-varying effect the treated
        patients' ``a_k`` is ``a_k + arm_effect_k``.
    """
    index, offset, width = interval_layout(time, cuts)
    eta, log_baseline = np.asarray(eta, dtype=float), np.asarray(log_baseline, dtype=float)
    if log_baseline.shape[-1] != width.size + 1:
        raise ValueError(f"log_baseline has {log_baseline.shape[-1]} intervals, the cuts define {width.size + 1}")
    if (arm is None) != (arm_effect is None):
        raise ValueError("give both arm and arm_effect (a time-varying treatment effect) or neither")
    log_hazard, cumulative = hazard_at_times(log_baseline, index, offset, width)
    if arm_effect is not None:
        treated = np.asarray(arm) == 1
        log_hazard_treated, cumulative_treated = hazard_at_times(log_baseline + arm_effect, index, offset, width)
        log_hazard = np.where(treated, log_hazard_treated, log_hazard)
        cumulative = np.where(treated, cumulative_treated, cumulative)
    return np.asarray(event, dtype=float) * (log_hazard + eta) - np.exp(eta) * cumulative


def hazard_at_times(
    log_hazard: np.ndarray, index: np.ndarray, offset: np.ndarray, width: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log hazard and cumulative hazard of piecewise-constant log hazards ``(..., K)`` at located times."""
    hazard = np.exp(log_hazard)
    cumulative = np.cumsum(hazard[..., :-1] * width, axis=-1)
    before = np.concatenate([np.zeros((*cumulative.shape[:-1], 1)), cumulative], axis=-1)
    return log_hazard[..., index], before[..., index] + hazard[..., index] * offset


@dataclass(frozen=True)
class PweData:
    """What the PWE likelihood needs: the standardised design and interval statistics, patients in time order.

    The statistics are the events per interval and where each interval's patients start and end in the time order.
    The log-likelihood is ``sum_k D_k a_k + (sum_i d_i z_i) . b - sum_k exp(a_k) E_k(b)`` with
    ``E_k(b) = width_k sum_{i beyond k} w_i + sum_{i in k} w_i offset_i`` and ``w_i = exp(z_i . b)``, summed in one
    pass over the patients (:mod:`tmesurv.models.pwe.likelihood`): O(n) per evaluation, and nothing is ever split
    into patient-intervals. With a time-varying arm effect the arms are two strata, each with its own baseline.
    """

    z: np.ndarray  # (n, p) standardised design, time order
    offset: np.ndarray  # (n,) time since the start of the patient's interval (mean of a record's patients)
    count: np.ndarray  # (n,) patients per record: 1, or more after :meth:`collapsed`
    boundaries: np.ndarray  # (K + 1,) first position of each interval in time order, then n
    width: np.ndarray  # (K,) interval widths; 0 for the last, open interval
    event_z: np.ndarray  # (p,) sum over events of z
    crude_log_rate: float
    centre: np.ndarray  # (p,) design means
    scale: np.ndarray  # (p,) design standard deviations (ddof = 0)
    cuts: np.ndarray  # (K - 1,) interior cut points
    stratum: np.ndarray  # (n,) baseline stratum in time order: all 0, or the 0/1 arm for a time-varying arm effect
    stratum_events: np.ndarray  # (strata, K) events per stratum and interval
    rotation: np.ndarray | None = None  # (p, p) orthogonal: principal axes of z over the events (see below)

    @property
    def interval_events(self) -> np.ndarray:
        """Events per interval, summed over the strata."""
        return self.stratum_events.sum(axis=0)

    @property
    def time_varying(self) -> bool:
        """Whether the arms are strata of a time-varying arm effect."""
        return self.stratum_events.shape[0] == 2

    def collapsed(self) -> PweData:
        """The same likelihood on fewer records: patients who share an interval, a stratum and a design row merged.

        The likelihood's patient sum is linear in the offsets (:mod:`tmesurv.models.pwe.likelihood`), so such
        patients are one record with their count and mean offset; the event statistics are those of the patients.
        A treatment model (one 0/1 column) of any size is then at most 2 x K records. When merging would keep more
        than ``COLLAPSE_MAX_SHARE`` of the records (a continuous design), the data are returned as they are.
        """
        interval = np.repeat(np.arange(self.width.size), np.diff(self.boundaries))
        keys = np.column_stack([interval, self.stratum, self.z])
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        if len(unique) > COLLAPSE_MAX_SHARE * len(keys):
            return self
        inverse = inverse.ravel()
        count = np.bincount(inverse, weights=self.count)
        return replace(
            self,
            z=np.ascontiguousarray(self.z[first]),
            offset=np.bincount(inverse, weights=self.count * self.offset) / count,
            count=count,
            stratum=self.stratum[first],
            boundaries=np.searchsorted(unique[:, 0], np.arange(self.width.size + 1), side="left"),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The model's data containers by name (to rebind a compiled model to a new cohort of the same shape)."""
        return {
            "z": self.z,
            "offset": self.offset,
            "count": self.count,
            "stratum": self.stratum,
            "boundaries": self.boundaries,
            "width": self.width,
            "interval_events": self.interval_events,
            "stratum_events": self.stratum_events,
            "event_z": self.event_z,
            "crude_log_rate": np.asarray(self.crude_log_rate),
            "centre": self.centre,
            "scale": self.scale,
            "rotation": self.rotation,
        }


def pwe_data(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    intervals: int,
    time_varying: bool = False,
    cuts: np.ndarray | None = None,
) -> PweData:
    """Standardise the design and compute the interval statistics of the PWE likelihood.

    Parameters
    ----------
    time, event
        Follow-up times (>= 0) and event indicators (0/1), in the row order of ``design``.
    design
        One numeric, non-constant column per term.
    intervals
        Number of baseline intervals ``K`` (cut at event-time quantiles; fewer when quantiles coincide).
    time_varying
        Also compute the per-arm statistics of a time-varying arm effect (the first column must be ``arm``, 0/1).
    cuts
        Interior cut points fixed in advance (sorted, distinct, positive) instead of the event-time quantiles;
        ``intervals`` is then ignored. Simulation-based calibration needs them: a prior must not depend on the data.

    Returns
    -------
    PweData
        The statistics, patients sorted by time.

    Raises
    ------
    InputError
        If the inputs have mismatched lengths, invalid values, or a constant design column; or, with
        ``time_varying``, if the first column is not a 0/1 ``arm``.
    """
    time, event, x = _validated_inputs(time, event, design)
    if time_varying:
        _require_arm_first(design)
    cuts = interval_cuts(time, event, intervals) if cuts is None else _fixed_cuts(cuts)
    order = np.argsort(time, kind="stable")
    index, offset, width = interval_layout(time[order], cuts)
    n_intervals = cuts.size + 1
    centre, scale = x.mean(axis=0), x.std(axis=0)
    z = (x[order] - centre) / scale
    stratum = x[order, 0].astype(np.int64) if time_varying else np.zeros(time.size, dtype=np.int64)
    stratum_events = np.zeros((2 if time_varying else 1, n_intervals))
    np.add.at(stratum_events, (stratum, index), event[order])
    return PweData(
        z=z,
        offset=offset,
        count=np.ones(time.size),
        boundaries=np.searchsorted(index, np.arange(n_intervals + 1), side="left"),
        width=np.concatenate([width, [0.0]]),
        event_z=event[order] @ z,
        crude_log_rate=float(np.log(event.sum() / time.sum())),
        centre=centre,
        scale=scale,
        cuts=cuts,
        stratum=stratum,
        stratum_events=stratum_events,
        rotation=principal_axes(time[order], event[order], z),
    )


def _fixed_cuts(cuts: np.ndarray) -> np.ndarray:
    """Cut points given in advance, checked: sorted, distinct, positive and finite."""
    cuts = np.asarray(cuts, dtype=float)
    if cuts.ndim != 1 or not np.all(np.isfinite(cuts) & (cuts > 0)) or np.any(np.diff(cuts) <= 0):
        raise InputError(f"fixed cut points must be finite, positive and increasing; got {cuts.tolist()}")
    return cuts


def _require_arm_first(design: pd.DataFrame) -> None:
    """A time-varying arm effect needs the first design column to be the 0/1 arm."""
    if design.columns[0] != ARM or not design[ARM].isin([0, 1]).all():
        raise InputError(
            f"a time-varying treatment effect (bayes.time_varying) needs the design's first column to be '{ARM}' "
            f"coded 0/1 (1 = treated); got first column '{design.columns[0]}'"
        )


def principal_axes(time: np.ndarray, event: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Orthogonal rotation to the eigenvectors of the Cox information at zero, a proxy of the posterior precision.

    The information is :func:`~tmesurv.models.cox.batched.cox_information` (Breslow ties), so the rotation does not
    depend on the order of the rows. The Normal(0, coef_sd) prior on the standardised coefficients is isotropic, so
    sampling ``coef_rotated`` with the same prior and setting ``coef_std = rotation @ coef_rotated`` is the same model;
    along these axes the posterior is nearly uncorrelated, which NUTS's diagonal mass matrix samples well (an arm and
    its product with an uncentred biomarker are nearly collinear otherwise).

    Parameters
    ----------
    time, event
        Follow-up times and event indicators.
    z
        Standardised design ``(n, p)``, rows as ``time``.
    """
    p = z.shape[1]
    if p == 1 or event.sum() < 2:
        return np.eye(p)
    _, axes = np.linalg.eigh(cox_information(time, event, z, np.zeros(p)))
    return np.ascontiguousarray(axes)


def _validated_inputs(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and convert the inputs; raise :class:`InputError` naming the problem."""
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    if not time.shape == event.shape == (len(design),) or time.size == 0:
        raise InputError(f"time ({time.shape}), event ({event.shape}) and design ({len(design)} rows) must align")
    if not np.all(np.isfinite(time) & (time >= 0)):
        raise InputError("follow-up times must be finite and non-negative")
    if not np.all(np.isin(event, [0, 1])):
        raise InputError("event indicators must be 0 or 1")
    if design.shape[1] == 0 or design.columns.duplicated().any():
        raise InputError("the design needs at least one column, with distinct names")
    x = design.to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise InputError("the design has missing or infinite values")
    constant = [str(name) for name, sd in zip(design.columns, x.std(axis=0), strict=True) if sd == 0]
    if constant:
        raise InputError(f"design columns {', '.join(constant)} are constant: drop them")
    return time, event, x
