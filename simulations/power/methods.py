"""Analysis methods of a power study, as plug-ins with one interface, and the analytic events formula.

Every method estimates one log hazard ratio per replicate with a standard error, a ``1 - alpha`` interval and a
decision (``reject``: the cohort confirms the biomarker as predictive). ``truth`` is the value the estimate is scored
against. A replicate the method cannot analyse (monotone likelihood - a covariate separating the events, flagged by
:func:`~tmesurv.models.cox.batched.fit_cox_batch` -, a group without patients, no events) is ``failed``: NaN estimate
and no rejection; a replicate with an estimate it does not vouch for (a Cox fit that did not converge, a Bayesian fit
that :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe` does not call converged: R-hat, ESS, BFMI, divergences) is
``flagged``. Counts of both are reported, never dropped.

A method is a plug-in: a class with the members of :class:`Method` (``name``, ``cost``, ``threads``, ``applies_to``,
``truth``, ``analyse``), listed in :func:`build_methods` and named in ``study.MethodName`` (the study file's schema). It
needs no error handling of its own: the harness (:mod:`~tmesurv.simulations.power.chunks`) keeps a replicate that
raises as failed, with its message. In a single-arm design any method's power is power to detect a prognostic effect
(the ``estimand`` of :mod:`~tmesurv.simulations.power.summary`).

Methods and the designs they apply to (NaN for the others):

``cox_interaction`` (randomized)
    Cox model ``arm + positive + arm:positive`` on the true positivity indicator (a pre-specified cut-point);
    two-sided Wald test of the interaction. Estimand: ``log interaction_hr``. The model assumes proportional
    hazards for the arm, which a cure plateau breaks; with a prognostic biomarker the estimate is then biased.
``cox_interaction_stratified`` (randomized)
    The same interaction with a baseline per arm: ``strata(arm) + positive + arm:positive``. Its partial
    likelihood is the product of the two arms', so the estimate is the difference of the within-arm log HRs of
    positivity (treated minus control) and its variance the sum of theirs. Estimand: ``log interaction_hr``.
``median_split`` (randomized, single-arm) - the paper's approach
    The biomarker split at the cohort median (high = strictly above; a binary biomarker is its own split), and a
    Cox model of high vs low within each arm. Randomized: the estimate is the difference of the within-arm log HRs
    (the interaction on the median-split scale), scored against ``log interaction_hr`` - so it shows the
    attenuation when the median is not the true cut-point -, and ``reject`` is the paper's reading: significant
    within the treated arm (two-sided P < alpha) and not within the control arm. Single-arm: the within-arm log
    HR of the treated arm, scored against ``log(prognostic_hr * interaction_hr)``; ``reject``: P < alpha.
``bayes_interaction`` (randomized)
    The Bayesian piecewise-exponential model (:func:`~tmesurv.models.pwe.fit.fit_pwe`, nutpie on the hand-coded
    density, nothing compiled per replicate) with ``arm, positive, arm:positive``; estimate and ``se`` are the posterior
    mean and sd of the interaction's log HR, the interval its equal-tailed ``1 - alpha`` credible interval, and
    ``reject`` is ``P(interaction HR < 1) > threshold`` - one-sided: with threshold 0.975 it matches the lower tail of a
    two-sided 5% test, so its type I error is about 0.025. Estimand: ``log interaction_hr``.
``bayes_cure_interaction`` (randomized)
    The Bayesian mixture-cure PWE model (:func:`~tmesurv.models.pwe.cure.fit.fit_cure`, hand-coded density) with
    ``arm, positive, arm:positive`` in both the cure fraction (logistic) and the uncured's hazard; estimate and ``se``
    are the posterior mean and sd of the interaction's log odds ratio of cure, and ``reject`` is ``P(interaction OR of
    cure > 1) > threshold``. Estimand: the interaction on the logit of the cure fraction that the cohort model implies,
    ``logit pi_T+ - logit pi_T- - logit pi_C+ + logit pi_C-`` with ``pi_a+ = pi_a ** exp(eta)`` (a cured fraction
    ``pi_a`` raised to the power of the positive patients' relative hazard, :func:`cure_logit_interaction`).

Analytic events for the Cox interaction test with binary treatment and biomarker, independent of each other (as
randomization makes them), allocation ``p_t`` and prevalence ``p_b`` (Peterson & George 1993; Schmoor, Sauerbrei &
Schumacher 2000, as implemented in R's ``powerSurvEpi::ssizeEpiInt``): the information on the interaction is about
``D p_t(1-p_t) p_b(1-p_b)`` with ``D`` events (the sum of ``1 / D_cell`` over the four arm x biomarker cells, when
every cell has events in proportion to its size), so

    D = (z_{1-alpha/2} + z_{1-beta})^2 / (log(HR_int)^2 p_t (1-p_t) p_b (1-p_b)).

It needs the events to spread over the cells as the patients do (small effects, or no censoring); a cure fraction
that differs by arm concentrates the events and the formula then overstates the power.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np
import pandas as pd

from tmesurv.errors import InputError
from tmesurv.models.cox.batched import BatchCoxFit, fit_cox_batch
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.simulations.power.cohorts import CohortModel, ValidationBatch
from tmesurv.simulations.power.normal import normal_cdf, normal_quantile
from tmesurv.simulations.power.study import BayesMethodSpec, Design, MethodName, StudySpec


@dataclass(frozen=True)
class MethodResult:
    """One method's answer for every replicate of a batch, ``(replicates,)`` arrays.

    Attributes
    ----------
    estimate, se, lower, upper
        Log hazard ratio, its standard error and ``1 - alpha`` interval (NaN when failed).
    reject
        The cohort confirms the biomarker as predictive.
    failed
        No estimate (see the module docstring).
    flagged
        An estimate the method does not vouch for (not converged).
    """

    estimate: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    reject: np.ndarray
    failed: np.ndarray
    flagged: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by name (to persist)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


FIELDS = tuple(field.name for field in fields(MethodResult))


class Method(Protocol):
    """An analysis method of a power study (a plug-in: a class with these members, listed in :func:`build_methods`).

    ``analyse`` may raise: the harness (:mod:`~tmesurv.simulations.power.chunks`) then analyses the batch again one
    replicate at a time and records each replicate that raises as failed, with its message.
    """

    name: str
    cost: float
    """Approximate single-core seconds to analyse one replicate of 1,000 patients (decides whether a study is small
    enough to run without a Dask cluster; see :mod:`~tmesurv.simulations.power.execution`)."""
    threads: bool
    """Whether chunks may be analysed in parallel threads of one process: True for methods that are numpy array
    operations only (thread-safe, and numpy releases the GIL while it computes), False for a sampler."""

    def applies_to(self, design: Design) -> bool:
        """Whether the method can analyse cohorts of this design."""
        ...

    def truth(self, model: CohortModel) -> float:
        """The value of the method's estimand under the cohort model."""
        ...

    def analyse(self, batch: ValidationBatch, alpha: float) -> MethodResult:
        """Estimate, interval and decision for every replicate of the batch."""
        ...


class CoxInteraction:
    """Cox interaction ``arm + positive + arm:positive``; Wald test of the interaction."""

    name = "cox_interaction"
    cost = 0.002
    threads = True

    def applies_to(self, design: Design) -> bool:
        """Randomized cohorts only."""
        return design == "randomized"

    def truth(self, model: CohortModel) -> float:
        """``log interaction_hr``."""
        return model.interaction_log_hr

    def analyse(self, batch: ValidationBatch, alpha: float) -> MethodResult:
        """Fit all replicates at once."""
        arm, positive = batch.treated.astype(float), batch.positive.astype(float)
        fit = fit_cox_batch(batch.time, batch.event, np.stack([arm, positive, arm * positive], axis=-1))
        coef, se = fit.coef[:, 2], fit.se[:, 2]
        return _wald_result(coef, se, alpha, two_sided_p(coef, se) < alpha, flagged=~fit.converged)


class CoxInteractionStratified:
    """The interaction with a baseline per arm: difference of the within-arm log HRs of positivity."""

    name = "cox_interaction_stratified"
    cost = 0.001
    threads = True

    def applies_to(self, design: Design) -> bool:
        """Randomized cohorts only."""
        return design == "randomized"

    def truth(self, model: CohortModel) -> float:
        """``log interaction_hr``."""
        return model.interaction_log_hr

    def analyse(self, batch: ValidationBatch, alpha: float) -> MethodResult:
        """Two within-arm fits of all replicates."""
        treated, control = (within_arm_fit(batch, batch.positive, arm) for arm in (True, False))
        coef, se = _difference(treated, control)
        flagged = ~(treated.converged & control.converged)
        return _wald_result(coef, se, alpha, two_sided_p(coef, se) < alpha, flagged=flagged)


class MedianSplit:
    """The paper's approach: within-arm Cox of high vs low at the cohort median."""

    name = "median_split"
    cost = 0.001
    threads = True

    def applies_to(self, design: Design) -> bool:
        """Randomized and single-arm cohorts."""
        return True

    def truth(self, model: CohortModel) -> float:
        """``log interaction_hr``; single-arm: the treated arm's ``log(prognostic_hr * interaction_hr)``."""
        if model.single_arm:
            return model.prognostic_log_hr + model.interaction_log_hr
        return model.interaction_log_hr

    def analyse(self, batch: ValidationBatch, alpha: float) -> MethodResult:
        """Within-arm fits; the paper's decision in a randomized cohort."""
        high = median_split(batch.marker) if batch.model.continuous else batch.positive
        treated = within_arm_fit(batch, high, True)
        p_treated = two_sided_p(treated.coef[:, 0], treated.se[:, 0])
        if batch.model.single_arm:
            coef, se = treated.coef[:, 0], treated.se[:, 0]
            return _wald_result(coef, se, alpha, p_treated < alpha, flagged=~treated.converged)
        control = within_arm_fit(batch, high, False)
        coef, se = _difference(treated, control)
        p_control = two_sided_p(control.coef[:, 0], control.se[:, 0])
        paper = (p_treated < alpha) & (p_control >= alpha)  # NaN compares False: a failed fit never confirms
        return _wald_result(coef, se, alpha, paper, flagged=~(treated.converged & control.converged))


class BayesInteraction:
    """Bayesian PWE interaction; confirm when ``P(interaction HR < 1) > threshold``."""

    name = "bayes_interaction"
    cost = 3.0
    threads = False

    def __init__(self, settings: BayesMethodSpec):
        self.settings = settings

    def applies_to(self, design: Design) -> bool:
        """Randomized cohorts only."""
        return design == "randomized"

    def truth(self, model: CohortModel) -> float:
        """``log interaction_hr``."""
        return model.interaction_log_hr

    def analyse(self, batch: ValidationBatch, alpha: float) -> MethodResult:
        """One sampler run per replicate, each seeded from the replicate's own stream."""
        with warnings.catch_warnings():
            # PyTensor's note that it runs without BLAS is about the install, not the results (as in tmesurv.cli)
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
            rows = [self._fit(batch, index, alpha) for index in range(len(batch))]
        columns = np.array(rows, dtype=float).T
        estimate, se, lower, upper, probability, converged = columns
        failed = np.isnan(estimate)
        return MethodResult(
            estimate=estimate,
            se=se,
            lower=lower,
            upper=upper,
            reject=~failed & (probability > self.settings.threshold),
            failed=failed,
            flagged=~failed & (converged == 0),
        )

    def _fit(self, batch: ValidationBatch, index: int, alpha: float) -> tuple[float, ...]:
        """Mean, sd, interval, P(coef < 0) and convergence (1/0) of the interaction; NaN when it cannot be fitted."""
        from tmesurv.models.pwe.diagnostics import summarize_pwe
        from tmesurv.models.pwe.fit import fit_pwe

        arm, positive = batch.treated[index].astype(float), batch.positive[index].astype(float)
        design = pd.DataFrame({"arm": arm, "positive": positive, "arm_positive": arm * positive})
        spec = self.settings
        model = PweSettings(intervals=spec.intervals, priors=spec.priors)
        sampler = SamplerSettings(
            draws=spec.draws, tune=spec.tune, chains=spec.chains, seed=int(batch.sampler_seeds[index])
        )
        time, event = batch.time[index], batch.event[index].astype(float)
        try:
            idata = fit_pwe(time, event, design, model, sampler, log_likelihood=False)
        except InputError:  # no events, or a constant column (no positive patients in an arm)
            return (math.nan,) * 6
        draws = idata.posterior["coef"].sel(term="arm_positive").to_numpy().ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # R-hat of constant draws
            converged = bool(summarize_pwe(idata).set_index("term").loc["arm_positive", "converged"])
        lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return draws.mean(), draws.std(ddof=1), lower, upper, (draws < 0).mean(), float(converged)


class BayesCureInteraction(BayesInteraction):
    """Bayesian mixture-cure interaction on the cure fraction; confirm when ``P(interaction OR > 1) > threshold``."""

    name = "bayes_cure_interaction"

    def truth(self, model: CohortModel) -> float:
        """The interaction on the logit of the cure fraction (:func:`cure_logit_interaction`)."""
        return cure_logit_interaction(model)

    def _fit(self, batch: ValidationBatch, index: int, alpha: float) -> tuple[float, ...]:
        """Mean, sd, interval, P(log OR > 0) and convergence (1/0) of the cure interaction; NaN when not fitted.

        The fifth value is the probability of the confirming direction, which ``analyse`` holds against the threshold.
        """
        from tmesurv.models.pwe.cure.fit import fit_cure
        from tmesurv.models.pwe.cure.summary import summarize_cure

        arm, positive = batch.treated[index].astype(float), batch.positive[index].astype(float)
        design = pd.DataFrame({"arm": arm, "positive": positive, "arm_positive": arm * positive})
        spec = self.settings
        model = PweSettings(intervals=spec.intervals, priors=spec.priors)
        sampler = SamplerSettings(
            draws=spec.draws, tune=spec.tune, chains=spec.chains, seed=int(batch.sampler_seeds[index])
        )
        try:
            idata = fit_cure(batch.time[index], batch.event[index].astype(float), design, model, sampler)
        except InputError:  # no events, or a constant column (no positive patients in an arm)
            return (math.nan,) * 6
        draws = idata.posterior["cure_coef"].sel(term="arm_positive").to_numpy().ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # R-hat of constant draws
            converged = bool(summarize_cure(idata).set_index("term").loc["cure:arm_positive", "converged"])
        lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return draws.mean(), draws.std(ddof=1), lower, upper, (draws > 0).mean(), float(converged)


def cure_logit_interaction(model: CohortModel) -> float:
    """The arm x positivity interaction on the logit of the cure fraction implied by the cohort model.

    A cured fraction ``pi_a`` of arm ``a`` becomes ``pi_a ** exp(eta)`` for positive patients (``S(t | x) =
    S_arm(t) ** exp(eta)`` at ``t = inf``), ``eta`` the log prognostic HR in the control arm and that plus the
    interaction's in the treated arm. NaN when an arm has no cured fraction.
    """
    logit = lambda p: math.log(p / (1 - p)) if 0 < p < 1 else math.nan  # noqa: E731
    treated, control = model.treated_hazard.cure_fraction, model.control_hazard.cure_fraction
    treated_positive = treated ** math.exp(model.prognostic_log_hr + model.interaction_log_hr)
    control_positive = control ** math.exp(model.prognostic_log_hr)
    return logit(treated_positive) - logit(treated) - logit(control_positive) + logit(control)


def build_methods(spec: StudySpec) -> dict[MethodName, Method]:
    """The study's methods by name, in the study's order."""
    known: dict[str, Method] = {
        "cox_interaction": CoxInteraction(),
        "cox_interaction_stratified": CoxInteractionStratified(),
        "median_split": MedianSplit(),
        "bayes_interaction": BayesInteraction(spec.bayes),
        "bayes_cure_interaction": BayesCureInteraction(spec.bayes),
    }
    return {name: known[name] for name in spec.methods}


def median_split(marker: np.ndarray) -> np.ndarray:
    """``(replicates, n)`` True strictly above each replicate's median."""
    return marker > np.median(marker, axis=1, keepdims=True)


def within_arm_fit(batch: ValidationBatch, covariate: np.ndarray, treated: bool) -> BatchCoxFit:
    """Cox fit of one binary covariate within one arm, every replicate at once."""
    columns = batch.arm(treated)
    rows = np.arange(len(batch))[:, None]
    x = covariate[rows, columns].astype(float)
    return fit_cox_batch(batch.time[rows, columns], batch.event[rows, columns], x)


def two_sided_p(coef: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Two-sided Wald P-values (NaN where the estimate is NaN)."""
    return 2 * normal_cdf(-np.abs(coef / se))


def _difference(treated: BatchCoxFit, control: BatchCoxFit) -> tuple[np.ndarray, np.ndarray]:
    """Treated minus control log HR and its standard error (independent arms)."""
    coef = treated.coef[:, 0] - control.coef[:, 0]
    return coef, np.hypot(treated.se[:, 0], control.se[:, 0])


def _wald_result(
    coef: np.ndarray, se: np.ndarray, alpha: float, reject: np.ndarray, flagged: np.ndarray
) -> MethodResult:
    z = normal_quantile(1 - alpha / 2)
    failed = ~np.isfinite(coef)
    return MethodResult(
        estimate=coef,
        se=se,
        lower=coef - z * se,
        upper=coef + z * se,
        reject=reject & ~failed,
        failed=failed,
        flagged=flagged & ~failed,
    )


def interaction_information(prevalence: float, allocation: float = 0.5) -> float:
    """Information on the log interaction HR per event: ``p_t (1 - p_t) p_b (1 - p_b)``."""
    return allocation * (1 - allocation) * prevalence * (1 - prevalence)


def required_events(
    interaction_hr: float, prevalence: float, allocation: float = 0.5, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Events for a two-sided Cox interaction test to have the given power (see the module docstring).

    Parameters
    ----------
    interaction_hr
        The interaction hazard ratio to detect (not 1).
    prevalence, allocation
        Share of biomarker-positive patients, and of treated patients.
    alpha, power
        Two-sided level and wanted power.

    Returns
    -------
    float
        ``(z_{1-alpha/2} + z_{power})^2 / (log(interaction_hr)^2 p_t (1-p_t) p_b (1-p_b))``; round it up.
    """
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    return z**2 / (math.log(interaction_hr) ** 2 * interaction_information(prevalence, allocation))


def analytic_power(
    events: np.ndarray | float, interaction_hr: float, prevalence: float, allocation: float = 0.5, alpha: float = 0.05
) -> np.ndarray:
    """Power of the two-sided Cox interaction Wald test with ``events`` events (both tails; ``alpha`` at HR 1).

    Parameters
    ----------
    events
        Event counts.
    interaction_hr, prevalence, allocation, alpha
        As for :func:`required_events`.

    Returns
    -------
    numpy.ndarray
        ``Phi(delta - z) + Phi(-delta - z)`` with ``delta = |log HR| sqrt(D p_t (1-p_t) p_b (1-p_b))``.
    """
    z = normal_quantile(1 - alpha / 2)
    delta = abs(math.log(interaction_hr)) * np.sqrt(
        np.asarray(events, dtype=float) * interaction_information(prevalence, allocation)
    )
    return normal_cdf(delta - z) + normal_cdf(-delta - z)
