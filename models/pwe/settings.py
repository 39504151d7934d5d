"""Settings of the Bayesian piecewise-exponential model, its sampler and its analyses; nothing of the config.

A fit takes :class:`PweSettings` (the model) and :class:`SamplerSettings`; the analyses of a cohort take
:class:`PweAnalysisSettings`, both of them and what to fit. The analysis config's ``bayes`` section
(``BayesSpec``) is :class:`PweAnalysisSettings`, so each setting is defined once, with its
description and default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tmesurv.schema import StrictModel

Shrinkage = Literal["horseshoe", "r2d2", "normal"]


class PwePriors(StrictModel):
    """Priors of the Bayesian piecewise-exponential model."""

    coef_sd: float = Field(10.0, gt=0, description="sd of the normal prior on every log hazard ratio")
    baseline_sd: float = Field(10.0, gt=0, description="sd of the first log baseline hazard around the crude rate")
    random_walk_sd: float = Field(
        1.0, gt=0, description="prior mean of the sd of each step of the log-baseline random walk (gamma hyperprior)"
    )
    random_walk_sd_fixed: bool = Field(
        False,
        description="fix the step sd at random_walk_sd instead of learning it: with a large value the baseline is "
        "not smoothed at all, the setting in which the model reproduces a Cox fit",
    )
    time_varying_sd: float = Field(
        0.2,
        gt=0,
        description="scale of the half-normal prior on the sd of each step of the arm's per-interval log hazard ratio "
        "(bayes.time_varying): small values shrink toward proportional hazards",
    )
    cure_intercept_mean: float = Field(
        0.0,
        description="cure model: prior mean of the logit of the cure fraction at the design's mean (0: a cure "
        "fraction of one half)",
    )
    cure_intercept_sd: float = Field(
        1.5,
        gt=0,
        description="cure model: sd of the normal prior on that logit; 1.5 puts 95% of the prior cure fraction "
        "between 0.05 and 0.95",
    )
    cure_coef_sd: float = Field(
        1.5,
        gt=0,
        description="cure model: sd of the normal prior on every log odds ratio of cure, per sd of its design "
        "column (as coef_sd for the log hazard ratios); 1.5 keeps odds ratios per sd within about 1/20 to 20",
    )
    expected_interactions: float = Field(
        2.0,
        gt=0,
        description="interaction screen, horseshoe: the expected number of non-zero arm x biomarker interactions "
        "(p0), which sets the global scale tau0 = p0 / (D - p0) / sqrt(events)",
    )
    slab_scale: float = Field(
        1.0, gt=0, description="interaction screen, horseshoe: scale of the slab (largest plausible log HR per sd)"
    )
    slab_df: float = Field(4.0, gt=0, description="interaction screen, horseshoe: degrees of freedom of the slab")
    r2d2_mean: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="interaction screen, R2D2: prior mean of R2 = W / (1 + W), W the total prior variance of the "
        "interaction log hazard ratios (per sd of their columns)",
    )
    r2d2_precision: float = Field(2.0, gt=0, description="interaction screen, R2D2: prior precision of R2 (beta prior)")
    r2d2_concentration: float = Field(
        0.5, gt=0, description="interaction screen, R2D2: Dirichlet concentration splitting W over the interactions"
    )


class PweSettings(StrictModel):
    """The model: baseline intervals, priors, and whether the treatment effect varies over the intervals."""

    intervals: int = Field(8, ge=1, description="baseline intervals, cut at event-time quantiles")
    priors: PwePriors = PwePriors()
    time_varying: bool = Field(
        False,
        description="a treatment log hazard ratio per baseline interval (random walk shrunk toward proportional "
        "hazards by priors.time_varying_sd) instead of one; the design's first column must be 'arm' (0/1)",
    )


class SamplerSettings(StrictModel):
    """How the posterior is sampled; the same settings and seed give identical draws."""

    sampler: Literal["nutpie", "pymc"] = Field("nutpie", description="nutpie (compiled, fast) or PyMC's NUTS")
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(4, ge=1)
    seed: int = 20180125
    target_accept: float = Field(
        0.9, gt=0.5, lt=1, description="NUTS target acceptance; raise (0.95-0.99) when a shrinkage prior diverges"
    )


class PweAnalysisSettings(PweSettings, SamplerSettings):
    """Settings of the Bayesian analyses of a cohort: the model, its sampler, and what to fit.

    Besides the treatment, interaction and subgroup models: chosen treatment-effect values, HR curves, the interaction
    screen and the prior predictive check. These are the keys of the config's ``bayes`` section.
    """

    biomarkers: list[str] | None = Field(
        None, description="biomarkers to fit interaction models for (default: all of data.biomarkers)"
    )
    shrinkage: Shrinkage = Field(
        "horseshoe",
        description="prior of the arm x biomarker interactions in a many-biomarker screen: regularised horseshoe, "
        "R2D2, or independent normal(0, priors.coef_sd) (no multiplicity adjustment)",
    )
    spline_knots: int = Field(
        4, ge=2, description="knots (at quantiles) of the cubic B-spline basis of a continuous biomarker's HR curve"
    )
    treatment_at: dict[str, list[float]] = Field(
        default_factory=dict,
        description="biomarker -> values at which to give the treatment HR from its interaction model "
        "(treatment_at rows of bayes.csv, besides those at its quartiles)",
    )
    hr_curves: list[str] = Field(
        default_factory=list,
        description="continuous biomarkers whose treatment HR is fitted as a spline curve over the biomarker "
        "(bayes_hr_curve.csv; spline_knots knots)",
    )
    screen: list[str] = Field(
        default_factory=list,
        description="biomarkers and features (names or patterns such as 'sig_*') screened in one model for arm "
        "interactions under the shrinkage prior (bayes_screen.csv); empty: no screen",
    )
    prior_predictive: bool = Field(
        False,
        description="prior predictive check of the treatment model: survival per arm at the landmarks and the number "
        "of events implied by the priors, next to the data (bayes_prior_predictive.csv)",
    )

    def model_settings(self) -> PweSettings:
        """The model's settings (intervals, priors, time-varying effect)."""
        return PweSettings(**{name: getattr(self, name) for name in PweSettings.model_fields})

    def sampler_settings(self) -> SamplerSettings:
        """The sampler's settings (sampler, draws, tune, chains, seed, target acceptance)."""
        return SamplerSettings(**{name: getattr(self, name) for name in SamplerSettings.model_fields})
