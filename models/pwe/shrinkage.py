"""Shrinkage priors for many coefficients of the PWE model: regularised horseshoe and R2D2, both non-centred.

A :class:`ShrinkagePrior` is a ``coefficient_prior`` of :func:`~tmesurv.models.pwe.fit.fit_pwe`: the terms at
positions ``shrunk`` share the shrinkage prior and the others keep ``Normal(0, priors.coef_sd)``. All scales apply to
the standardised coefficients (log hazard ratio per sd of the design column).

Regularised horseshoe (Piironen & Vehtari 2017, Electron. J. Stat. 11:5018): ``beta_j = z_j tau lambda~_j`` with
``z_j ~ Normal(0, 1)``, ``lambda_j ~ HalfCauchy(1)``, ``tau ~ HalfCauchy(tau0)``, ``c^2 ~ InvGamma(nu/2, nu s^2/2)``
(slab scale ``s``, df ``nu``) and ``lambda~_j^2 = c^2 lambda_j^2 / (c^2 + tau^2 lambda_j^2)``. The half-Cauchy scales
are written as a half-normal times the square root of an ``InvGamma(1/2, 1/2)`` (as brms does), which NUTS samples
better. The global scale ``tau0 = p0 / (D - p0) sigma / sqrt(n)`` uses the expected number of non-zero terms ``p0``
among ``D``; for the PWE (a Poisson likelihood in disguise) the information on a standardised log hazard ratio is
about one unit per event, so ``sigma / sqrt(n)`` becomes ``1 / sqrt(events)``.

R2D2 (Zhang et al. 2022, JASA 117:862): ``beta_j = z_j sqrt(phi_j W)`` with ``W = R2 / (1 - R2)`` the total prior
variance, ``R2 ~ Beta(mean precision, (1 - mean) precision)`` and ``phi ~ Dirichlet(concentration)``; the PWE has no
residual variance, so ``W`` is the total prior variance of the shrunk standardised log hazard ratios.

Both store ``shrinkage_sd`` (the prior sd of each shrunk coefficient given the hyperparameters) and the shrinkage
factor ``kappa_j = 1 / (1 + events shrinkage_sd_j^2)`` (0: left alone, 1: shrunk to zero), the horseshoe's
``kappa`` of Piironen & Vehtari with the same information approximation; both over the ``shrunk`` dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from tmesurv.errors import InputError
from tmesurv.models.pwe.settings import PwePriors

SHRUNK_DIM = "shrunk"


@dataclass(frozen=True)
class ShrinkagePrior:
    """A horseshoe or R2D2 prior on the terms at positions ``shrunk``, ``Normal(0, coef_sd)`` on the others.

    Hashable, so a compiled model is reused for every fit with the same prior and shape.
    """

    kind: Literal["horseshoe", "r2d2"]
    shrunk: tuple[int, ...]
    terms: int

    def __post_init__(self) -> None:
        if not self.shrunk or len(set(self.shrunk)) != len(self.shrunk):
            raise ValueError("shrunk must list distinct term positions")
        if min(self.shrunk) < 0 or max(self.shrunk) >= self.terms:
            raise ValueError(f"shrunk positions must lie in 0..{self.terms - 1}")

    def __call__(self, containers: dict[str, pt.TensorVariable], priors: PwePriors) -> pt.TensorVariable:
        """Declare the prior in the current model and return ``coef_std`` (dims ``term``)."""
        model = pm.modelcontext(None)
        model.add_coord(SHRUNK_DIM, np.arange(len(self.shrunk)))
        events = pt.sum(containers["interval_events"])
        if self.kind == "horseshoe":
            sd = _horseshoe_sd(len(self.shrunk), events, priors)
        else:
            sd = _r2d2_sd(len(self.shrunk), priors)
        sd = pm.Deterministic("shrinkage_sd", sd, dims=SHRUNK_DIM)
        pm.Deterministic("kappa", 1.0 / (1.0 + events * sd**2), dims=SHRUNK_DIM)
        shrunk = sd * pm.Normal("shrinkage_z", 0.0, 1.0, dims=SHRUNK_DIM)
        free = [j for j in range(self.terms) if j not in self.shrunk]
        if free:
            coef_free = pm.Normal("coef_free", 0.0, priors.coef_sd, shape=len(free))
            shrunk = pt.concatenate([coef_free, shrunk])
        order = np.argsort([*free, *self.shrunk])
        if np.any(order != np.arange(self.terms)):  # a gather only when the shrunk terms are not the last ones
            shrunk = shrunk[order]
        return pm.Deterministic("coef_std", shrunk, dims="term")


def global_scale(expected: float, terms: int, events: float | pt.TensorVariable) -> float | pt.TensorVariable:
    """Piironen & Vehtari's ``tau0 = p0 / (D - p0) / sqrt(events)`` (see the module docstring).

    Raises
    ------
    InputError
        If ``p0`` is not below the number of terms ``D`` (see :func:`check_expected_interactions`).
    """
    check_expected_interactions(expected, terms)
    return expected / (terms - expected) / events**0.5


def check_expected_interactions(expected: float, terms: int) -> None:
    """Raise :class:`InputError` unless the horseshoe's ``p0`` is positive and below the number of terms ``D``."""
    if not 0 < expected < terms:
        raise InputError(
            f"bayes.priors.expected_interactions ({expected}) must be positive and below the number of screened "
            f"biomarkers ({terms}): lower it (the prior guess of how many of them truly interact with the arm) or "
            "screen more biomarkers"
        )


def _half_cauchy(name: str, size: int | None) -> pt.TensorVariable:
    """A standard half-Cauchy as ``HalfNormal(1) * sqrt(InvGamma(1/2, 1/2))`` (NUTS-friendly)."""
    shape = () if size is None else (size,)
    normal = pm.HalfNormal(f"{name}_normal", 1.0, shape=shape)
    inverse_gamma = pm.InverseGamma(f"{name}_inverse_gamma", 0.5, 0.5, shape=shape)
    return normal * pt.sqrt(inverse_gamma)


def _horseshoe_sd(size: int, events: pt.TensorVariable, priors: PwePriors) -> pt.TensorVariable:
    """``tau lambda~_j``: the regularised horseshoe's conditional prior sd of each shrunk coefficient."""
    tau = global_scale(priors.expected_interactions, size, events) * _half_cauchy("horseshoe_global", None)
    local = _half_cauchy("horseshoe_local", size)
    half_df = 0.5 * priors.slab_df
    slab_variance = priors.slab_scale**2 * pm.InverseGamma("horseshoe_slab", half_df, half_df)
    pm.Deterministic("horseshoe_tau", tau)
    regularised = pt.sqrt(slab_variance * local**2 / (slab_variance + tau**2 * local**2))
    return tau * regularised


def _r2d2_sd(size: int, priors: PwePriors) -> pt.TensorVariable:
    """``sqrt(phi_j W)``: the R2D2 prior sd of each shrunk coefficient."""
    mean, precision = priors.r2d2_mean, priors.r2d2_precision
    r2 = pm.Beta("r2d2_r2", mean * precision, (1 - mean) * precision)
    gamma = pm.Gamma("r2d2_gamma", priors.r2d2_concentration, 1.0, dims=SHRUNK_DIM)
    phi = pm.Deterministic("r2d2_phi", gamma / pt.sum(gamma), dims=SHRUNK_DIM)  # Dirichlet(concentration)
    return pt.sqrt(phi * r2 / (1 - r2))
