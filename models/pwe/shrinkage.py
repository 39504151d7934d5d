"""Shrinkage priors for many coefficients of the PWE model: regularised horseshoe and R2D2, both non-centred.

A :class:`ShrinkagePrior` is a ``coefficient_prior`` of :func:`~tmesurv.models.pwe.fit.fit_pwe`: the terms at
positions ``shrunk`` share the shrinkage prior and the others keep ``Normal(0, priors.coef_sd)``. All scales apply to
the standardised coefficients (log hazard ratio per sd of the design column).

Regularised horseshoe (Piironen & Vehtari 2017, Electron. J. Stat. 11:5018): ``beta_j = z_j tau lambda~_j`` with
``z_j ~ Normal(0, 1)``, local scales ``lambda_j ~ Half-Student-t(priors.local_df, 0, 1)``, ``tau ~ HalfCauchy(tau0)``,
``c^2 ~ InvGamma(nu/2, nu s^2/2)`` (slab scale ``s``, df ``nu``) and ``lambda~_j^2 = c^2 lambda_j^2 / (c^2 + tau^2
lambda_j^2)``: brms's ``horseshoe(df = local_df, scale_global = tau0, df_global = 1, scale_slab = s, df_slab = nu)``
(brms's default slab scale is 2, ours 1). ``local_df`` 1 (half-Cauchy local scales) is the horseshoe proper; the
default 3 is what brms's documentation suggests against divergences, a hierarchical-shrinkage prior (see below). The
half-t scales are written as a half-normal times the square root of an ``InvGamma(df/2, df/2)`` (the
auxiliary-variable form). The global scale ``tau0 = p0 / (D - p0) sigma / sqrt(n)`` uses the expected number of
non-zero terms ``p0`` among ``D``; for the PWE (a Poisson likelihood in disguise) the information on a standardised
log hazard ratio is about one unit per event, so ``sigma / sqrt(n)`` becomes ``1 / sqrt(events)``.

Where the horseshoe diverges: on a screen of 46 interactions with 244 events, the divergent transitions do not sit at
small ``tau`` (they spread over its whole posterior) but where one null interaction's local scale has wandered into the
half-Cauchy's tail, so that its conditional prior sd ``tau lambda~_j`` (1.2 to 2.4, capped by the slab ``c``) is far
above what the data allow (posterior sd 0.17 without shrinkage): the likelihood pins ``z_j`` to a sliver of width ~0.1
and a leapfrog step sized for the bulk overshoots (the non-centred form's inverse funnel). Smaller steps make it rarer,
not impossible: on the test fixture (``benchmarks/bench_horseshoe_screen.py``, 4 x 1,000 draws, seeds 1-5) the horseshoe
had 5 divergences in all at target_accept 0.99 after 500 tuning steps, 2 after 1,000, none at 0.995 (but 1 under
``NUMBA_CPU_NAME=generic``), and 1 still at 0.999 (R-hat up to 1.0098); brms's direct half-Cauchy form with its slab
scale 2 (a looser cap) had 6 to 17 per fit at 0.99. Half-Student-t(3) local scales have lighter tails and keep the nulls
out of that region far more often: at target_accept 0.9, 1 to 5 divergences per fit (the horseshoe: 74 at seed 3, after
500 tuning steps), and at 0.99 none on seeds 1-5 on this machine's CPU and on 4 of 5 under ``NUMBA_CPU_NAME=generic``
(seed 5: 28). No setting measured was free of divergences on every seed and CPU (local_df 3 at 0.995: seed 3 here 1,
seeds 1 here and 3, 5 under generic none); a rare fit with some is flagged NOT CONVERGED (and re-run at any
``bayes.divergence_reruns`` level above ``screen_target_accept``). Hence the defaults ``local_df`` 3 and
``bayes.screen_target_accept`` 0.99. The price: the nulls are shrunk less (mean |posterior mean| 0.044 instead of 0.020,
unshrunk 0.18; median ``kappa`` 0.60 instead of 0.83) and the two true interactions (-0.8, 0.7) a little more (-0.79 and
0.72 instead of -0.82 and 0.79).

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


def _half_student_t(name: str, df: float, size: int | None) -> pt.TensorVariable:
    """A standard half-Student-t as ``HalfNormal(1) * sqrt(InvGamma(df/2, df/2))`` (df 1: a half-Cauchy)."""
    shape = () if size is None else (size,)
    normal = pm.HalfNormal(f"{name}_normal", 1.0, shape=shape)
    inverse_gamma = pm.InverseGamma(f"{name}_inverse_gamma", 0.5 * df, 0.5 * df, shape=shape)
    return normal * pt.sqrt(inverse_gamma)


def _horseshoe_sd(size: int, events: pt.TensorVariable, priors: PwePriors) -> pt.TensorVariable:
    """``tau lambda~_j``: the regularised horseshoe's conditional prior sd of each shrunk coefficient."""
    tau = global_scale(priors.expected_interactions, size, events) * _half_student_t("horseshoe_global", 1.0, None)
    local = _half_student_t("horseshoe_local", priors.local_df, size)
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


def shrinkage_prior_text(shrinkage: str, priors: PwePriors) -> str:
    """The screen's prior on the arm x biomarker interactions, in words, with the values of ``priors``."""
    if shrinkage == "normal":
        return f"independent Normal(0, {priors.coef_sd:g}) priors (no multiplicity adjustment)"
    if shrinkage == "r2d2":
        mean, precision = priors.r2d2_mean, priors.r2d2_precision
        return (
            "the R2D2 prior (Zhang et al. 2022) in non-centred form: interaction j = z_j sqrt(phi_j W), z_j ~ "
            f"Normal(0, 1), W = R2 / (1 - R2) the total prior variance with R2 ~ Beta({mean * precision:g}, "
            f"{(1 - mean) * precision:g}), and phi ~ Dirichlet({priors.r2d2_concentration:g})"
        )
    local_df, slab_df, slab_scale = priors.local_df, priors.slab_df, priors.slab_scale
    local = "half-Cauchy(0, 1)" if local_df == 1 else f"half-Student-t({local_df:g}, 0, 1)"
    return (
        "a regularised horseshoe (Piironen & Vehtari 2017) in non-centred form: interaction j = z_j tau lambda~_j, "
        f"z_j ~ Normal(0, 1), local scales lambda_j ~ {local}, global scale tau ~ half-Cauchy(0, tau0) with tau0 = "
        f"p0 / (D - p0) / sqrt(events) for p0 = {priors.expected_interactions:g} expected non-zero interactions "
        "among the D screened, and lambda~_j^2 = c^2 lambda_j^2 / (c^2 + tau^2 lambda_j^2) with the slab c^2 ~ "
        f"InvGamma({slab_df / 2:g}, {slab_df * slab_scale**2 / 2:g}) (slab scale {slab_scale:g}, {slab_df:g} df): "
        f"brms's horseshoe(df = {local_df:g}, scale_global = tau0, df_global = 1, scale_slab = {slab_scale:g}, "
        f"df_slab = {slab_df:g})"
    )
