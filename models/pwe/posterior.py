"""The PWE model's log posterior density and gradient in numba, for nutpie without compiling a PyTensor graph.

The PyMC model of :func:`tmesurv.models.pwe.model.pwe_model` is the specification. Compiling its graph for nutpie costs
40 s or more the first time a model structure is fitted on a machine (numba compiles every PyTensor node), 100 times
the sampling itself at the ZUMA-7 size. For the model with its default coefficient prior (normal, sampled along the
principal axes), this module computes the same density on the same unconstrained parameters -- including PyMC's
normalising constants and the log-transform Jacobians of the scales -- with one numba function that compiles once per
machine (``cache=True``) and never again, whatever the cohort, priors or number of intervals. A test holds its value and
gradient equal to the PyMC model's at random points for every baseline form, with and without a time-varying arm
effect. Models with other coefficient priors (the shrinkage screens) are compiled from PyMC. The functions use numpy's
error model: far out in an early trajectory a scale can underflow to 0, and the density is then infinite or NaN, which
NUTS rejects as a divergence, instead of raising ZeroDivisionError (which would abort the sampler).

Unconstrained parameters, in the order of the PyMC model's free variables:

* ``coef_rotated`` (p), ``Normal(0, coef_sd)``; ``coef_std = rotation @ coef_rotated``;
* the log baseline ``a`` (K intervals), one of four forms (:data:`BASELINE_FORMS`): ``baseline_start`` alone (K = 1);
  ``baseline_levels`` (a Gaussian random walk with fixed step sd); or ``random_walk_sd_log__`` (a gamma hyperprior on
  the step sd), ``baseline_start`` and the steps, centred (``baseline_steps``) or not (``baseline_steps_std``);
* with a time-varying arm effect and K > 1: ``time_varying_sd_log__`` (half-normal) and ``time_steps_std`` (K - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from nutpie.compiled_pyfunc import PyFuncModel

from tmesurv.models.pwe.hand_coded import HandCodedDensity, nutpie_pyfunc_model, parameter_values
from tmesurv.models.pwe.likelihood import pwe_value_and_gradient
from tmesurv.models.pwe.settings import PwePriors, PweSettings

if TYPE_CHECKING:
    from tmesurv.models.pwe.data import PweData

BASELINE_FORMS = ("single", "levels", "centred", "non_centred")
LOG_SQRT_TWO_PI = 0.5 * math.log(2 * math.pi)
GAMMA_SHAPE = 2.0  # the step sd's gamma hyperprior: shape 2, mean priors.random_walk_sd


@dataclass(frozen=True)
class PosteriorLayout:
    """Which parameters the flat unconstrained vector holds, and how the density reads them."""

    n_terms: int
    n_intervals: int
    baseline_form: str
    time_varying: bool

    @property
    def parameters(self) -> list[tuple[str, int]]:
        """Names (PyMC's value variables) and lengths, in the vector's order."""
        steps = self.n_intervals - 1
        baseline = {
            "single": [("baseline_start", 1)],
            "levels": [("baseline_levels", self.n_intervals)],
            "centred": [("random_walk_sd_log__", 1), ("baseline_start", 1), ("baseline_steps", steps)],
            "non_centred": [("random_walk_sd_log__", 1), ("baseline_start", 1), ("baseline_steps_std", steps)],
        }[self.baseline_form]
        time_varying = [("time_varying_sd_log__", 1), ("time_steps_std", steps)] if self.time_varying and steps else []
        return [("coef_rotated", self.n_terms), *baseline, *time_varying]

    @property
    def size(self) -> int:
        """Length of the unconstrained vector."""
        return sum(length for _, length in self.parameters)


def posterior_layout(n_terms: int, n_intervals: int, settings: PweSettings, centred: bool) -> PosteriorLayout:
    """The layout of the default-prior model with these dimensions and settings (``centred``: see ``centred_steps``)."""
    if n_intervals == 1:
        form = "single"
    elif settings.priors.random_walk_sd_fixed:
        form = "levels"
    else:
        form = "centred" if centred else "non_centred"
    return PosteriorLayout(n_terms, n_intervals, form, settings.time_varying)


def prior_scales(priors: PwePriors) -> np.ndarray:
    """``coef_sd, baseline_sd, random_walk_sd, time_varying_sd`` as the density's array argument."""
    return np.array([priors.coef_sd, priors.baseline_sd, priors.random_walk_sd, priors.time_varying_sd])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _normal(value: float, mean: float, sd: float) -> float:
    """Normal log density."""
    return -LOG_SQRT_TWO_PI - math.log(sd) - 0.5 * ((value - mean) / sd) ** 2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_posterior_and_gradient(
    point: np.ndarray,
    form: int,
    time_varying: bool,
    scales: np.ndarray,
    crude_log_rate: float,
    rotation: np.ndarray,
    centre: np.ndarray,
    scale: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    count: np.ndarray,
    stratum: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
    stratum_events: np.ndarray,
    event_z: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Log posterior density (PyMC's, constants and Jacobians included) and its gradient at ``point``.

    ``form`` indexes :data:`BASELINE_FORMS`; ``scales`` is :func:`prior_scales`. With a time-varying arm effect, ``z``
    and ``event_z`` hold the terms other than the arm (the arm enters through the two strata's baselines).
    """
    coef_sd, baseline_sd, random_walk_sd, time_varying_sd = scales[0], scales[1], scales[2], scales[3]
    n_terms, n_intervals = rotation.shape[0], width.size
    gradient = np.zeros(point.size)
    value = 0.0
    coef_std = np.zeros(n_terms)
    for j in range(n_terms):
        value += _normal(point[j], 0.0, coef_sd)
        gradient[j] = -point[j] / coef_sd**2
        for i in range(n_terms):
            coef_std[i] += rotation[i, j] * point[j]
    log_hazard = np.empty(n_intervals)
    after_baseline = _baseline(point, n_terms, form, log_hazard)
    arm_effect = np.zeros(n_intervals)
    step_sd = _arm_effect(point, after_baseline, coef_std[0], scale[0], arm_effect) if time_varying else 0.0
    # The likelihood, with the arms as two strata when the arm effect varies over the intervals.
    n_strata = 2 if time_varying else 1
    first_term = 1 if time_varying else 0
    arm_values = np.array([-centre[0] / scale[0], (1.0 - centre[0]) / scale[0]])  # standardised control, treated
    strata = np.empty((n_strata, n_intervals))
    for s in range(n_strata):
        for k in range(n_intervals):
            strata[s, k] = log_hazard[k] + (arm_effect[k] * arm_values[s] if time_varying else 0.0)
    likelihood_coef = np.empty(n_terms - first_term)
    for j in range(likelihood_coef.size):
        likelihood_coef[j] = coef_std[first_term + j]
    likelihood, gradient_coef, gradient_strata = pwe_value_and_gradient(
        likelihood_coef, strata, z, offset, count, stratum, boundaries, width, stratum_events, event_z
    )
    value += likelihood
    gradient_coef_std = np.zeros(n_terms)
    for j in range(likelihood_coef.size):
        gradient_coef_std[first_term + j] = gradient_coef[j]
    gradient_log_hazard = np.zeros(n_intervals)
    gradient_arm = np.zeros(n_intervals)
    for s in range(n_strata):
        for k in range(n_intervals):
            gradient_log_hazard[k] += gradient_strata[s, k]
            gradient_arm[k] += gradient_strata[s, k] * arm_values[s]
    if time_varying:
        for k in range(n_intervals):
            gradient_coef_std[0] += gradient_arm[k]
        value += _arm_effect_prior(point, gradient, after_baseline, gradient_arm, step_sd, scale[0], time_varying_sd)
    for i in range(n_terms):
        for j in range(n_terms):
            gradient[j] += rotation[i, j] * gradient_coef_std[i]
    value += _baseline_prior(
        point, gradient, n_terms, form, gradient_log_hazard, crude_log_rate, baseline_sd, random_walk_sd
    )
    return value, gradient


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _baseline(point: np.ndarray, start: int, form: int, log_hazard: np.ndarray) -> int:
    """Fill ``log_hazard`` with the centred log baseline of the form; return where the next parameters start."""
    n_intervals = log_hazard.size
    if form <= 1:  # single or levels: the parameters are the log baseline itself
        for k in range(n_intervals):
            log_hazard[k] = point[start + k]
        return start + n_intervals
    step_sd = math.exp(point[start])
    multiplier = step_sd if form == 3 else 1.0  # non-centred steps are standard normal
    log_hazard[0] = point[start + 1]
    for k in range(1, n_intervals):
        log_hazard[k] = log_hazard[k - 1] + multiplier * point[start + 1 + k]
    return start + 1 + n_intervals


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _baseline_prior(
    point: np.ndarray,
    gradient: np.ndarray,
    start: int,
    form: int,
    gradient_log_hazard: np.ndarray,
    crude_log_rate: float,
    baseline_sd: float,
    random_walk_sd: float,
) -> float:
    """Add the baseline's prior and the chain rule of ``gradient_log_hazard`` to ``gradient``; return the log prior."""
    n_intervals = gradient_log_hazard.size
    if form <= 1:  # single or levels: a Gaussian random walk with a fixed step sd
        value = _normal(point[start], crude_log_rate, baseline_sd)
        gradient[start] += gradient_log_hazard[0] - (point[start] - crude_log_rate) / baseline_sd**2
        for k in range(1, n_intervals):
            step = point[start + k] - point[start + k - 1]
            value += _normal(step, 0.0, random_walk_sd)
            gradient[start + k] += gradient_log_hazard[k] - step / random_walk_sd**2
            gradient[start + k - 1] += step / random_walk_sd**2
        return value
    log_step_sd, first = point[start], point[start + 1]
    step_sd = math.exp(log_step_sd)
    rate = GAMMA_SHAPE / random_walk_sd  # gamma(shape 2, rate 2 / mean), with the log transform's Jacobian
    value = GAMMA_SHAPE * math.log(rate) - math.lgamma(GAMMA_SHAPE) + (GAMMA_SHAPE - 1) * log_step_sd - rate * step_sd
    value += log_step_sd + _normal(first, crude_log_rate, baseline_sd)
    gradient[start] += GAMMA_SHAPE - rate * step_sd
    gradient[start + 1] -= (first - crude_log_rate) / baseline_sd**2
    later = 0.0  # step j moves every interval after it: the sum of the gradient over intervals j + 1 onwards
    for k in range(n_intervals - 1, -1, -1):
        if k < n_intervals - 1:
            raw = point[start + 2 + k]
            if form == 2:  # centred: steps ~ Normal(0, s)
                value += _normal(raw, 0.0, step_sd)
                gradient[start + 2 + k] += later - raw / step_sd**2
                gradient[start] += -1.0 + (raw / step_sd) ** 2
            else:  # non-centred: steps = s * raw, raw ~ Normal(0, 1)
                value += _normal(raw, 0.0, 1.0)
                gradient[start + 2 + k] += later * step_sd - raw
                gradient[start] += later * raw * step_sd
        later += gradient_log_hazard[k]
    gradient[start + 1] += later
    return value


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _arm_effect(point: np.ndarray, start: int, first: float, arm_scale: float, effect: np.ndarray) -> float:
    """Fill ``effect`` with the arm's per-interval log HR per sd of the arm; return the step sd (1 if one interval)."""
    effect[0] = first
    if effect.size == 1:
        return 1.0
    step_sd = math.exp(point[start])
    for k in range(1, effect.size):
        effect[k] = effect[k - 1] + arm_scale * step_sd * point[start + k]
    return step_sd


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _arm_effect_prior(
    point: np.ndarray,
    gradient: np.ndarray,
    start: int,
    gradient_arm: np.ndarray,
    step_sd: float,
    arm_scale: float,
    time_varying_sd: float,
) -> float:
    """Add the arm-effect steps' prior and chain rule to ``gradient``; return the log prior (0 with one interval)."""
    n_intervals = gradient_arm.size
    if n_intervals == 1:
        return 0.0
    # half-normal(time_varying_sd) on the step sd, with the log transform's Jacobian
    value = 0.5 * math.log(2 / math.pi) - math.log(time_varying_sd) - 0.5 * (step_sd / time_varying_sd) ** 2
    value += point[start]
    gradient[start] += 1.0 - (step_sd / time_varying_sd) ** 2
    later = 0.0  # sum of the arm's gradient over intervals j + 1 onwards
    for k in range(n_intervals - 1, 0, -1):
        later += gradient_arm[k]
        raw = point[start + k]
        value += _normal(raw, 0.0, 1.0)
        gradient[start + k] += later * arm_scale * step_sd - raw
        gradient[start] += later * arm_scale * step_sd * raw  # d effect / d log s summed over the later intervals
    return value


SCALARS = (  # the draw values without an axis
    "baseline_start",
    "random_walk_sd",
    "time_varying_sd",
)
EXPANDED_DIMS = {
    "coef_rotated": ("term",),
    "baseline_levels": ("interval",),
    "coef_std": ("term",),
    "log_baseline_centred": ("interval",),
    "coef": ("term",),
    "log_baseline": ("interval",),
    "coef_time": ("interval",),
}


DENSITY_DATA = (
    "crude_log_rate", "rotation", "centre", "scale", "z", "offset", "count", "stratum", "boundaries", "width",
    "stratum_events", "event_z",
)  # fmt: skip


def nutpie_model(data: PweData, settings: PweSettings, centred: bool) -> PyFuncModel:
    """The default-prior PWE model of ``data`` for ``nutpie.sample``: this module's density, nothing to compile.

    ``centred`` declares learned random-walk steps centred (``tmesurv.models.pwe.model.centred_steps``).

    The draws hold the unconstrained parameters (the scales on their own scale, not their logs) and the PyMC model's
    deterministics ``coef_std``, ``coef``, ``log_baseline_centred``, ``log_baseline`` and with a time-varying arm
    effect ``coef_time`` (:func:`~tmesurv.models.pwe.hand_coded.nutpie_pyfunc_model`).
    """
    layout = posterior_layout(data.z.shape[1], data.width.size, settings, centred)
    shared = {name: np.ascontiguousarray(value) for name, value in data.arrays().items() if name in DENSITY_DATA}
    shared["crude_log_rate"] = float(data.crude_log_rate)
    if layout.time_varying:  # the arm enters through the strata's baselines, the other terms through z
        shared |= {"z": np.ascontiguousarray(data.z[:, 1:]), "event_z": data.event_z[1:].copy()}
    support = {
        "baseline_start": data.crude_log_rate,
        "baseline_levels": data.crude_log_rate,
        "random_walk_sd_log__": np.log(settings.priors.random_walk_sd),
        "time_varying_sd_log__": np.log(settings.priors.time_varying_sd),
    }
    form = BASELINE_FORMS.index(layout.baseline_form)
    density = HandCodedDensity(
        layout=layout,
        log_density=log_posterior_and_gradient,
        constants=(form, layout.time_varying, prior_scales(settings.priors)),
        data=shared,
        data_arguments=DENSITY_DATA,
        expand=expanded_draw,
        derived_shapes=derived_shapes(layout),
        scalars=SCALARS,
        dims=EXPANDED_DIMS,
        support=support,
    )
    return nutpie_pyfunc_model(density)


def derived_shapes(layout: PosteriorLayout) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the deterministics in a draw, in :func:`expanded_draw`'s order."""
    shapes = [("coef_std", (layout.n_terms,)), ("log_baseline_centred", (layout.n_intervals,))]
    shapes += [("coef", (layout.n_terms,)), ("log_baseline", (layout.n_intervals,))]
    if layout.time_varying:
        shapes.append(("coef_time", (layout.n_intervals,)))
    return shapes


def expanded_draw(point: np.ndarray, layout: PosteriorLayout, **arrays: np.ndarray) -> dict[str, np.ndarray]:
    """One draw's parameters (scales exponentiated) and the PyMC model's deterministics, as in ``pwe_model``."""
    values = parameter_values(point, layout, SCALARS)
    form = BASELINE_FORMS.index(layout.baseline_form)
    rotation, centre, scale = arrays["rotation"], arrays["centre"], arrays["scale"]
    coef_std = rotation @ values["coef_rotated"]
    log_hazard = np.empty(layout.n_intervals)
    after_baseline = _baseline(point, layout.n_terms, form, log_hazard)
    values |= {"coef_std": coef_std, "log_baseline_centred": log_hazard}
    coef = coef_std / scale
    if not layout.time_varying:
        return values | {"coef": coef, "log_baseline": log_hazard - centre @ coef}
    arm_effect = np.empty(layout.n_intervals)
    _arm_effect(point, after_baseline, coef_std[0], scale[0], arm_effect)
    coef_time = arm_effect / scale[0]
    events = arrays["stratum_events"].sum(axis=0)  # per interval
    coef[0] = events @ coef_time / events.sum()  # the event-weighted average, comparable to a Cox estimate
    log_baseline = log_hazard - centre[0] * coef_time - centre[1:] @ coef[1:]
    return values | {"coef": coef, "log_baseline": log_baseline, "coef_time": coef_time}
