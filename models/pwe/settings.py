"""Settings of the Bayesian piecewise-exponential model, its sampler and its analyses; nothing of the config.

A fit takes :class:`PweSettings` (the model) and :class:`SamplerSettings`; the analyses of a cohort take
:class:`PweAnalysisSettings`, both of them and what to fit. The analysis config's ``bayes`` section
(``BayesSpec``) is :class:`PweAnalysisSettings`, so each setting is defined once, with its
description and default.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tmesurv.models.pwe.registry import MODELS, PH, bayes_model
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
        "(bayes.model: time_varying): small values shrink toward proportional hazards",
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
    local_df: float = Field(
        3.0,
        gt=0,
        description="interaction screen, horseshoe: degrees of freedom of the half-Student-t prior of the local "
        "scales (brms's df); 1 is the horseshoe proper (half-Cauchy), which shrinks the null interactions more but "
        "diverges now and then on a realistic screen; 3 (brms's advice against divergences) samples cleanly",
    )
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


class PweBaseSettings(StrictModel):
    """What every piecewise-exponential model has: baseline intervals and priors."""

    intervals: int = Field(8, ge=1, description="baseline intervals, cut at event-time quantiles")
    priors: PwePriors = PwePriors()


class PweSettings(PweBaseSettings):
    """The model: baseline intervals, priors, and whether the treatment effect varies over the intervals."""

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
        0.9, gt=0.5, lt=1, description="NUTS target acceptance of every fit's first run but the interaction screen's"
    )


class PweAnalysisSettings(PweBaseSettings, SamplerSettings):
    """Settings of the Bayesian analyses of a cohort: the model, its sampler, and what to fit.

    Besides the treatment, interaction and subgroup models: the models compared with ``model`` by PSIS-LOO, chosen
    treatment-effect values, HR curves, the interaction screen and the prior predictive check. These are the keys of
    the config's ``bayes`` section. ``time_varying: true`` of earlier versions is now ``model: time_varying``; the old
    key is refused with a message that says so.
    """

    model: str = Field(
        PH,
        description="the model of every treatment, interaction and subgroup fit and of the report's tables (its "
        "rows come first in bayes.csv, bayes_curves.csv, bayes_survival.csv and bayes_fit_check.csv): "
        + ", ".join(MODELS)
        + " (see the README)",
    )
    compare: list[str] = Field(
        default_factory=list,
        description="models fitted besides bayes.model for every treatment, interaction and subgroup analysis, "
        "compared with it by PSIS-LOO (bayes_loo.csv) and checked against Kaplan-Meier (their rows in bayes.csv, "
        "bayes_curves.csv, bayes_survival.csv and bayes_fit_check.csv, column model), e.g. [ph, time_varying]; empty: "
        "bayes.model alone",
    )
    store_log_likelihood: bool = Field(
        False,
        description="keep every fit's per-patient log-likelihood draws in posterior.nc (compressed float32: chains x "
        "draws x patients values, 320 MB per fit of 20,000 patients before compression); the pointwise LOO and Pareto "
        "k are kept either way",
    )

    biomarkers: list[str] | None = Field(
        None, description="biomarkers to fit interaction models for (default: all of data.biomarkers)"
    )
    shrinkage: Shrinkage = Field(
        "horseshoe",
        description="prior of the arm x biomarker interactions in a many-biomarker screen: regularised horseshoe, "
        "R2D2, or independent normal(0, priors.coef_sd) (no multiplicity adjustment)",
    )
    screen_target_accept: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="NUTS target acceptance of the interaction screen's first run (instead of target_accept): a "
        "shrinkage prior's funnel needs smaller steps than the other fits; divergence_reruns above it still apply",
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
        "(bayes_hr_curve.csv; spline_knots knots); a proportional-hazards model whatever bayes.model",
    )
    screen: list[str] = Field(
        default_factory=list,
        description="biomarkers and features (names or patterns such as 'sig_*') screened in one model for arm "
        "interactions under the shrinkage prior (bayes_screen.csv); empty: no screen; a proportional-hazards model "
        "whatever bayes.model",
    )
    prior_predictive: bool = Field(
        False,
        description="prior predictive check of the treatment model: survival per arm at the landmarks and the number "
        "of events implied by the priors, next to the data (bayes_prior_predictive.csv)",
    )
    divergence_reruns: list[Annotated[float, Field(gt=0.5, lt=1)]] = Field(
        default_factory=lambda: [0.95, 0.99],
        description="target acceptances at which a fit with divergent transitions is re-run, in turn, until a run "
        "has none (increasing; empty: no re-runs); bayes.csv records the target_accept and reruns of the reported run",
    )
    min_events: int = Field(
        1,
        ge=1,
        description="fewest events each arm of a fit must have (and, in an interaction model with a two-level "
        "biomarker, each arm x level cell) for it to be estimated; a fit with fewer is reported as not estimable",
    )

    @field_validator("divergence_reruns")
    @classmethod
    def _increasing(cls, targets: list[float]) -> list[float]:
        if any(later <= earlier for earlier, later in itertools.pairwise(targets)):
            raise ValueError(f"give increasing target acceptances, e.g. [0.95, 0.99]; got {targets}")
        return targets

    @model_validator(mode="before")
    @classmethod
    def _time_varying_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "time_varying" in data:
            instead = "model: time_varying" if data["time_varying"] else f"model: {PH} (the default)"
            raise ValueError(
                f"bayes.time_varying is replaced by bayes.model: write '{instead}' instead of 'time_varying: "
                f"{str(data['time_varying']).lower()}'; to fit both and compare them by LOO, add 'compare: [ph, "
                "time_varying]'"
            )
        return data

    @field_validator("model")
    @classmethod
    def _model_known(cls, name: str) -> str:
        bayes_model(name)
        return name

    @field_validator("compare")
    @classmethod
    def _compared_known(cls, names: list[str]) -> list[str]:
        for name in names:
            bayes_model(name)
        if len(set(names)) < len(names):
            raise ValueError(f"lists a model twice: {', '.join(names)}")
        return names

    @property
    def compared_models(self) -> list[str]:
        """The models fitted for every analysis: ``model`` first, then the others of ``compare``."""
        return [self.model, *(name for name in self.compare if name != self.model)]

    def model_settings(self, model: str | None = None) -> PweSettings:
        """The settings of ``model`` (default ``self.model``): intervals, priors and what the model fixes."""
        shared = {name: getattr(self, name) for name in PweBaseSettings.model_fields}
        return PweSettings(**shared).model_copy(update=dict(bayes_model(model or self.model).settings_update))

    def sampler_settings(self) -> SamplerSettings:
        """The sampler's settings (sampler, draws, tune, chains, seed, target acceptance)."""
        return SamplerSettings(**{name: getattr(self, name) for name in SamplerSettings.model_fields})
