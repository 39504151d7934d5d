"""The analysis configuration (YAML), validated with pydantic.

Unknown keys are errors, and every error names the key path and the file, so a typo never passes silently.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tmesurv.errors import InputError

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_UNIT = {"days": 1 / DAYS_PER_MONTH, "weeks": 7 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmSpec(StrictModel):
    """Which column holds the arm, and which of its values is the treated and the control arm."""

    column: str
    treated: str
    control: str


class EndpointSpec(StrictModel):
    """One time-to-event endpoint: columns of a flat export, or a PARAMCD of an ADaM ADTTE."""

    time: str | None = None
    event: str | None = None
    paramcd: str | None = None
    required: bool = Field(
        True,
        description="false for an endpoint only some patients have (duration of response: responders); a patient "
        "with both time and event missing is then left out of its analyses and counted",
    )

    @model_validator(mode="after")
    def _one_source(self) -> EndpointSpec:
        flat = self.time is not None and self.event is not None
        if flat == (self.paramcd is not None) or (self.time is None) != (self.event is None):
            raise ValueError("give either both 'time' and 'event' (flat export) or 'paramcd' (ADaM ADTTE)")
        return self


class AdamSpec(StrictModel):
    """CDISC ADaM files: subject-level ADSL and time-to-event ADTTE (SAS XPT)."""

    adsl: Path
    adtte: Path


class DataSpec(StrictModel):
    """Where the trial export is, and which columns play which role."""

    path: Path | None = None
    adam: AdamSpec | None = None
    id: str = "USUBJID"
    arm: ArmSpec | None = None
    single_arm: Literal["treated", "control"] | None = Field(
        None,
        description="a single-arm cohort (e.g. a real-world registry) instead of 'arm': every patient is in this arm; "
        "only for external validation, where the metrics do not need two arms",
    )
    time_unit: Literal["days", "weeks", "months", "years"] = "months"
    endpoints: Annotated[dict[str, EndpointSpec], Field(min_length=1)]
    biomarkers: list[str] = Field(default_factory=list)
    covariates: list[str] = Field(default_factory=list)
    strata: list[str] = Field(default_factory=list)
    features: list[str] = Field(
        default_factory=list,
        description="numeric columns for the association screens: names or patterns such as 'sig_*'; may be missing",
    )
    responses: list[str] = Field(
        default_factory=list, description="categorical outcome columns (best response, response group); may be missing"
    )

    @model_validator(mode="after")
    def _one_export(self) -> DataSpec:
        if (self.path is None) == (self.adam is None):
            raise ValueError("give exactly one of 'path' (CSV or Parquet) and 'adam' (ADSL + ADTTE)")
        if (self.arm is None) == (self.single_arm is None):
            raise ValueError("give exactly one of 'arm' (a randomized trial) and 'single_arm' (one-arm cohort)")
        for name, endpoint in self.endpoints.items():
            if (self.adam is not None) != (endpoint.paramcd is not None):
                kind = "ADaM data need 'paramcd'" if self.adam else "a CSV/Parquet export needs 'time' and 'event'"
                raise ValueError(f"endpoint '{name}': {kind}")
        return self


Cutpoint = Literal["median", "quartiles"] | float
GroupLevel = Literal["high", "low"]


class AnalysisSpec(StrictModel):
    """What to analyse: the endpoint, how biomarkers are split into subgroups, and which subgroups to compare."""

    endpoint: str
    cutpoint: Cutpoint = Field("median", description="split of every continuous biomarker without its own cut-point")
    cutpoints: dict[str, Cutpoint] = Field(default_factory=dict, description="biomarker -> its own cut-point")
    combined_subgroups: list[Annotated[dict[str, GroupLevel], Field(min_length=2)]] = Field(
        default_factory=list,
        description="subgroups defined by two or more biomarkers, e.g. {cd19_hscore: low, sii: high}",
    )
    subgroup_covariates: list[str] = Field(
        default_factory=list, description="covariates whose levels each get a treatment effect (forest plot)"
    )
    landmarks: list[float] = Field(default_factory=lambda: [12.0, 24.0])
    km_ci: Literal["log-log", "log"] = Field("log-log", description="Kaplan-Meier interval scale (R: conf.type)")

    def cutpoint_of(self, biomarker: str) -> Cutpoint:
        """The cut-point of one biomarker: its own, or the default."""
        return self.cutpoints.get(biomarker, self.cutpoint)


class PriorSpec(StrictModel):
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


class LevelSpec(StrictModel):
    """One level of a categorical response column, compared against the others."""

    column: str
    level: str


class ScreenSpec(StrictModel):
    """Association screens over ``data.features``, each with raw P and Benjamini-Hochberg q, per arm."""

    endpoints: list[str] = Field(default_factory=list, description="Cox screen per feature for these endpoints")
    response: LevelSpec | None = Field(
        None,
        description="Wilcoxon rank-sum of this level (e.g. ongoing response) against the others, and "
        "Kruskal-Wallis across all levels of the column",
    )
    complete_response: LevelSpec | None = Field(None, description="logistic regression per feature for this level")
    correlations: list[str] = Field(default_factory=list, description="Spearman correlation of every pair")
    clusters: int | None = Field(4, ge=2, description="signature clusters (UPGMA on Spearman correlations); null: none")
    cluster_features: list[str] = Field(
        default_factory=list, description="features to cluster: names or patterns among data.features (default all)"
    )
    pca_q_max: float = Field(
        0.05, gt=0, le=1, description="PCA of the features with q below this in a Cox or response screen"
    )


class ValidationModelSpec(StrictModel):
    """The model that ``tmesurv cox`` (and ``tmesurv bayes``) fit and save for external validation."""

    terms: Annotated[list[str], Field(min_length=1)] = Field(description="biomarkers and covariates (numeric)")
    interaction: str | None = Field(
        None, description="a term whose effect differs by arm: adds arm and arm x term (a treatment-benefit model)"
    )
    arm: Literal["all", "treated", "control"] = Field("all", description="the patients the model is fitted on")

    @model_validator(mode="after")
    def _interaction_needs_both_arms(self) -> ValidationModelSpec:
        if self.interaction is not None and self.arm != "all":
            raise ValueError("a model with an arm interaction is fitted on both arms: set arm: all")
        if self.interaction is not None and self.interaction not in self.terms:
            raise ValueError(f"interaction '{self.interaction}' must also be one of terms ({', '.join(self.terms)})")
        return self


class BayesSpec(StrictModel):
    """Settings of the Bayesian piecewise-exponential fit."""

    sampler: Literal["nutpie", "pymc"] = Field("nutpie", description="nutpie (compiled, fast) or PyMC's NUTS")
    intervals: int = Field(8, ge=1, description="baseline intervals, cut at event-time quantiles")
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(4, ge=1)
    seed: int = 20180125
    priors: PriorSpec = PriorSpec()
    biomarkers: list[str] | None = Field(
        None, description="biomarkers to fit interaction models for (default: all of data.biomarkers)"
    )
    time_varying: bool = Field(
        False,
        description="a treatment log hazard ratio per baseline interval (random walk shrunk toward proportional "
        "hazards by priors.time_varying_sd) instead of one; the design's first column must be 'arm' (0/1)",
    )
    shrinkage: Literal["horseshoe", "r2d2", "normal"] = Field(
        "horseshoe",
        description="prior of the arm x biomarker interactions in a many-biomarker screen: regularised horseshoe, "
        "R2D2, or independent normal(0, priors.coef_sd) (no multiplicity adjustment)",
    )
    target_accept: float = Field(
        0.9, gt=0.5, lt=1, description="NUTS target acceptance; raise (0.95-0.99) when a shrinkage prior diverges"
    )
    spline_knots: int = Field(
        4, ge=2, description="knots (at quantiles) of the cubic B-spline basis of a continuous biomarker's HR curve"
    )


class AnalysisConfig(StrictModel):
    """A whole analysis configuration file."""

    data: DataSpec
    analysis: AnalysisSpec
    screens: ScreenSpec | None = None
    validation_model: ValidationModelSpec | None = None
    bayes: BayesSpec = BayesSpec()

    @model_validator(mode="after")
    def _endpoint_known(self) -> AnalysisConfig:
        if self.analysis.endpoint not in self.data.endpoints:
            known = ", ".join(self.data.endpoints)
            raise ValueError(f"analysis.endpoint '{self.analysis.endpoint}' is not among data.endpoints ({known})")
        if not self.data.endpoints[self.analysis.endpoint].required:
            raise ValueError(
                f"analysis.endpoint '{self.analysis.endpoint}' has required: false; the main endpoint must be known "
                "for every patient (screen a partial endpoint with screens.endpoints)"
            )
        return self

    @model_validator(mode="after")
    def _bayes_biomarkers_known(self) -> AnalysisConfig:
        if self.bayes.biomarkers is not None:
            _require_listed(self.bayes.biomarkers, self.data.biomarkers, "bayes.biomarkers", "data.biomarkers")
        return self

    @model_validator(mode="after")
    def _validation_model_known(self) -> AnalysisConfig:
        model = self.validation_model
        if model is not None:
            known = [*self.data.biomarkers, *self.data.covariates]
            _require_listed(model.terms, known, "validation_model.terms", "data.biomarkers or data.covariates")
        return self

    @model_validator(mode="after")
    def _screens_known(self) -> AnalysisConfig:
        screens, data = self.screens, self.data
        if screens is None:
            return self
        if not data.features:
            raise ValueError("screens: data.features lists no columns to screen; add names or patterns such as 'sig_*'")
        _require_listed(screens.endpoints, list(data.endpoints), "screens.endpoints", "data.endpoints")
        for key, level in (("response", screens.response), ("complete_response", screens.complete_response)):
            if level is not None:
                _require_listed([level.column], data.responses, f"screens.{key}.column", "data.responses")
        return self

    @model_validator(mode="after")
    def _subgroups_known(self) -> AnalysisConfig:
        analysis, biomarkers = self.analysis, self.data.biomarkers
        _require_listed(analysis.cutpoints, biomarkers, "analysis.cutpoints", "data.biomarkers")
        for number, conditions in enumerate(analysis.combined_subgroups):
            key = f"analysis.combined_subgroups.{number}"
            _require_listed(conditions, biomarkers, key, "data.biomarkers")
            quartered = [b for b in conditions if analysis.cutpoint_of(b) == "quartiles"]
            if quartered:
                raise ValueError(
                    f"{key}: '{quartered[0]}' is cut at quartiles, which has no high/low; give it a "
                    "median or fixed cut-point in analysis.cutpoints"
                )
        _require_listed(
            analysis.subgroup_covariates, self.data.covariates, "analysis.subgroup_covariates", "data.covariates"
        )
        return self


def combined_subgroup_name(conditions: dict[str, str]) -> str:
    """How a combined subgroup is named in results, e.g. ``cd19_hscore=low & sii=high``."""
    return " & ".join(f"{biomarker}={level}" for biomarker, level in conditions.items())


def _require_listed(names: object, known: list[str], key: str, where: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"{key}: '{unknown[0]}' is not listed in {where} ({', '.join(known) or 'empty'}); add it there"
        )


def load_config(path: Path | str) -> tuple[AnalysisConfig, Path]:
    """Read and validate an analysis config.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    tuple[AnalysisConfig, Path]
        The config with data paths made absolute (relative paths are relative to the config's folder),
        and the config's own resolved path.

    Raises
    ------
    InputError
        If the file is missing, is not YAML, or does not follow the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file '{path}' does not exist: check the path")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise InputError(f"config file '{path}' is not valid YAML: {error}") from None
    config = parse_config(raw, source=str(path))
    return _resolve_paths(config, path.resolve().parent), path.resolve()


def parse_config(raw: object, source: str) -> AnalysisConfig:
    """Validate an already-parsed config mapping; errors name the key path and ``source``."""
    try:
        return AnalysisConfig.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"config file '{source}'", AnalysisConfig)) from None


def describe_validation_error(error: ValidationError, source: str, schema: type[BaseModel]) -> str:
    """One line per problem, each naming the key path; unknown keys get a did-you-mean suggestion.

    Parameters
    ----------
    error
        What pydantic raised.
    source
        How to name the file in the message (for example ``"config file 'a.yaml'"``).
    schema
        The model that was validated, to list the keys it knows.

    Returns
    -------
    str
        The message.
    """
    problems = [_describe_problem(problem, schema) for problem in error.errors()]
    return f"{source}:\n  - " + "\n  - ".join(problems)


def _describe_problem(problem: dict, schema: type[BaseModel]) -> str:
    location = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        key = str(problem["loc"][-1])
        siblings = _known_keys(schema, problem["loc"][:-1])
        hint = difflib.get_close_matches(key, siblings, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(siblings)})"
        return f"unknown key '{location}'{suggestion}"
    if problem["type"] == "missing":
        return f"missing key '{location}'"
    return f"'{location}': {problem['msg']}" if location else problem["msg"]


def _known_keys(schema: type[BaseModel], parent_location: tuple) -> list[str]:
    model: type[BaseModel] | None = schema
    for part in parent_location:
        field = model.model_fields.get(str(part)) if model else None
        model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The config section class an annotation holds (also inside ``X | None``)."""
    candidates = [annotation, *typing.get_args(annotation)]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _resolve_paths(config: AnalysisConfig, folder: Path) -> AnalysisConfig:
    data = config.data
    if data.path is not None:
        data = data.model_copy(update={"path": folder / data.path})
    if data.adam is not None:
        adam = AdamSpec(adsl=folder / data.adam.adsl, adtte=folder / data.adam.adtte)
        data = data.model_copy(update={"adam": adam})
    return config.model_copy(update={"data": data})
