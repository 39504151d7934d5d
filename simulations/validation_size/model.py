"""The model under validation, the target population, and validation cohorts simulated from both.

Model. A Cox fit of the validation model (:class:`~tmesurv.models.prediction.cox.CoxModel`): read from a saved
``validation_model.json``, or fitted by :func:`~tmesurv.models.prediction.cox.fit_validation_model` - exactly as
``tmesurv cox`` fits it - on a development trial simulated from the scenario (replicate 0 of the study's seed).

Population. The patients of ``population_trials`` further trials of the scenario (replicates 1, 2, ...) with every
term of the model known, in the model's arm(s): their terms and arm. Or, with ``population.file``, ``population.size``
patients resampled from a reference cohort by a smoothed bootstrap
(:mod:`~tmesurv.simulations.validation_size.reference`), with the cohort's arms or, without an arm column, arms
allocated at random in the scenario's ratio. A validation cohort of ``n`` draws ``n`` of them at random with
replacement (a finite population standing in for the target one; ~10,000 patients by default).

Outcomes come from the model, optionally miscalibrated: patient i's true cumulative hazard is
``k H0(t) exp(b lp_i)`` with ``H0`` the model's Breslow baseline (a step function, flat after the last development
event: later patients are event-free), ``lp_i`` its centred linear predictor, ``b`` the grid's ``calibration_slope``
(the Cox regression of the outcome on ``lp`` then estimates ``b``) and ``k`` solved so that the population's risk by
the horizon over its mean predicted risk is the grid's ``oe``. Event times invert the step function (an event falls on
a development event time, so ties occur as in the development data). Censoring is the scenario's: entry uniform over
accrual, administrative censoring ``follow_up`` months after the last entry, exponential dropout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize

from tmesurv.errors import InputError
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.prediction.cox import CoxModel, fit_validation_model
from tmesurv.models.prediction.info import RISK_FLOOR
from tmesurv.models.prediction.settings import ValidationModelPlan, ValidationModelSpec
from tmesurv.models.prediction.storage import read_validation_model
from tmesurv.simulations.trial import simulate_trial, simulate_trials
from tmesurv.simulations.validation_size.reference import read_reference_cohort, smoothed_bootstrap
from tmesurv.simulations.validation_size.study import Setting, ValidationSizeStudy

ENDPOINT_EVENT = "{}_event"
ENDPOINT_TIME = "{}_time"
POPULATION_KEY = 2**31 - 1
"""Spawn key of the reference population's resampling stream (settings use their index)."""


@dataclass(frozen=True)
class Population:
    """The target population: ``(N,)`` treated indicators and term values, the model's ``(N,)`` lp, and its origin."""

    treated: np.ndarray
    terms: dict[str, np.ndarray]
    lp: np.ndarray
    description: str

    def __len__(self) -> int:
        return self.treated.size


@dataclass(frozen=True)
class ValidationCohorts:
    """Replicate validation cohorts of one setting, ``(R, n)`` arrays, with the model's predictions.

    Attributes
    ----------
    time, event
        Follow-up (months) and event indicator (1 = event).
    treated
        True in the treated arm.
    lp
        The model's linear predictor.
    risk, risk_treated, risk_control
        The model's predicted risk by the horizon; as if treated and as if control (an interaction model; else None).
    rows
        Each patient's position in the population (their terms are ``population.terms[term][rows]``).
    """

    time: np.ndarray
    event: np.ndarray
    treated: np.ndarray
    lp: np.ndarray
    risk: np.ndarray
    risk_treated: np.ndarray | None
    risk_control: np.ndarray | None
    rows: np.ndarray


def load_model(study: ValidationSizeStudy) -> CoxModel:
    """The study's model: its saved file, or a fit on the development trial simulated from the scenario.

    Raises
    ------
    InputError
        If the file is not a validation model, or the development fit fails (the message says why).
    """
    if study.model_file is not None:
        return read_validation_model(Path(study.model_file))
    from tmesurv.cohort import Cohort

    source = study.spec.model
    spec = ValidationModelSpec(terms=source.terms, interaction=source.interaction, arm=source.arm)
    _require_terms(study, spec)
    frame = simulate_trial(study.scenario, study.spec.seed, 0).to_frame()
    endpoint = study.spec.endpoint
    arms = study.scenario.arms
    cohort = Cohort.from_frame(
        frame,
        id="subject_id",
        treated=arms.treated_label,
        control=arms.control_label,
        time=ENDPOINT_TIME.format(endpoint),
        event=ENDPOINT_EVENT.format(endpoint),
        endpoint=endpoint,
        biomarkers=list(spec.terms),
    )
    plan = ValidationModelPlan(spec=spec, endpoint=endpoint, horizons=(study.spec.horizon,))
    model, _, problem = fit_validation_model(cohort, plan)
    if model is None:
        raise InputError(f"study file '{study.path}': 'model': {problem}")
    return model


def linear_predictor(model: CoxModel, terms: dict[str, np.ndarray], treated: np.ndarray) -> np.ndarray:
    """The model's centred linear predictor for arrays of any shape (as ``CoxModel.linear_predictor``, batched)."""
    spec = model.info.spec
    columns = {term: np.asarray(terms[term], dtype=float) for term in spec.terms}
    if spec.interaction is not None:
        arm = np.asarray(treated, dtype=float)
        columns[ARM] = arm
        columns[interaction_term(spec.interaction)] = arm * columns[spec.interaction]
    lp = np.zeros(np.shape(treated))
    for column, coef, centre in zip(model.info.design_terms, model.coef, model.centre, strict=True):
        lp = lp + (columns[column] - centre) * coef
    return lp


def predicted_risk(model: CoxModel, lp: np.ndarray, horizon: float) -> np.ndarray:
    """``1 - S0(horizon)^exp(lp)``, kept in ``[RISK_FLOOR, 1 - RISK_FLOOR]`` (as ``CoxModel.risk``)."""
    hazard = np.exp(lp) * model.cumulative_baseline([horizon])[0]
    return np.clip(-np.expm1(-hazard), RISK_FLOOR, 1 - RISK_FLOOR)


def build_population(study: ValidationSizeStudy, model: CoxModel) -> Population:
    """The target population (see the module docstring).

    Raises
    ------
    InputError
        If a term is not a numeric scenario column, or no patient has every term.
    """
    spec = model.info.spec
    if study.spec.population is not None:
        return _reference_population(study, model)
    _require_terms(study, spec)
    trials = simulate_trials(study.scenario, study.spec.seed, range(1, 1 + study.spec.population_trials))
    treated = trials.treated.ravel()
    terms = {term: trials.numeric[term].ravel() for term in spec.terms}
    keep = np.logical_and.reduce([np.isfinite(values) for values in terms.values()])
    if spec.arm != "all":
        keep &= treated == (spec.arm == "treated")
    if not keep.any():
        raise InputError(f"study file '{study.path}': no simulated patient has every term ({', '.join(spec.terms)})")
    terms = {term: values[keep] for term, values in terms.items()}
    description = f"scenario {study.scenario.name}: {int(keep.sum())} patients of {study.spec.population_trials} trials"
    return Population(treated[keep], terms, linear_predictor(model, terms, treated[keep]), description)


def _reference_population(study: ValidationSizeStudy, model: CoxModel) -> Population:
    """``population.size`` patients resampled from the reference cohort (see the module docstring)."""
    source, spec = study.spec.population, model.info.spec
    reference = read_reference_cohort(Path(study.population_file), list(spec.terms), source.arm, source.treated)
    size = source.size
    rng = np.random.default_rng(np.random.SeedSequence(study.spec.seed, spawn_key=(POPULATION_KEY,)))
    rows = rng.integers(0, reference.terms[spec.terms[0]].size, size)
    terms = {}
    for term, values in reference.terms.items():  # the same patients for every term, each term its own noise
        terms[term] = smoothed_bootstrap(values, rows, rng.standard_normal(size))
    if reference.treated is not None:
        treated = reference.treated[rows]
    elif spec.arm != "all":
        treated = np.full(size, spec.arm == "treated")  # a one-arm model's cohort is that arm's
    else:
        arms = study.scenario.arms
        treated = rng.random(size) < arms.treated / (arms.treated + arms.control)
    keep = np.ones(size, dtype=bool) if spec.arm == "all" else treated == (spec.arm == "treated")
    if not keep.any():
        raise InputError(f"{study.population_file}: no reference patient is in the model's arm ({spec.arm})")
    terms = {term: values[keep] for term, values in terms.items()}
    description = reference.describe(Path(study.population_file), int(keep.sum()))
    return Population(treated[keep], terms, linear_predictor(model, terms, treated[keep]), description)


def baseline_scale(model: CoxModel, population: Population, horizon: float, slope: float, oe: float) -> float:
    """``k`` such that the population's true risk by ``horizon`` over its mean predicted risk is ``oe``.

    Raises
    ------
    InputError
        If no ``k`` reaches that O/E (the true risk would have to exceed 1), or the baseline is 0 at the horizon.
    """
    h0 = model.cumulative_baseline([horizon])[0]
    expected = predicted_risk(model, population.lp, horizon).mean()
    scaled = np.exp(slope * population.lp) * h0
    target = oe * expected
    if h0 <= 0 or target >= 1:
        raise InputError(
            f"grid 'oe' = {oe:g} at horizon {horizon:g}: the observed risk would be {target:.3g}, which no "
            "population risk can reach; lower 'oe' or the horizon"
        )
    return optimize.brentq(lambda k: -np.expm1(-k * scaled).mean() - target, 1e-12, _upper(scaled, target), xtol=1e-14)


def _upper(scaled: np.ndarray, target: float) -> float:
    k = 1.0
    while -np.expm1(-k * scaled).mean() < target:
        k *= 2
        if k > 1e12:
            raise InputError(f"an observed risk of {target:.3g} needs an unbounded baseline hazard; lower 'oe'")
    return k


def simulate_cohorts(
    study: ValidationSizeStudy,
    model: CoxModel,
    population: Population,
    setting: Setting,
    replicates: range,
) -> ValidationCohorts:
    """The replicate cohorts of one setting; replicate r is the same whatever chunk it is simulated in."""
    horizon = study.spec.horizon
    scale = baseline_scale(model, population, horizon, setting.calibration_slope, setting.oe)
    n = setting.n
    uniforms = np.stack([_uniforms(study.spec.seed, setting.index, r, n) for r in replicates], axis=1)
    rows = np.minimum((uniforms[0] * len(population)).astype(np.int64), len(population) - 1)
    treated, lp = population.treated[rows], population.lp[rows]
    exposure = -np.log1p(-uniforms[1]) / (scale * np.exp(setting.calibration_slope * lp))
    position = np.searchsorted(model.baseline_hazard, exposure, side="left")
    times = np.concatenate([model.baseline_time, [np.inf]])
    event_time = times[position]
    accrual = study.scenario.accrual.months()[0]
    censor = accrual + study.follow_up - accrual * uniforms[2]
    rate = study.dropout_per_year / 12
    if rate > 0:
        censor = np.minimum(censor, -np.log1p(-uniforms[3]) / rate)
    event = event_time <= censor
    risk = predicted_risk(model, lp, horizon)
    counterfactual = _counterfactual(model, population, rows, horizon)
    time = np.minimum(event_time, censor)
    return ValidationCohorts(time, event.astype(float), treated, lp, risk, *counterfactual, rows=rows)


def _counterfactual(
    model: CoxModel, population: Population, rows: np.ndarray, horizon: float
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Predicted risk as if treated and as if control (a model with an arm interaction)."""
    if model.info.spec.interaction is None:
        return None, None
    terms = {term: values[rows] for term, values in population.terms.items()}
    ones = np.ones(rows.shape)
    return tuple(predicted_risk(model, linear_predictor(model, terms, arm), horizon) for arm in (ones, 0 * ones))


def _uniforms(seed: int, setting: int, replicate: int, n: int) -> np.ndarray:
    """Replicate ``replicate``'s ``(4, n)`` uniforms: patient draw, event, entry, dropout."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(setting, replicate))).random((4, n))


def _require_terms(study: ValidationSizeStudy, spec: ValidationModelSpec) -> None:
    names = simulate_trials(study.scenario, study.spec.seed, [0]).numeric
    missing = [term for term in spec.terms if term not in names]
    if missing:
        numeric = ", ".join(sorted(name for name in names if not name.endswith(("_time", "_event"))))
        raise InputError(
            f"study file '{study.path}': 'model': term(s) {', '.join(missing)} are not numeric columns of scenario "
            f"'{study.scenario.name}'; choose from {numeric}"
        )
