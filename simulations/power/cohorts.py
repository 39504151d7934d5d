"""Validation cohorts of a power study, many replicates at once, each reproducible from (seed, setting, replicate).

The event-time model is the scenario's per-arm model (:mod:`tmesurv.simulations.event_times`): a piecewise-exponential
baseline with a cured fraction per arm, ``S(t | x) = S_arm(t) ** exp(eta)``, so covariates act proportionally on the
hazard within each arm while the two arms' baselines differ freely (the treatment effect is not proportional: the
CAR T arm has a plateau). Only the baselines are taken from the scenario (at latent biomarker value 0 and reference
strata); its strata, biomarkers, response and product blocks play no part. The one covariate is the study biomarker:

* ``positive`` marks biomarker-positive patients, a share ``prevalence`` of them. A *binary* biomarker is the
  indicator itself; a *continuous* biomarker is standard normal, ``Z = Phi^{-1}(U)``, and positive above its
  ``1 - prevalence`` quantile (the true cut-point). Both are made from the same uniform, ``positive = U > 1 -
  prevalence``, so the two kinds share their cohorts and differ only in what a method that splits at the median sees.
* Main effects and the interaction, in the linear predictor: ``eta = positive * (log prognostic_hr + treated * log
  interaction_hr)``. Biomarker-negative patients follow their arm's baseline (the treatment main effect is the
  scenario's, between the two baselines); in the control arm positivity multiplies the hazard by ``prognostic_hr``;
  in the treated arm by ``prognostic_hr * interaction_hr``. So ``interaction_hr`` is exactly the ratio of the
  within-arm hazard ratios of positivity (treated over control), and the treated arm's within-arm hazard ratio is
  ``prognostic_hr * interaction_hr``.

A randomized cohort of ``n`` patients has exactly ``treated`` of them in the treated arm (a random permutation of the
allocation, as in :mod:`tmesurv.simulations.trial`); a single-arm cohort has every patient in the treated arm.
Patients enter uniformly over the accrual period; the data cutoff is ``follow_up`` months after the last entry
(``inf``: none); loss to follow-up is exponential with rate ``dropout_per_year / 12`` per month. Times are floored at
half a day. A patient with neither an event nor any censoring (cured, with unlimited follow-up and no dropout) is
censored at the replicate's last observed time, which changes no rank-based analysis.

Replicate ``r`` of setting ``s`` draws from ``numpy.random.SeedSequence(seed, spawn_key=(s, r))`` with one call,
``random((5, n))``: rows arm, marker, entry, event, dropout (the layout is fixed; single-arm cohorts leave the arm
row unused). Everything else is elementwise on ``(replicates, n)`` arrays, so replicate ``r`` is the same, bit for
bit, in any batch, chunk or worker. A method that needs its own randomness (the Bayesian sampler) takes
:attr:`ValidationBatch.sampler_seeds`, drawn from the child key ``(s, r, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tmesurv.simulations.event_times import ArmHazard, draw_event_times
from tmesurv.simulations.scenario import DAYS_PER_MONTH

UNIFORM_ROWS = 5
_ARM, _MARKER, _ENTRY, _EVENT, _DROPOUT = range(UNIFORM_ROWS)
BATCH_ARRAYS = ("replicates", "time", "event", "treated", "positive", "marker", "sampler_seeds")
SAMPLER_KEY = 1
"""Last spawn-key element of a replicate's sampler seed: ``(setting, replicate, SAMPLER_KEY)``."""


@dataclass(frozen=True)
class CohortModel:
    """Everything that defines the validation cohorts of one setting of a power study.

    Attributes
    ----------
    n
        Patients per cohort.
    treated
        Patients in the treated arm (``n`` for a single-arm cohort).
    accrual_months, follow_up, dropout_per_year
        Entry is uniform over ``accrual_months``; the cutoff is ``follow_up`` months after the last entry (may be
        ``inf``); exponential loss to follow-up.
    prevalence
        Share of biomarker-positive patients.
    continuous
        True for a standard-normal biomarker positive above its ``1 - prevalence`` quantile; False for a binary one.
    prognostic_log_hr, interaction_log_hr
        Log hazard ratio of positivity in the control arm, and the treated arm's extra log hazard ratio.
    treated_hazard, control_hazard
        The scenario's per-arm baselines.
    """

    n: int
    treated: int
    accrual_months: float
    follow_up: float
    dropout_per_year: float
    prevalence: float
    continuous: bool
    prognostic_log_hr: float
    interaction_log_hr: float
    treated_hazard: ArmHazard
    control_hazard: ArmHazard

    @property
    def single_arm(self) -> bool:
        """Every patient in the treated arm."""
        return self.treated == self.n


@dataclass(frozen=True)
class ValidationBatch:
    """Replicate validation cohorts of one setting, as ``(replicates, n)`` arrays.

    Attributes
    ----------
    replicates
        Replicate numbers, in batch order.
    time, event
        Follow-up (months) and event indicator (bool).
    treated
        True in the treated arm; every row has exactly ``model.treated`` of them.
    positive
        True for biomarker-positive patients (the truth).
    marker
        The measured biomarker: 0/1 for a binary one, standard normal for a continuous one.
    sampler_seeds
        ``(replicates,)`` seeds for a method's own random numbers.
    model
        The setting's cohort model.
    """

    replicates: np.ndarray
    time: np.ndarray
    event: np.ndarray
    treated: np.ndarray
    positive: np.ndarray
    marker: np.ndarray
    sampler_seeds: np.ndarray
    model: CohortModel

    def __len__(self) -> int:
        return self.replicates.size

    @property
    def events(self) -> np.ndarray:
        """Events per replicate."""
        return self.event.sum(axis=1)

    def select(self, rows: Sequence[int] | np.ndarray) -> ValidationBatch:
        """The replicates at batch positions ``rows``, as a batch of their own."""
        rows = np.asarray(rows)
        arrays = {name: getattr(self, name)[rows] for name in BATCH_ARRAYS}
        return ValidationBatch(**arrays, model=self.model)

    def arm(self, treated: bool) -> np.ndarray:
        """Column positions ``(replicates, arm size)`` of one arm's patients, in patient order."""
        size = self.model.treated if treated else self.model.n - self.model.treated
        mask = self.treated if treated else ~self.treated
        return np.nonzero(mask)[1].reshape(len(self), size)


def simulate_validation_cohorts(
    model: CohortModel, seed: int, setting: int, replicates: range | Sequence[int]
) -> ValidationBatch:
    """Simulate replicate validation cohorts of one setting (see the module docstring for the model).

    Parameters
    ----------
    model
        The setting's cohort model.
    seed
        The study's seed.
    setting
        The setting's index in the study grid (part of every replicate's spawn key).
    replicates
        Replicate numbers (non-negative).

    Returns
    -------
    ValidationBatch
        The cohorts; replicate ``r`` is identical whatever batch it is simulated in.

    Raises
    ------
    ValueError
        If ``replicates`` is empty or holds a negative number.
    """
    numbers = np.asarray(replicates)
    if numbers.ndim != 1 or numbers.size == 0 or numbers.dtype.kind not in "iu" or (numbers < 0).any():
        raise ValueError("replicates must be a non-empty sequence of non-negative integers, e.g. range(1000)")
    uniforms, sampler_seeds = _draw(seed, setting, numbers.astype(np.int64), model.n)
    treated = _allocation(uniforms[_ARM], model)
    positive = uniforms[_MARKER] > 1 - model.prevalence
    marker = _normal_scores(uniforms[_MARKER]) if model.continuous else positive.astype(float)
    time, event = _event_times(model, uniforms, treated, positive)
    return ValidationBatch(numbers, time, event, treated, positive, marker, sampler_seeds, model)


def _normal_scores(uniforms: np.ndarray) -> np.ndarray:
    """Standard normal quantiles of uniforms (SciPy, imported here: binary-biomarker studies need none)."""
    from scipy.special import ndtri

    return ndtri(uniforms)


def _draw(seed: int, setting: int, replicates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each replicate's uniform block ``(rows, replicates, n)`` and sampler seed, from its own stream."""
    uniforms = np.empty((UNIFORM_ROWS, replicates.size, n))
    seeds = np.empty(replicates.size, dtype=np.uint32)
    for index, replicate in enumerate(replicates.tolist()):
        uniforms[:, index] = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(setting, replicate))).random(
            (UNIFORM_ROWS, n)
        )
        sampler = np.random.SeedSequence(seed, spawn_key=(setting, replicate, SAMPLER_KEY))
        seeds[index] = sampler.generate_state(1)[0]
    return uniforms, seeds


def _allocation(uniform: np.ndarray, model: CohortModel) -> np.ndarray:
    """Exactly ``model.treated`` treated patients per replicate, at random positions."""
    if model.single_arm:
        return np.ones(uniform.shape, dtype=bool)
    return np.argsort(uniform, axis=-1) < model.treated


def _event_times(
    model: CohortModel, uniforms: np.ndarray, treated: np.ndarray, positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Observed time (months) and event indicator under the cohort model."""
    eta = positive * (model.prognostic_log_hr + treated * model.interaction_log_hr)
    event_time = np.empty(treated.shape)
    for rows, hazard in ((treated, model.treated_hazard), (~treated, model.control_hazard)):
        event_time[rows] = draw_event_times(uniforms[_EVENT][rows], eta[rows], hazard)
    censor = model.accrual_months + model.follow_up - model.accrual_months * uniforms[_ENTRY]
    rate = model.dropout_per_year / 12
    if rate > 0:
        censor = np.minimum(censor, -np.log1p(-uniforms[_DROPOUT]) / rate)
    event = event_time <= censor
    observed = np.maximum(np.minimum(event_time, censor), 0.5 / DAYS_PER_MONTH)
    return _finite(observed), event


def _finite(observed: np.ndarray) -> np.ndarray:
    """Replace never-censored, never-failing times by the replicate's last finite time."""
    infinite = ~np.isfinite(observed)
    if not infinite.any():
        return observed
    last = np.max(np.where(infinite, -np.inf, observed), axis=1, keepdims=True)
    return np.where(infinite, np.where(np.isfinite(last), last, 1.0), observed)  # 1 month if nothing is finite
