"""The mixture-cure model's log posterior density and gradient in numba, for nutpie without compiling a PyTensor graph.

The PyMC model of :func:`tmesurv.models.pwe.cure.model.cure_model` is the specification; this module computes the same
density on the same unconstrained parameters -- PyMC's normalising constants and the log-transform Jacobians included
-- with one numba function compiled once per machine (``cache=True``), as :mod:`tmesurv.models.pwe.posterior` does for
the proportional-hazards model (whose baseline forms and priors it reuses). A test holds its value and gradient equal to
the PyMC model's at random points. Unconstrained parameters, in the order of the PyMC model's free variables:

* ``coef_rotated`` (p), ``Normal(0, coef_sd)``: the latency, ``coef_std = rotation @ coef_rotated``;
* the log baseline ``a`` (K intervals), one of the PWE model's four forms
  (:data:`~tmesurv.models.pwe.posterior.BASELINE_FORMS`);
* ``cure_intercept_centred``, ``Normal(cure_intercept_mean, cure_intercept_sd)``, and ``cure_coef_rotated`` (p),
  ``Normal(0, cure_coef_sd)``: the incidence, ``cure_coef_std = cure_rotation @ cure_coef_rotated``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from nutpie.compiled_pyfunc import PyFuncModel

from tmesurv.models.pwe.cure.likelihood import CureData, cure_value_and_gradient
from tmesurv.models.pwe.hand_coded import HandCodedDensity, nutpie_pyfunc_model, parameter_values
from tmesurv.models.pwe.model import centred_steps
from tmesurv.models.pwe.posterior import (
    BASELINE_FORMS,
    PosteriorLayout,
    _baseline,
    _baseline_prior,
    _normal,
    derived_shapes,
    posterior_layout,
)
from tmesurv.models.pwe.settings import PwePriors, PweSettings


@dataclass(frozen=True)
class CureLayout:
    """The parameters of the flat unconstrained vector: the latency's (as the PWE model's), then the incidence's."""

    latency: PosteriorLayout

    @property
    def n_terms(self) -> int:
        """Design columns (each in both parts)."""
        return self.latency.n_terms

    @property
    def n_intervals(self) -> int:
        """Baseline intervals."""
        return self.latency.n_intervals

    @property
    def parameters(self) -> list[tuple[str, int]]:
        """Names (PyMC's value variables) and lengths, in the vector's order."""
        return [*self.latency.parameters, ("cure_intercept_centred", 1), ("cure_coef_rotated", self.n_terms)]

    @property
    def size(self) -> int:
        """Length of the unconstrained vector."""
        return sum(length for _, length in self.parameters)


def cure_layout(data: CureData, settings: PweSettings) -> CureLayout:
    """The layout of the cure model of ``data`` with these settings (``time_varying`` must be False)."""
    if settings.time_varying:
        raise ValueError("the cure model's latency has proportional hazards: settings.time_varying must be False")
    pwe = data.pwe
    return CureLayout(posterior_layout(pwe.z.shape[1], pwe.width.size, settings, centred_steps(pwe)))


def cure_prior_scales(priors: PwePriors) -> np.ndarray:
    """The priors' constants as the density's array argument, in the order it reads them."""
    return np.array(
        [
            priors.coef_sd,
            priors.baseline_sd,
            priors.random_walk_sd,
            priors.cure_intercept_mean,
            priors.cure_intercept_sd,
            priors.cure_coef_sd,
        ]
    )


@numba.njit(cache=True, nogil=True, error_model="numpy")
def cure_log_posterior_and_gradient(
    point: np.ndarray,
    form: int,
    scales: np.ndarray,
    crude_log_rate: float,
    rotation: np.ndarray,
    cure_rotation: np.ndarray,
    z: np.ndarray,
    event: np.ndarray,
    offset: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Log posterior density (PyMC's, constants and Jacobians included) and its gradient at ``point``.

    ``form`` indexes :data:`~tmesurv.models.pwe.posterior.BASELINE_FORMS`; ``scales`` is :func:`cure_prior_scales`.
    """
    coef_sd, baseline_sd, random_walk_sd = scales[0], scales[1], scales[2]
    intercept_mean, intercept_sd, cure_sd = scales[3], scales[4], scales[5]
    n_terms = rotation.shape[0]
    gradient = np.zeros(point.size)
    log_hazard = np.empty(width.size)
    start = _baseline(point, n_terms, form, log_hazard)  # the incidence's parameters follow the baseline's
    intercept = point[start]
    value = _normal(intercept, intercept_mean, intercept_sd)
    gradient[start] = -(intercept - intercept_mean) / intercept_sd**2
    coef_std, cure_std = np.zeros(n_terms), np.zeros(n_terms)
    for j in range(n_terms):
        latency, incidence = point[j], point[start + 1 + j]
        value += _normal(latency, 0.0, coef_sd) + _normal(incidence, 0.0, cure_sd)
        gradient[j] = -latency / coef_sd**2
        gradient[start + 1 + j] = -incidence / cure_sd**2
        for i in range(n_terms):
            coef_std[i] += rotation[i, j] * latency
            cure_std[i] += cure_rotation[i, j] * incidence
    likelihood, gradient_intercept, gradient_cure, gradient_coef, gradient_log_hazard = cure_value_and_gradient(
        intercept, cure_std, coef_std, log_hazard, z, event, offset, boundaries, width
    )
    value += likelihood
    gradient[start] += gradient_intercept
    for i in range(n_terms):
        for j in range(n_terms):
            gradient[j] += rotation[i, j] * gradient_coef[i]
            gradient[start + 1 + j] += cure_rotation[i, j] * gradient_cure[i]
    value += _baseline_prior(
        point, gradient, n_terms, form, gradient_log_hazard, crude_log_rate, baseline_sd, random_walk_sd
    )
    return value, gradient


DENSITY_DATA = ("crude_log_rate", "rotation", "cure_rotation", "z", "event", "offset", "boundaries", "width")
EXPANDED_DIMS = {
    "coef_rotated": ("term",),
    "baseline_levels": ("interval",),
    "cure_coef_rotated": ("term",),
    "coef_std": ("term",),
    "log_baseline_centred": ("interval",),
    "coef": ("term",),
    "log_baseline": ("interval",),
    "cure_coef_std": ("term",),
    "cure_coef": ("term",),
}
SCALARS = ("baseline_start", "random_walk_sd", "cure_intercept_centred", "cure_intercept")


def density_arrays(data: CureData) -> dict[str, np.ndarray | float]:
    """The density's data arguments by name (:data:`DENSITY_DATA`), contiguous."""
    pwe = data.pwe
    arrays = {
        "crude_log_rate": float(pwe.crude_log_rate),
        "rotation": pwe.rotation,
        "cure_rotation": data.cure_rotation,
        "z": pwe.z,
        "event": data.event,
        "offset": pwe.offset,
        "boundaries": pwe.boundaries,
        "width": pwe.width,
        "centre": pwe.centre,
        "scale": pwe.scale,
    }
    return {name: value if np.isscalar(value) else np.ascontiguousarray(value) for name, value in arrays.items()}


def nutpie_cure_model(data: CureData, settings: PweSettings) -> PyFuncModel:
    """The cure model of ``data`` for ``nutpie.sample``: this module's density, nothing to compile.

    The draws hold the unconstrained parameters (the step sd on its own scale, not its log) and the PyMC model's
    deterministics ``coef_std``, ``log_baseline_centred``, ``coef``, ``log_baseline``, ``cure_coef_std``,
    ``cure_coef`` and ``cure_intercept`` (:func:`~tmesurv.models.pwe.hand_coded.nutpie_pyfunc_model`).
    """
    layout = cure_layout(data, settings)
    support = {
        "baseline_start": data.pwe.crude_log_rate,
        "baseline_levels": data.pwe.crude_log_rate,
        "random_walk_sd_log__": np.log(settings.priors.random_walk_sd),
        "cure_intercept_centred": settings.priors.cure_intercept_mean,
    }
    form = BASELINE_FORMS.index(layout.latency.baseline_form)
    density = HandCodedDensity(
        layout=layout,
        log_density=cure_log_posterior_and_gradient,
        constants=(form, cure_prior_scales(settings.priors)),
        data=density_arrays(data),
        data_arguments=DENSITY_DATA,
        expand=expanded_draw,
        derived_shapes=_derived_shapes(layout),
        scalars=SCALARS,
        dims=EXPANDED_DIMS,
        support=support,
    )
    return nutpie_pyfunc_model(density)


def _derived_shapes(layout: CureLayout) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of a draw's deterministics in :func:`expanded_draw`'s order: latency's, then incidence's."""
    incidence = [("cure_coef_std", (layout.n_terms,)), ("cure_coef", (layout.n_terms,)), ("cure_intercept", ())]
    return derived_shapes(layout.latency) + incidence


def expanded_draw(point: np.ndarray, layout: CureLayout, **arrays: np.ndarray) -> dict[str, np.ndarray]:
    """One draw's parameters (the step sd exponentiated) and the PyMC model's deterministics, as in ``cure_model``."""
    values = parameter_values(point, layout, SCALARS)
    centre, scale = arrays["centre"], arrays["scale"]
    coef_std = arrays["rotation"] @ values["coef_rotated"]
    log_hazard = np.empty(layout.n_intervals)
    _baseline(point, layout.n_terms, BASELINE_FORMS.index(layout.latency.baseline_form), log_hazard)
    cure_std = arrays["cure_rotation"] @ values["cure_coef_rotated"]
    coef, cure_coef = coef_std / scale, cure_std / scale
    return values | {
        "coef_std": coef_std,
        "log_baseline_centred": log_hazard,
        "coef": coef,
        "log_baseline": log_hazard - centre @ coef,
        "cure_coef_std": cure_std,
        "cure_coef": cure_coef,
        "cure_intercept": np.asarray(values["cure_intercept_centred"] - centre @ cure_coef).reshape(()),
    }
