"""The model that ``tmesurv validate`` scores on an external cohort: fit, save, load and predict.

It is the config's ``validation_model``: its ``terms`` (biomarkers and numeric covariates) and, with ``interaction``,
the arm and the arm x interaction term (``arm + terms + arm:<interaction>``, a treatment-benefit model), fitted on
the patients of its ``arm`` (all, treated or control). Two fits of it can be scored:

* **Cox** (:func:`fit_validation_model`): lifelines' Efron fit (:func:`tmesurv.models.cox.analyses.fitted_cox`) and the
  Breslow baseline cumulative hazard at the design means (lifelines' ``baseline_cumulative_hazard_``, R's
  ``basehaz(fit, centered = TRUE)`` with ``ctype = 1``). A patient's risk by t is ``1 - S0(t)^exp(lp)``, ``lp`` the
  linear predictor centred at the design means; after the last development event time ``S0`` stays flat (an
  extrapolation, flagged by the validation). Saved as ``validation_model.json`` (:func:`write_validation_model`).
* **Bayesian**: a piecewise-exponential fit of the same design by :func:`tmesurv.models.pwe.model.fit_pwe`, saved as
  ``validation_model_posterior.nc`` (:func:`fit_validation_posterior`, :func:`write_validation_posterior`).
  Predictions are posterior means: the risk is the mean over draws of ``1 - S(t)``, the linear predictor
  ``X . E[coef]``; the external log predictive density is ``sum_i log mean_s p(y_i | draw s)``
  (:meth:`PosteriorModel.log_predictive_density`, from :func:`~tmesurv.models.pwe.model.pwe_log_likelihood`).

What validation needs about the development cohort travels with either fit (:class:`Development`): per term its mean,
sd and quantiles (to harmonise an external cohort's biomarkers) and its values, without ids (for the case-mix
comparison); the follow-up (last time and reverse Kaplan-Meier median); and the first event time. A term derived in
development from a gene set (``data.derive.signatures``) is saved with the genes of its set that the development
panel had (:attr:`ModelInfo.gene_sets`), so that ``tmesurv validate --harmonise TERM=rederive`` can recompute it
from an external cohort's genes exactly as it was computed in development.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy.special import logsumexp

from tmesurv import __version__
from tmesurv.cohort import Cohort, Exclusion
from tmesurv.config import AnalysisConfig, BayesSpec, ValidationModelSpec
from tmesurv.errors import MAX_ROWS_SHOWN, InputError
from tmesurv.models.cox.analyses import fitted_cox
from tmesurv.models.cox.km import median_follow_up
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.outputs import write_atomically, write_text
from tmesurv.signatures import gene_sets as derived_gene_sets

if TYPE_CHECKING:  # arviz and the PWE model (PyMC) are imported where needed: tmesurv cox does not need them
    import arviz as az

MODEL_FILE = "validation_model.json"
POSTERIOR_FILE = "validation_model_posterior.nc"
FORMAT = "tmesurv-validation-model"
FORMAT_VERSION = 1
METADATA_ATTR = "tmesurv_validation_model"  # posterior attribute holding the model's metadata (JSON)
QUANTILE_PROBABILITIES = np.linspace(0.0, 1.0, 101)
RISK_FLOOR = 1e-12  # predicted risks are kept in [RISK_FLOOR, 1 - RISK_FLOOR]: log(-log(1 - risk)) stays finite
ANALYSIS = "validation_model"


@dataclass(frozen=True)
class TermDistribution:
    """One term's distribution in the development cohort: what harmonisation maps external values onto.

    Attributes
    ----------
    mean, sd
        Mean and sample standard deviation (``n - 1``).
    binary
        Whether the term only takes the values 0 and 1 (a two-level biomarker); such a term is not rescaled.
    quantiles
        Type-7 quantiles (R's default) at ``QUANTILE_PROBABILITIES`` (0, 0.01, ..., 1).
    """

    mean: float
    sd: float
    binary: bool
    quantiles: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> TermDistribution:
        """The distribution of observed ``values`` (no missing values)."""
        values = np.asarray(values, dtype=float)
        binary = bool(np.isin(values, (0.0, 1.0)).all())
        return cls(float(values.mean()), float(values.std(ddof=1)), binary, np.quantile(values, QUANTILE_PROBABILITIES))

    def to_json(self) -> dict:
        """Plain data for ``validation_model.json``."""
        return {"mean": self.mean, "sd": self.sd, "binary": self.binary, "quantiles": self.quantiles.tolist()}

    @classmethod
    def from_json(cls, data: Mapping) -> TermDistribution:
        """Read what :meth:`to_json` wrote."""
        return cls(float(data["mean"]), float(data["sd"]), bool(data["binary"]), np.asarray(data["quantiles"], float))


@dataclass(frozen=True)
class Development:
    """What validation needs to know about the development cohort.

    Attributes
    ----------
    n, events
        Patients and events the model was fitted on.
    follow_up_max
        Last follow-up time (months): predictions beyond it are extrapolations.
    follow_up_median
        Median follow-up by reverse Kaplan-Meier (NaN when not reached).
    first_event
        First event time: a Cox model predicts no risk before it.
    terms
        Distribution of every term (:class:`TermDistribution`).
    values
        The terms' values, one row per patient (no ids), for the case-mix comparison.
    """

    n: int
    events: int
    follow_up_max: float
    follow_up_median: float
    first_event: float
    terms: Mapping[str, TermDistribution]
    values: pd.DataFrame

    @classmethod
    def of(cls, time: np.ndarray, event: np.ndarray, values: pd.DataFrame) -> Development:
        """Summarise the development cohort's outcome and term ``values`` (one column per term)."""
        time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
        return cls(
            n=int(time.size),
            events=int(event.sum()),
            follow_up_max=float(time.max()),
            follow_up_median=float(median_follow_up(time, event)),
            first_event=float(time[event == 1].min()),
            terms={term: TermDistribution.of(values[term].to_numpy()) for term in values.columns},
            values=values.reset_index(drop=True),
        )

    def to_json(self) -> dict:
        """Plain data for ``validation_model.json`` (a median not reached becomes null)."""
        median = None if math.isnan(self.follow_up_median) else self.follow_up_median
        return {
            "n": self.n,
            "events": self.events,
            "follow_up_max": self.follow_up_max,
            "follow_up_median": median,
            "first_event": self.first_event,
            "terms": {term: distribution.to_json() for term, distribution in self.terms.items()},
            "values": {term: self.values[term].tolist() for term in self.values.columns},
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Development:
        """Read what :meth:`to_json` wrote."""
        median = data["follow_up_median"]
        return cls(
            n=int(data["n"]),
            events=int(data["events"]),
            follow_up_max=float(data["follow_up_max"]),
            follow_up_median=math.nan if median is None else float(median),
            first_event=float(data["first_event"]),
            terms={term: TermDistribution.from_json(value) for term, value in data["terms"].items()},
            values=pd.DataFrame({term: np.asarray(v, dtype=float) for term, v in data["values"].items()}),
        )


@dataclass(frozen=True)
class ModelInfo:
    """What every saved fit of the validation model carries besides its parameters.

    Attributes
    ----------
    spec
        The config's ``validation_model`` section.
    endpoint
        The endpoint it predicts.
    horizons
        Default prediction horizons (months): the development config's ``analysis.landmarks``.
    development
        The development cohort (:class:`Development`).
    config
        The development config as plain data.
    version
        The tmesurv version that fitted it.
    gene_sets
        Each term derived from a gene set in development (``data.derive.signatures``): the set's genes that were in
        the development expression panel, i.e. the genes its score was computed from.
    """

    spec: ValidationModelSpec
    endpoint: str
    horizons: tuple[float, ...]
    development: Development
    config: Mapping
    version: str
    gene_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def design_terms(self) -> list[str]:
        """The design columns: ``arm``, the terms, ``arm:<interaction>`` (without interaction: the terms)."""
        return design_columns(self.spec)

    @classmethod
    def of(cls, config: AnalysisConfig, development: Development, panel: pd.Index | None = None) -> ModelInfo:
        """The metadata of a fit of ``config.validation_model`` on ``development``.

        ``panel`` is the development expression matrix's genes (None without expression).
        """
        spec, analysis = config.validation_model, config.analysis
        dumped = config.model_dump(mode="json")
        sets = _term_gene_sets(config, panel)
        return cls(spec, analysis.endpoint, tuple(analysis.landmarks), development, dumped, __version__, sets)

    def header(self) -> dict:
        """Plain data of everything but the development cohort."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "endpoint": self.endpoint,
            "horizons": list(self.horizons),
            "config": dict(self.config),
            "tmesurv_version": self.version,
            "gene_sets": {term: list(genes) for term, genes in self.gene_sets.items()},
        }


def _term_gene_sets(config: AnalysisConfig, panel: pd.Index | None) -> dict[str, tuple[str, ...]]:
    """The model terms derived from a gene set, each with the set's genes in the development ``panel``."""
    if panel is None:
        return {}
    sets = derived_gene_sets(config.data.derive)
    terms = config.validation_model.terms
    return {term: tuple(gene for gene in sets[term] if gene in panel) for term in terms if term in sets}


def design_columns(spec: ValidationModelSpec) -> list[str]:
    """Names of the design columns of the validation model (see :func:`validation_design`)."""
    if spec.interaction is None:
        return list(spec.terms)
    return [ARM, *spec.terms, interaction_term(spec.interaction)]


def validation_design(values: pd.DataFrame, treated: np.ndarray, spec: ValidationModelSpec) -> pd.DataFrame:
    """The design matrix of the validation model.

    Parameters
    ----------
    values
        One numeric column per term, no missing values.
    treated
        ``(n,)`` 1 for the treated arm, 0 for control (used only by a model with an interaction).
    spec
        The model.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`design_columns`: ``arm`` (1 = treated), the terms, and ``arm:<interaction>``.
    """
    design = pd.DataFrame({term: values[term].to_numpy(dtype=float) for term in spec.terms})
    if spec.interaction is None:
        return design
    arm = np.asarray(treated, dtype=float)
    design.insert(0, ARM, arm)
    design[interaction_term(spec.interaction)] = arm * design[spec.interaction].to_numpy()
    return design[design_columns(spec)]


def model_patients(cohort: Cohort, spec: ValidationModelSpec, analysis: str) -> tuple[Cohort, list[Exclusion]]:
    """The patients a validation model applies to: its arm, with every term known and numeric.

    Parameters
    ----------
    cohort
        The cohort (development or external).
    spec
        The model.
    analysis
        Name carried into each :class:`~tmesurv.cohort.Exclusion`.

    Returns
    -------
    tuple[Cohort, list[Exclusion]]
        The patients, with the terms as float columns, and who was left out (other arm, missing term) and why.

    Raises
    ------
    InputError
        If a term is not a column of the cohort or has non-numeric values.
    """
    exclusions = []
    if spec.arm != "all":
        other = cohort.patients["arm"].to_numpy() != spec.arm
        if other.any():
            reason = f"not in the {spec.arm} arm the model is fitted on"
            exclusions.append(Exclusion(analysis, reason, tuple(cohort.patients.index[other])))
        cohort = cohort.subset(~other)
    cohort = replace(cohort, patients=_numeric_terms(cohort, spec.terms))
    complete, missing = cohort.complete_cases(list(spec.terms), analysis)
    return complete, exclusions + missing


def _numeric_terms(cohort: Cohort, terms: Sequence[str]) -> pd.DataFrame:
    """The patients with every term as floats; an error naming the column and patients for text values."""
    patients = cohort.patients.copy()
    for term in terms:
        if term not in patients.columns:
            raise InputError(
                f"file '{cohort.source}' has no column for the model term '{term}': list it in data.biomarkers or "
                "data.covariates of the config (under the same name as in the model)"
            )
        raw = patients[term]
        numeric = pd.to_numeric(raw, errors="coerce").astype(float)
        text = raw.notna().to_numpy() & numeric.isna().to_numpy()
        if text.any():
            examples = ", ".join(repr(value) for value in raw[text].astype(str).unique()[:3])
            raise InputError(
                f"file '{cohort.source}', column '{term}', {_describe_ids(list(raw.index[text]))}: the model term "
                f"must be numeric, found {examples}. Recode it (a two-level covariate as 0/1)."
            )
        patients[term] = numeric.to_numpy()
    return patients


@dataclass(frozen=True)
class CoxModel:
    """A Cox fit of the validation model (see the module docstring).

    Attributes
    ----------
    info
        Spec, endpoint, horizons, development cohort, config and version.
    coef, covariance
        ``(p,)`` log hazard ratios and their ``(p, p)`` covariance, in the order of ``info.design_terms``.
    centre
        ``(p,)`` design means (the baseline is at these values).
    baseline_time, baseline_hazard
        Distinct development event times and the Breslow baseline cumulative hazard just after each.
    """

    info: ModelInfo
    coef: np.ndarray
    covariance: np.ndarray
    centre: np.ndarray
    baseline_time: np.ndarray
    baseline_hazard: np.ndarray
    kind: ClassVar[str] = "cox"

    def linear_predictor(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(n,)`` linear predictor, centred at the development design means."""
        design = validation_design(values, treated, self.info.spec).to_numpy(dtype=float)
        return (design - self.centre) @ self.coef

    def cumulative_baseline(self, times: Sequence[float]) -> np.ndarray:
        """Breslow baseline cumulative hazard at ``times`` (0 before the first event, flat after the last)."""
        position = np.searchsorted(self.baseline_time, np.asarray(times, dtype=float), side="right")
        return np.concatenate([[0.0], self.baseline_hazard])[position]

    def risk(self, values: pd.DataFrame, treated: np.ndarray, times: Sequence[float]) -> np.ndarray:
        """``(n, T)`` predicted probability of an event by each of ``times``: ``1 - S0(t)^exp(lp)``.

        ``S0`` is the step function of R's ``survfit``; lifelines' ``predict_survival_function`` interpolates
        linearly between event times instead, and agrees at the event times.
        """
        hazard = np.exp(self.linear_predictor(values, treated))[:, None] * self.cumulative_baseline(times)
        return np.clip(-np.expm1(-hazard), RISK_FLOOR, 1 - RISK_FLOOR)

    def interaction_effect(self) -> tuple[float, float] | None:
        """Log hazard ratio of ``arm:<interaction>`` and its standard error; None without an interaction."""
        if self.info.spec.interaction is None:
            return None
        column = self.info.design_terms.index(interaction_term(self.info.spec.interaction))
        return float(self.coef[column]), float(math.sqrt(self.covariance[column, column]))

    def to_json(self) -> dict:
        """Everything in plain data, for ``validation_model.json``."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.kind,
            **self.info.header(),
            "design_terms": self.info.design_terms,
            "coef": self.coef.tolist(),
            "covariance": self.covariance.tolist(),
            "design_mean": self.centre.tolist(),
            "baseline": {"time": self.baseline_time.tolist(), "cumulative_hazard": self.baseline_hazard.tolist()},
            "development": self.info.development.to_json(),
        }


def fit_validation_model(cohort: Cohort, config: AnalysisConfig) -> tuple[CoxModel | None, list[Exclusion], str]:
    """Fit the config's ``validation_model`` by Cox regression on its patients.

    Parameters
    ----------
    cohort
        The development cohort.
    config
        The analysis config; its ``validation_model`` must be set.

    Returns
    -------
    tuple[CoxModel | None, list[Exclusion], str]
        The fit (None when it cannot be estimated), the patients left out and why, and a note saying why the fit is
        missing (empty when it is not).

    Raises
    ------
    InputError
        If a term is not numeric.
    """
    spec, endpoint = config.validation_model, config.analysis.endpoint
    patients, exclusions = model_patients(cohort, spec, ANALYSIS)
    time, event = patients.time(endpoint), patients.event(endpoint)
    values = patients.patients[list(spec.terms)]
    design = validation_design(values, patients.treated, spec)
    problem = _inestimable(design, event)
    if problem is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                fitter = fitted_cox(time, event, design)
        except (ConvergenceWarning, ConvergenceError) as warning:
            problem = f"the fit did not converge (monotone likelihood?): {str(warning).splitlines()[0]}"
    if problem is not None:
        return None, exclusions, f"validation model not fitted ({problem}); nothing saved for tmesurv validate"
    coef = fitter.params_[design.columns].to_numpy()
    centre = design.mean().to_numpy()
    baseline_time, baseline_hazard = breslow_baseline(time, event, (design.to_numpy() - centre) @ coef)
    info = ModelInfo.of(config, Development.of(time, event, values), _panel(cohort))
    covariance = fitter.variance_matrix_.loc[design.columns, design.columns].to_numpy()
    return CoxModel(info, coef, covariance, centre, baseline_time, baseline_hazard), exclusions, ""


def breslow_baseline(time: np.ndarray, event: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow estimate of the baseline cumulative hazard at ``lp = 0``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    lp
        ``(n,)`` linear predictors.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        The distinct event times and ``H0(t) = sum_{t_j <= t} d_j / sum_{i: T_i >= t_j} exp(lp_i)`` at each.
    """
    time, event, risk = np.asarray(time, dtype=float), np.asarray(event, dtype=float), np.exp(lp)
    times, position = np.unique(time, return_inverse=True)
    at_risk = np.cumsum(np.bincount(position, weights=risk, minlength=times.size)[::-1])[::-1]
    deaths = np.bincount(position, weights=event, minlength=times.size)
    has_event = deaths > 0
    return times[has_event], np.cumsum(deaths[has_event] / at_risk[has_event])


def save_validation_model(cohort: Cohort, config: AnalysisConfig, out_dir: Path, notes: list[str]) -> list[Exclusion]:
    """Fit the config's ``validation_model`` (if any) and write ``out_dir/validation_model.json``.

    The one call of ``tmesurv cox``: a model that cannot be estimated is not saved and gets a note.

    Parameters
    ----------
    cohort
        The development cohort.
    config
        The analysis config; nothing happens without a ``validation_model`` section.
    out_dir
        The result folder.
    notes
        Where to append a note when the model cannot be fitted.

    Returns
    -------
    list[Exclusion]
        The patients the model leaves out, and why (for ``exclusions.csv``).
    """
    if config.validation_model is None:
        return []
    model, exclusions, problem = fit_validation_model(cohort, config)
    if model is None:
        notes.append(problem)
    else:
        write_validation_model(model, out_dir / MODEL_FILE)
    return exclusions


def write_validation_model(model: CoxModel, path: Path) -> Path:
    """Write a Cox validation model as JSON, one top-level key a line (atomically; floats round-trip exactly)."""
    items = (f"{json.dumps(key)}: {json.dumps(value, allow_nan=False)}" for key, value in model.to_json().items())
    return write_text(path, "{\n" + ",\n".join(items) + "\n}\n")


@dataclass(frozen=True)
class PosteriorModel:
    """A Bayesian piecewise-exponential fit of the validation model (see the module docstring).

    Attributes
    ----------
    info
        Spec, endpoint, horizons, development cohort, config and version.
    coef
        ``(S, p)`` posterior draws of the log hazard ratios, columns in the order of ``info.design_terms``.
    log_baseline
        ``(S, K)`` draws of the log baseline hazard per interval (at design value zero).
    cuts
        ``(K - 1,)`` interior cut points of the baseline intervals.
    """

    info: ModelInfo
    coef: np.ndarray
    log_baseline: np.ndarray
    cuts: np.ndarray
    kind: ClassVar[str] = "bayes"

    def eta(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(S, n)`` linear predictor at every draw."""
        design = validation_design(values, treated, self.info.spec).to_numpy(dtype=float)
        return self.coef @ design.T

    def linear_predictor(self, values: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
        """``(n,)`` posterior mean of the linear predictor."""
        design = validation_design(values, treated, self.info.spec).to_numpy(dtype=float)
        return design @ self.coef.mean(axis=0)

    def risk(self, values: pd.DataFrame, treated: np.ndarray, times: Sequence[float]) -> np.ndarray:
        """``(n, T)`` posterior mean probability of an event by each of ``times``."""
        from tmesurv.models.pwe.data import pwe_log_likelihood

        eta = self.eta(values, treated)
        never = np.zeros(eta.shape[1])
        columns = [
            -np.expm1(pwe_log_likelihood(np.full(eta.shape[1], t), never, eta, self.log_baseline, self.cuts)).mean(0)
            for t in np.asarray(times, dtype=float)
        ]
        return np.clip(np.stack(columns, axis=1), RISK_FLOOR, 1 - RISK_FLOOR)

    def log_predictive_density(
        self, values: pd.DataFrame, treated: np.ndarray, time: np.ndarray, event: np.ndarray
    ) -> np.ndarray:
        """``(n,)`` pointwise log predictive density ``log mean_s p(y_i | draw s)`` of the observed outcomes.

        The density of an event time is per month (the cohort's time unit); a censored time contributes its
        survival probability.
        """
        from tmesurv.models.pwe.data import pwe_log_likelihood

        log_likelihood = pwe_log_likelihood(time, event, self.eta(values, treated), self.log_baseline, self.cuts)
        return logsumexp(log_likelihood, axis=0) - math.log(log_likelihood.shape[0])

    def draw_event_times(
        self, values: pd.DataFrame, treated: np.ndarray, draws: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``(draws, n)`` event times simulated from ``draws`` posterior draws (chosen at random, without censoring).

        A time is ``H^{-1}(E)`` with ``E ~ Exp(1)`` and ``H`` the patient's piecewise-linear cumulative hazard.
        """
        chosen = rng.choice(self.coef.shape[0], size=min(draws, self.coef.shape[0]), replace=False)
        eta = self.eta(values, treated)[chosen]
        hazard = np.exp(self.log_baseline[chosen])
        starts = np.concatenate([[0.0], self.cuts])
        cumulative = np.concatenate([np.zeros((chosen.size, 1)), np.cumsum(hazard[:, :-1] * np.diff(starts), 1)], 1)
        target = rng.exponential(size=eta.shape) / np.exp(eta)
        interval = (cumulative[:, None, :] <= target[..., None]).sum(axis=-1) - 1
        start_hazard = np.take_along_axis(cumulative, interval, axis=1)
        return starts[interval] + (target - start_hazard) / np.take_along_axis(hazard, interval, axis=1)

    def interaction_effect(self) -> tuple[float, float] | None:
        """Posterior mean and sd of the ``arm:<interaction>`` log hazard ratio; None without an interaction."""
        if self.info.spec.interaction is None:
            return None
        draws = self.coef[:, self.info.design_terms.index(interaction_term(self.info.spec.interaction))]
        return float(draws.mean()), float(draws.std(ddof=1))


ValidationFit = CoxModel | PosteriorModel


def fit_validation_posterior(
    cohort: Cohort, config: AnalysisConfig, settings: BayesSpec | None = None
) -> az.InferenceData:
    """Fit the config's ``validation_model`` by the Bayesian PWE model, ready to save for ``tmesurv validate``.

    Parameters
    ----------
    cohort
        The development cohort.
    config
        The analysis config; its ``validation_model`` must be set.
    settings
        Sampler settings; default ``config.bayes``.

    Returns
    -------
    arviz.InferenceData
        The fit of :func:`tmesurv.models.pwe.model.fit_pwe`, with the model's metadata (spec, endpoint, horizons,
        config, version) as JSON in ``posterior.attrs["tmesurv_validation_model"]``.

    Raises
    ------
    InputError
        If a term is not numeric, or the PWE model cannot be built.
    """
    from tmesurv.models.pwe.fit import fit_pwe

    spec, endpoint = config.validation_model, config.analysis.endpoint
    patients, _ = model_patients(cohort, spec, ANALYSIS)
    values = patients.patients[list(spec.terms)]
    time, event = patients.time(endpoint), patients.event(endpoint)
    bayes = settings or config.bayes
    design = validation_design(values, patients.treated, spec)
    idata = fit_pwe(time, event, design, bayes.model_settings(), bayes.sampler_settings())
    idata.posterior.attrs[METADATA_ATTR] = json.dumps(
        ModelInfo.of(config, Development.of(time, event, values), _panel(cohort)).header()
    )
    return idata


def write_validation_posterior(idata: az.InferenceData, out_dir: Path) -> Path:
    """Write a fit of :func:`fit_validation_posterior` as ``out_dir/validation_model_posterior.nc`` (atomically)."""
    return write_atomically(out_dir / POSTERIOR_FILE, lambda temporary: idata.to_netcdf(str(temporary)))


def load_validation_fits(model_dir: Path) -> list[ValidationFit]:
    """Read the saved fits of the validation model in a result folder: Cox first, then Bayesian.

    Parameters
    ----------
    model_dir
        A result folder of ``tmesurv cox`` (``validation_model.json``) and/or ``tmesurv bayes``
        (``validation_model_posterior.nc``).

    Returns
    -------
    list[ValidationFit]
        One or two fits, of the same model.

    Raises
    ------
    InputError
        If the folder or both files are missing, a file is unreadable, or the two fits are of different models.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(
            f"model folder '{model_dir}' does not exist: give the result folder of 'tmesurv cox' (or 'tmesurv bayes') "
            "run with a validation_model section in its config"
        )
    cox_path, posterior_path = model_dir / MODEL_FILE, model_dir / POSTERIOR_FILE
    if not cox_path.is_file() and not posterior_path.is_file():
        raise InputError(
            f"model folder '{model_dir}' has neither {MODEL_FILE} nor {POSTERIOR_FILE}: add a validation_model "
            "section (terms, and optionally interaction and arm) to the development config and rerun 'tmesurv cox'"
        )
    fits: list[ValidationFit] = []
    if cox_path.is_file():
        fits.append(read_validation_model(cox_path))
    if posterior_path.is_file():
        fits.append(read_validation_posterior(posterior_path, fits[0].info if fits else None))
    return fits


def read_validation_model(path: Path) -> CoxModel:
    """Read a ``validation_model.json`` written by :func:`write_validation_model`.

    Raises
    ------
    InputError
        If the file is not JSON, not a tmesurv validation model, or inconsistent.
    """
    data = _read_json(path)
    try:
        info = _info(data, Development.from_json(data["development"]))
        terms = list(data["design_terms"])
        coef, covariance = np.asarray(data["coef"], dtype=float), np.asarray(data["covariance"], dtype=float)
        centre = np.asarray(data["design_mean"], dtype=float)
        baseline = data["baseline"]
        times = np.asarray(baseline["time"], dtype=float)
        hazard = np.asarray(baseline["cumulative_hazard"], dtype=float)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"file '{path}' is not a complete validation model ({error!r}): rerun 'tmesurv cox'") from None
    p = len(terms)
    if terms != info.design_terms or coef.shape != (p,) or covariance.shape != (p, p) or centre.shape != (p,):
        raise InputError(f"file '{path}': its coefficients do not match its terms; rerun 'tmesurv cox' to rewrite it")
    if times.shape != hazard.shape:
        raise InputError(f"file '{path}': baseline times and hazards differ in length; rerun 'tmesurv cox'")
    return CoxModel(info, coef, covariance, centre, times, hazard)


def read_validation_posterior(path: Path, reference: ModelInfo | None = None) -> PosteriorModel:
    """Read a ``validation_model_posterior.nc``: an InferenceData of :func:`tmesurv.models.pwe.model.fit_pwe`.

    Parameters
    ----------
    path
        The NetCDF file.
    reference
        The Cox fit's metadata from the same folder: used when the posterior carries none, and otherwise checked
        to be the same model.

    Raises
    ------
    InputError
        If the file cannot be read, lacks the fit's variables, has no metadata (and no reference), or is of another
        model than ``reference``.
    """
    import arviz as az

    try:
        idata = az.from_netcdf(str(path))
        posterior, constant = idata.posterior, idata.constant_data
        terms = [str(term) for term in posterior["term"].to_numpy()]
        coef = posterior["coef"].transpose("chain", "draw", "term").to_numpy().reshape(-1, len(terms))
        log_baseline = posterior["log_baseline"].transpose("chain", "draw", "interval").to_numpy()
        design = pd.DataFrame(constant["design"].to_numpy(), columns=[str(t) for t in constant["term"].to_numpy()])
        time, event, cuts = (constant[name].to_numpy() for name in ("time", "event", "cuts"))
        metadata = posterior.attrs.get(METADATA_ATTR)
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise InputError(
            f"file '{path}' is not a posterior of the PWE model ({error!r}): save the InferenceData of "
            "fit_validation_posterior (or fit_pwe) there"
        ) from None
    if metadata is None and reference is None:
        raise InputError(
            f"file '{path}' says nothing of the model it fits (no '{METADATA_ATTR}' attribute) and there is no "
            f"{MODEL_FILE} next to it: save it with fit_validation_posterior, or keep the Cox model's file with it"
        )
    header = json.loads(metadata) if metadata is not None else reference.header()
    info = _info(header, Development.of(time, event.astype(int), design[list(_spec(header).terms)]))
    _require_same_model(path, info, terms, reference)
    order = [terms.index(term) for term in info.design_terms]
    return PosteriorModel(info, coef[:, order], log_baseline.reshape(coef.shape[0], -1), np.asarray(cuts, float))


def _require_same_model(path: Path, info: ModelInfo, terms: list[str], reference: ModelInfo | None) -> None:
    """The posterior's terms are the model's design, and (with a Cox fit next to it) the same model as the Cox's."""
    if sorted(terms) != sorted(info.design_terms):
        raise InputError(
            f"file '{path}': its terms ({', '.join(terms)}) are not those of the validation model "
            f"({', '.join(info.design_terms)}); refit it with fit_validation_posterior"
        )
    if reference is not None and (reference.spec != info.spec or reference.endpoint != info.endpoint):
        raise InputError(
            f"file '{path}' is a fit of another model than {MODEL_FILE} next to it (terms {info.design_terms} for "
            f"{info.endpoint} against {reference.design_terms} for {reference.endpoint}); keep fits of one model "
            "in a folder"
        )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"file '{path}' cannot be read as JSON ({error}): rerun 'tmesurv cox' to rewrite it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'file \'{path}\' is not a tmesurv validation model (no "format": "{FORMAT}")')
    if data.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"file '{path}' has format version {data.get('format_version')}, this tmesurv reads {FORMAT_VERSION}: "
            "rerun 'tmesurv cox' with this version"
        )
    return data


def _spec(header: Mapping) -> ValidationModelSpec:
    return ValidationModelSpec.model_validate(header["spec"])


def _info(header: Mapping, development: Development) -> ModelInfo:
    return ModelInfo(
        spec=_spec(header),
        endpoint=str(header["endpoint"]),
        horizons=tuple(float(h) for h in header["horizons"]),
        development=development,
        config=dict(header["config"]),
        version=str(header["tmesurv_version"]),
        gene_sets={term: tuple(genes) for term, genes in header.get("gene_sets", {}).items()},
    )


def _panel(cohort: Cohort) -> pd.Index | None:
    """The genes of the cohort's expression matrix (None without one)."""
    return None if cohort.expression is None else cohort.expression.index


def _inestimable(design: pd.DataFrame, event: np.ndarray) -> str | None:
    """Why a Cox fit of ``design`` cannot be estimated, or None."""
    if event.sum() == 0:
        return "no events"
    constant = [str(column) for column in design.columns if np.ptp(design[column].to_numpy()) == 0]
    return f"'{constant[0]}' takes one value only" if constant else None


def _describe_ids(ids: list[str]) -> str:
    """``"patients P1, P2 and 3 more"``: the first few patient ids."""
    shown, extra = ", ".join(map(str, ids[:MAX_ROWS_SHOWN])), len(ids) - MAX_ROWS_SHOWN
    return ("patient " if len(ids) == 1 else "patients ") + shown + (f" and {extra} more" if extra > 0 else "")
