"""Methods section: paragraphs generated from the config in ``run.json``, and the software versions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata

from scipy.special import expit
from scipy.stats import norm

from tmesurv.config import combined_subgroup_name
from tmesurv.models.pwe.compare import CLEAR_ELPD_DIFFERENCE, CLEAR_SE_MULTIPLE
from tmesurv.models.pwe.cure.plateau import plateau_rule_text
from tmesurv.models.pwe.diagnostics import convergence_rule_text
from tmesurv.models.pwe.fit_check import misfit_rule_text
from tmesurv.models.pwe.registry import CURE, MODELS, PH, TIME_VARYING, bayes_model
from tmesurv.models.pwe.settings import PweAnalysisSettings, PwePriors
from tmesurv.models.pwe.shrinkage import shrinkage_prior_text
from tmesurv.models.pwe.survival import not_reached_rule_text
from tmesurv.models.pwe.time_varying import treatment_effect_text
from tmesurv.reports.results import Results

CONVERGENCE_RULE = convergence_rule_text()  # the rule of tmesurv.models.pwe.diagnostics.summarize_pwe, in words


Z_95 = float(norm.ppf(0.975))  # the half-width of a central 95% normal interval, in standard deviations


SOFTWARE = ("tmesurv", "lifelines", "pymc", "nutpie", "arviz", "numpy", "pandas", "scipy", "matplotlib")


NOT_INSTALLED = "not installed"


@dataclass(frozen=True)
class MethodsText:
    """Titled paragraphs of the methods section, and the installed software versions."""

    paragraphs: tuple[tuple[str, str], ...]
    software: tuple[tuple[str, str], ...]


def methods(config: Mapping, bayesian: bool, cox: bool = True, product: bool = False) -> MethodsText:
    """The methods paragraphs for a result folder.

    Parameters
    ----------
    config
        The analysis config as stored in ``run.json`` (``data``, ``analysis``, ``bayes``); may be empty.
    bayesian
        Whether the folder holds Bayesian results (adds the Bayesian paragraph).
    cox
        Whether the folder holds Kaplan-Meier and Cox results (adds their paragraphs).
    product
        Whether the folder holds the CAR T product analyses (adds their paragraph).

    Returns
    -------
    MethodsText
        The paragraphs, each ``(title, text)``, and ``(package, version)`` pairs.
    """
    data, analysis, bayes = (_section(config, key) for key in ("data", "analysis", "bayes"))
    paragraphs = [("Data and subgroups", data_text(data, analysis))]
    if cox:
        paragraphs += [("Kaplan-Meier", km_text(analysis)), ("Cox models", cox_text(data))]
    if product:
        paragraphs.append(("CAR T product and expansion", product_text(_section(config, "product"), data)))
    if bayesian:
        paragraphs.append(("Bayesian models", bayes_text(bayes)))
    if bayesian and CURE in {bayes.get("model"), *(bayes.get("compare") or [])}:
        paragraphs.append(("Mixture-cure model", cure_text(bayes)))
    if bayesian and bayes.get("screen"):
        paragraphs.append(("Interaction screen", screen_text(bayes)))
    return MethodsText(tuple((title, text) for title, text in paragraphs if text), software_versions())


def data_text(data: Mapping, analysis: Mapping) -> str:
    """Endpoint, time unit, biomarkers, cut-points, combined subgroups and covariate subgroups."""
    sentences = []
    endpoint = analysis.get("endpoint")
    if endpoint:
        unit = data.get("time_unit", "months")
        sentences.append(f"Endpoint: {endpoint} (times read in {unit}, analysed in months).")
    arm = _section(data, "arm")
    if arm.get("treated") and arm.get("control"):
        sentences.append(f"Arms: {arm['treated']} (treated) vs {arm['control']} (control).")
    biomarkers = list(data.get("biomarkers") or [])
    if biomarkers:
        sentences.append(f"Biomarkers: {_listing(biomarkers)}.")
        sentences.append(_cutpoint_text(analysis))
    combined = [_combined_text(subgroup) for subgroup in analysis.get("combined_subgroups") or []]
    if combined:
        sentences.append(f"Combined subgroups (each against its complement): {_listing(combined)}.")
    covariates = list(analysis.get("subgroup_covariates") or [])
    if covariates:
        sentences.append(f"Treatment effect also estimated within the levels of: {_listing(covariates)}.")
    strata = list(data.get("strata") or [])
    if strata:
        sentences.append(f"Stratification factors: {_listing(strata)}.")
    return " ".join(sentence for sentence in sentences if sentence)


def km_text(analysis: Mapping) -> str:
    """Kaplan-Meier estimation, its confidence intervals and landmarks."""
    scale = analysis.get("km_ci", "log-log")
    landmarks = [f"{float(time):g}" for time in analysis.get("landmarks") or []]
    text = (
        "Survival per arm (and per arm within each subgroup) was estimated by Kaplan-Meier, with pointwise 95% "
        f"confidence intervals from Greenwood's variance on the {scale} scale; medians and their intervals as in "
        "R's quantile.survfit."
    )
    if landmarks:
        text += f" Landmark survival at {_listing(landmarks)} months."
    return text + " Log-rank tests compare the arms overall and within each subgroup."


def cox_text(data: Mapping) -> str:
    """Cox models, ties, confidence intervals and interaction tests."""
    strata = list(data.get("strata") or [])
    stratified = f", and stratified by {_listing(strata)}" if strata else ""
    return (
        "Hazard ratios from Cox proportional-hazards models (Efron method for ties; fitted by tmesurv with the "
        "Newton-Raphson iteration of R's survival::coxph, whose estimates it equals) with 95% "
        f"Wald confidence intervals and Wald P values: the treatment effect overall{stratified}; per biomarker the "
        "model arm + biomarker + arm x biomarker on the biomarker's own scale; and the treatment effect within every "
        "subgroup. Treatment-by-biomarker interactions were tested by Wald and by likelihood-ratio (LRT) tests, for "
        "the continuous biomarker and for the levels of its subgroups. P values are not adjusted for multiplicity."
    )


def product_text(product: Mapping, data: Mapping) -> str:
    """CAR T levels, the associations with outcomes and the product x biomarker subgroups (treated arm)."""
    sentences = ["Treated arm only."]
    if data.get("pk"):
        sentences.append(
            "From each patient's CAR T levels on days 0-28: the peak, the first day at the peak, and AUC(0-28) by "
            "the linear trapezoid with the day-28 level interpolated (a missing day-0 sample taken as 0; a series "
            "ending before day 28 has no AUC)."
        )
    attributes, outcomes = list(product.get("attributes") or []), list(product.get("outcomes") or {})
    if attributes and outcomes:
        sentences.append(
            f"Each of {_listing(attributes)} was compared between patients with and without {_listing(outcomes)} "
            "by the Wilcoxon rank-sum test (R's exact/normal rule) and by univariable logistic regression (odds ratio "
            "per interquartile range, Wald 95% CI); Benjamini-Hochberg q over the table, per test."
        )
    pairs = [f"{pair['attribute']} x {pair['biomarker']}" for pair in product.get("subgroups") or []]
    if pairs:
        sentences.append(
            f"Subgroups {_listing(pairs)}: the attribute split at its treated-arm median and the biomarker at its "
            "analysis cut-point; Kaplan-Meier, log-rank test across the four groups, and Cox hazard ratios against "
            "low/low."
        )
    return " ".join(sentences)


def bayes_text(bayes: Mapping) -> str:
    """Bayesian piecewise-exponential models: baseline, priors, sampler, draws and convergence rule."""
    priors = _section(bayes, "priors")
    baseline, walk_text = _baseline_text(bayes)
    sentences = [
        f"Bayesian piecewise-exponential models (PyMC): the baseline hazard is {baseline}, its logarithm {walk_text}.",
        _treatment_effect_text(bayes),
        _prior_text(priors),
        _sampler_text(bayes),
        _remedy_text(bayes),
        "Each hazard ratio is reported as exp(posterior mean log hazard ratio), the counterpart of the Cox "
        "exp(beta), with a 95% equal-tailed credible interval (CrI), and the posterior probability that the hazard "
        "ratio is below 1. The models are the Cox models' (treatment, arm x biomarker, treatment within each "
        "subgroup); posterior survival curves per arm, and spline treatment-HR curves where fitted, are the pointwise "
        "posterior median and 95% band.",
        f"A fit is reported as converged only with {CONVERGENCE_RULE}; other fits are flagged.",
        f"{not_reached_rule_text()}.",
        f"Each fit's posterior survival is checked against Kaplan-Meier per arm: {misfit_rule_text()}.",
        _comparison_text(bayes),
    ]
    biomarkers = bayes.get("biomarkers")
    if biomarkers:
        sentences.append(f"Interaction models and biomarker subgroups were fitted for {_listing(biomarkers)}.")
    return " ".join(sentence for sentence in sentences if sentence)


def _baseline_text(bayes: Mapping) -> tuple[str, str]:
    """The baseline hazard's intervals and the prior of its log's random walk, in words, as configured."""
    priors = _section(bayes, "priors")
    intervals = bayes.get("intervals")
    baseline = (
        f"constant within {intervals} intervals cut at quantiles of the event times"
        if intervals is not None
        else "piecewise constant between quantiles of the event times"
    )
    walk = priors.get("random_walk_sd")
    if walk is None:
        return baseline, "a Gaussian random walk"
    if priors.get("random_walk_sd_fixed"):
        return baseline, f"a Gaussian random walk with step sd fixed at {walk:g}"
    return baseline, f"a Gaussian random walk whose step sd has a gamma prior with mean {walk:g}"


def cure_text(bayes: Mapping) -> str:
    """The mixture-cure model as fitted: mixture, incidence, latency, their priors (from the config), identifiability.

    Prior values absent from ``bayes.priors`` are the defaults of
    :class:`~tmesurv.models.pwe.settings.PwePriors`; the 95% prior intervals follow from them.
    """
    defaults = PweAnalysisSettings().priors
    priors = _section(bayes, "priors")
    mean, sd, coef, latency = (
        float(priors.get(name, getattr(defaults, name)))
        for name in ("cure_intercept_mean", "cure_intercept_sd", "cure_coef_sd", "coef_sd")
    )
    fraction = [float(expit(mean + side * Z_95 * sd)) for side in (-1, 1)]
    odds = math.exp(Z_95 * coef)
    baseline, walk_text = _baseline_text(bayes)
    role = "the model of the tables (bayes.model)" if bayes.get("model") == CURE else "compared by PSIS-LOO"
    return " ".join(
        [
            f"The mixture-cure model ({role}): S(t | x) = \u03c0(x) + (1 \u2212 \u03c0(x)) S_u(t | x), a cured "
            "fraction \u03c0(x) that never has the event and the survival S_u of the uncured.",
            "Incidence: logit \u03c0(x) = \u03b1 + x \u00b7 \u03b3, x the model's standardised columns (arm in the "
            "treatment and subgroup models; arm, biomarker and arm \u00d7 biomarker in an interaction model), with "
            f"Normal({mean:g}, {sd:g}) on the logit of the cure fraction at the design's mean (a 95% prior interval "
            f"of {fraction[0]:.2f} to {fraction[1]:.2f} for the cure fraction) and Normal(0, {coef:g}) on each log "
            f"odds ratio of cure per standard deviation of its column (odds ratios between 1/{odds:.3g} and "
            f"{odds:.3g} with 95% prior probability).",
            "Latency: a piecewise-exponential proportional-hazards model of the uncured on the same columns, its "
            f"baseline hazard {baseline}, its logarithm {walk_text}, with Normal(0, {latency:g}) on each log hazard "
            "ratio among the uncured per standard deviation of its column.",
            "The cure fraction is identified only by follow-up beyond the last events, where the Kaplan-Meier curve "
            f"levels off: {plateau_rule_text()}. Reported: the cure fraction of each arm with its 95% CrI and their "
            "difference (bayes_cure.csv), and the odds ratios of cure (cure:<term>) and the hazard ratios among the "
            "uncured (latency:<term>): the rows of model cure in bayes.csv.",
        ]
    )


def screen_text(bayes: Mapping) -> str:
    """The interaction screen as fitted: one model, its prior on the interactions (from the config), its sampler.

    Values absent from the config are the defaults of :class:`~tmesurv.models.pwe.settings.PweAnalysisSettings`.
    """
    defaults = PweAnalysisSettings()
    given = {key: value for key, value in _section(bayes, "priors").items() if key in PwePriors.model_fields}
    priors = defaults.priors.model_copy(update=given)
    shrinkage = str(bayes.get("shrinkage", defaults.shrinkage))
    target = float(bayes.get("screen_target_accept", defaults.screen_target_accept))
    return (
        f"Interaction screen of {_listing(bayes['screen'])}: one proportional-hazards piecewise-exponential model "
        "holds the arm, every screened biomarker (standardised over the patients with all of them; the others are "
        f"left out and counted) and every arm x biomarker interaction, with Normal(0, {priors.coef_sd:g}) on the arm "
        "and the biomarkers' log hazard ratios and, on the interactions (the log ratio of treatment hazard ratios per "
        f"standard deviation of the biomarker), {shrinkage_prior_text(shrinkage, priors)}. The screen's first run "
        f"samples at a target acceptance of {target:g} (bayes.screen_target_accept), since a shrinkage prior's "
        "funnel needs smaller steps than the other fits."
    )


def _treatment_effect_text(bayes: Mapping) -> str:
    """The treatment effect of ``bayes.model`` as fitted (PH or time-varying; another model's description)."""
    defaults = PweAnalysisSettings()
    legacy = TIME_VARYING if bayes.get("time_varying") is True else defaults.model  # run.json of earlier versions
    model = str(bayes.get("model", legacy))
    if model not in (PH, TIME_VARYING):
        return f"Model ({model}): {bayes_model(model).description}." if model in MODELS else ""
    priors = _section(bayes, "priors")
    sd = priors.get("time_varying_sd", defaults.priors.time_varying_sd)
    return treatment_effect_text(model == TIME_VARYING, float(sd), int(bayes.get("intervals", defaults.intervals)))


def _remedy_text(bayes: Mapping) -> str:
    """How divergent fits were re-run (``bayes.divergence_reruns``)."""
    targets = bayes.get("divergence_reruns", PweAnalysisSettings().divergence_reruns)
    if not targets:
        return "Fits with divergent transitions were not re-run (bayes.divergence_reruns empty)."
    return (
        f"A fit with divergent transitions was re-run with the same seed at a target acceptance of "
        f"{', then '.join(f'{float(target):g}' for target in targets)} until a run had none; the reported run's target "
        "acceptance and number of re-runs are recorded (bayes.csv), and a fit still divergent is flagged."
    )


def _comparison_text(bayes: Mapping) -> str:
    """The models compared by PSIS-LOO (``bayes.model`` and ``bayes.compare``) and when one is preferred."""
    model = bayes.get("model", PH)
    compared = [model, *(name for name in bayes.get("compare") or [] if name != model)]
    if len(compared) < 2:
        return ""
    return (
        f"Every analysis was fitted with each of the models {_listing(compared)}, compared by PSIS-LOO (ArviZ): the "
        f"data are said to prefer a model when its expected log predictive density is ahead by at least "
        f"{CLEAR_ELPD_DIFFERENCE:g} and by at least {CLEAR_SE_MULTIPLE:g} standard errors of the difference, else "
        f"there is no clear preference; the tables come from bayes.model ({model}), and bayes.csv "
        "holds the terms of every compared model (column model)."
    )


def software_versions(packages: Iterable[str] = SOFTWARE) -> tuple[tuple[str, str], ...]:
    """``(package, version)`` of each installed package, :data:`NOT_INSTALLED` for a missing one."""
    return tuple((package, _version(package)) for package in packages)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _prior_text(priors: Mapping) -> str:
    parts = []
    if priors.get("coef_sd") is not None:
        parts.append(
            f"Normal(0, {priors['coef_sd']:g}) on each log hazard ratio per standard deviation of its design column"
        )
    if priors.get("baseline_sd") is not None:
        parts.append(f"Normal(crude log rate, {priors['baseline_sd']:g}) on the first log baseline hazard")
    return f"Priors: {'; '.join(parts)}." if parts else ""


def _sampler_text(bayes: Mapping) -> str:
    sampler = bayes.get("sampler")
    if sampler is None:
        return ""
    text = f"Sampler: {'nutpie (NUTS)' if sampler == 'nutpie' else 'PyMC NUTS'}"
    if all(bayes.get(key) is not None for key in ("chains", "draws", "tune")):
        text += f", {bayes['chains']} chains of {bayes['draws']} draws after {bayes['tune']} tuning steps"
    if bayes.get("seed") is not None:
        text += f", seed {bayes['seed']}"
    return text + "."


def _cutpoint_text(analysis: Mapping) -> str:
    default = analysis.get("cutpoint", "median")
    own = dict(analysis.get("cutpoints") or {})
    text = f"Subgroups: each continuous biomarker split {_cut_words(default)}"
    specific = [f"{name} {_cut_words(cut)}" for name, cut in own.items()]
    if specific:
        text += f", except {_listing(specific)}"
    return text + "; a two-level (0/1) biomarker is low (0) or high (1)."


def _cut_words(cut: object) -> str:
    if cut == "median":
        return "at the median (high: above it)"
    if cut == "quartiles":
        return "into quartiles (Q1 to Q4)"
    try:
        return f"at {float(cut):g} (high: above it)"
    except (TypeError, ValueError):
        return f"by {cut}"


def _combined_text(subgroup: object) -> str:
    return combined_subgroup_name(dict(subgroup)) if isinstance(subgroup, Mapping) else str(subgroup)


def _section(config: Mapping, key: str) -> Mapping:
    value = config.get(key) if isinstance(config, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _listing(items: Iterable[object]) -> str:
    return ", ".join(str(item) for item in items)


def methods_section(results: Results) -> MethodsText | None:
    """The methods paragraphs from run.json's config; None without run.json."""
    if results.run is None:
        return None
    frequentist = results.cox is not None or results.km is not None or results.km_curves is not None
    product = results.product_associations is not None or results.product_subgroups is not None
    return methods(results.run.config, bayesian=results.bayes is not None, cox=frequentist, product=product)
