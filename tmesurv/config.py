"""The analysis configuration (YAML), validated with pydantic.

Unknown keys are errors, and every error names the key path and the file, so a typo never passes silently.
"""

from __future__ import annotations

import difflib
import fnmatch
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from tmesurv.errors import InputError

DAYS_PER_MONTH = 365.25 / 12
IN_MEMORY = "in_memory"  # validation context key of a data section that describes a DataFrame, not a file
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


ExpressionScale = Literal["log2", "counts"]


class PlatformColumns(StrictModel):
    """Columns of a GEO platform (GPL) annotation table."""

    id: str = Field("ID", description="the row id, matching ID_REF of the series matrix")
    name: str = Field("ORF", description="gene symbol of an mRNA row, name of a signature row")
    type: str = Field("Analyte Type", description="analyte type; signature_type marks a signature row")


class VisitSpec(StrictModel):
    """Which of a patient's samples to analyse: those whose characteristic ``key`` equals ``value``."""

    key: str = Field("visit", description="the sample characteristic holding the visit")
    value: str = Field(description="the visit analysed, e.g. baseline; samples of other visits are counted out")


class GeoSpec(StrictModel):
    """A GEO series matrix: sample characteristics become columns, its table expression and signature scores."""

    series_matrix: Path = Field(description="the series matrix file (.txt or .txt.gz)")
    characteristics: dict[str, str] = Field(
        default_factory=dict,
        description="cohort column -> characteristic key (the text before ':' in !Sample_characteristics_ch1)",
    )
    platform: Path | None = Field(
        None, description="platform annotation table (tab-separated GPL full table) that says which rows are signatures"
    )
    platform_columns: PlatformColumns = PlatformColumns()
    signature_type: str = Field("IO360 Signature", description="platform analyte type of a signature row")
    signature_rows: list[str] = Field(
        default_factory=list,
        description="without a platform: ID_REF patterns (fnmatch, case-sensitive) of signature rows; others are genes",
    )
    signature_prefix: str = Field("sig_", description="prefix of signature columns (snake_case of the name)")
    signature_names: dict[str, str] = Field(
        default_factory=dict, description="signature name (platform name or ID_REF) -> its cohort column"
    )
    visit: VisitSpec | None = Field(None, description="with several samples per patient: the one visit analysed")
    scale: ExpressionScale = Field("log2", description="gene rows: log2 normalised, or counts (log2(x + 1) taken)")

    @model_validator(mode="after")
    def _one_signature_rule(self) -> GeoSpec:
        if self.platform is not None and self.signature_rows:
            raise ValueError("give either 'platform' or 'signature_rows' to find the signature rows, not both")
        return self


class ExpressionSpec(StrictModel):
    """A normalised gene-expression matrix (genes x samples) for a CSV, Parquet or ADaM export."""

    path: Path | None = Field(None, description="CSV/TSV or Parquet, first column the gene, then one per sample")
    rcc: str | None = Field(None, description="NanoString RCC files: a folder or a glob, relative to the config")
    samples: str | dict[str, str] | None = Field(
        None,
        description="export column holding each patient's sample id, or a mapping sample id -> patient id; "
        "default: the matrix's sample ids are the patient ids",
    )
    scale: ExpressionScale = Field(
        "log2", description="log2 normalised values, or normalised counts (log2(x + 1) taken); RCC input is log2"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ExpressionSpec:
        if (self.path is None) == (self.rcc is None):
            raise ValueError("give exactly one of 'path' (a genes x samples matrix) and 'rcc' (NanoString RCC files)")
        if self.rcc is not None and self.scale != "log2":
            raise ValueError("RCC input is normalised and log2-transformed by tmesurv: leave 'scale' at log2")
        return self


class HScoreSpec(StrictModel):
    """An IHC H-score from the percentages of cells stained at intensity 1, 2 and 3."""

    percent: Annotated[list[str], Field(min_length=3, max_length=3)] = Field(
        description="the three columns: percent of tumor cells at intensity 1+, 2+ and 3+ (0-100 each)"
    )
    negative: str | None = Field(None, description="also write this 0/1 column: 1 when the H-score is below 5")


class DeriveSpec(StrictModel):
    """Columns computed before validation: gene-set scores, single genes, cluster indices, H-scores."""

    signatures: dict[str, list[str] | str] = Field(
        default_factory=dict,
        description="column -> gene set (symbols, or a shipped set name such as zuma7_b_cell): the mean over the "
        "set's genes of log2 expression centred at each gene's mean over the patients with expression",
    )
    genes: dict[str, str] = Field(
        default_factory=dict, description="column -> gene symbol: that gene's log2 expression, not centred"
    )
    indices: dict[str, Annotated[list[str], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="column -> member signature columns: root mean square of (member - index_centre) per patient",
    )
    index_centre: float = Field(0.0, description="subtracted from the signatures of a cluster index (paper: 0)")
    hscores: dict[str, HScoreSpec] = Field(default_factory=dict, description="column -> H-score from percentages")


PK_COLUMNS = ("car_t_peak", "car_t_time_to_peak", "car_t_auc_0_28")
"""Per-patient columns derived from data.pk: peak (cells/uL), time to peak (days), AUC(0-28) (cells/uL x days)."""


class PkSpec(StrictModel):
    """CAR T levels over time, one row per sample (long format), from which :data:`PK_COLUMNS` are derived.

    The derived columns hold the treated arm's values (control: missing); :mod:`tmesurv.models.product.pk` has the
    rules.
    """

    path: Path = Field(description="CSV/TSV or Parquet, relative to the config file")
    id: str | None = Field(None, description="the patient id column (default: data.id)")
    day: str = Field("day", description="days since infusion (day 0); a missing day-0 sample counts as level 0")
    level: str = Field("level", description="CAR T cells/uL; an empty level is left out and counted")


class DataSpec(StrictModel):
    """Where the trial export is, and which columns play which role.

    The export is one of ``path`` (CSV/Parquet), ``adam`` or ``geo``; ``expression`` adds a gene matrix to the first
    two, and ``derive`` computes columns (gene-set scores, cluster indices, H-scores) before validation.
    """

    path: Path | None = None
    adam: AdamSpec | None = None
    geo: GeoSpec | None = None
    expression: ExpressionSpec | None = Field(
        None, description="a gene-expression matrix for a CSV, Parquet or ADaM export (a GEO series has its own)"
    )
    derive: DeriveSpec = DeriveSpec()
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
    product: list[str] = Field(
        default_factory=list,
        description="numeric columns of the treated arm's CAR T product and toxicity (e.g. ccr7_cd45ra_fraction, "
        "grade3_crs as 0/1); may be missing (control patients)",
    )
    pk: PkSpec | None = Field(None, description="CAR T level time series: derived PK columns join data.product")

    @model_validator(mode="after")
    def _one_export(self, info: ValidationInfo) -> DataSpec:
        in_memory = bool((info.context or {}).get(IN_MEMORY))  # Cohort.from_frame: the data are a DataFrame
        if sum(source is not None for source in (self.path, self.adam, self.geo)) != (0 if in_memory else 1):
            raise ValueError(
                "give exactly one of 'path' (CSV or Parquet), 'adam' (ADSL + ADTTE) and 'geo' (GEO series matrix)"
            )
        if self.geo is not None and self.expression is not None:
            raise ValueError("a GEO series holds its own expression: remove 'expression' (or read the matrix via path)")
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


class OutcomeSpec(StrictModel):
    """A binary outcome: a level set of a categorical column, or a 0/1 column (without ``levels``)."""

    column: str
    levels: list[str] | None = Field(
        None, description="values of a data.responses column that count as 1 (e.g. [CR, PR]); none: a 0/1 column"
    )


class ProductSubgroupSpec(StrictModel):
    """A product attribute split at its median (treated arm) crossed with a biomarker at its analysis cut-point."""

    attribute: str
    biomarker: str


class ProductAnalysisSpec(StrictModel):
    """CAR T product and PK analyses of the treated arm (``tmesurv cox``: product_associations, product_subgroups)."""

    attributes: Annotated[list[str], Field(min_length=1)] = Field(
        description="columns of data.product (or derived from data.pk) associated with each outcome"
    )
    outcomes: dict[str, str | OutcomeSpec] = Field(
        default_factory=dict,
        description="outcome name -> a 0/1 column of data.product, or {column, levels} of a data.responses column",
    )
    subgroups: list[ProductSubgroupSpec] = Field(
        default_factory=list, description="attribute high/low x biomarker high/low: Kaplan-Meier, log-rank and Cox"
    )

    def outcome_specs(self) -> dict[str, OutcomeSpec]:
        """Every outcome as an :class:`OutcomeSpec` (a bare column name is a 0/1 column)."""
        return {
            name: OutcomeSpec(column=spec) if isinstance(spec, str) else spec for name, spec in self.outcomes.items()
        }


class AnalysisConfig(StrictModel):
    """A whole analysis configuration file."""

    data: DataSpec
    analysis: AnalysisSpec
    screens: ScreenSpec | None = None
    validation_model: ValidationModelSpec | None = None
    product: ProductAnalysisSpec | None = None
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
        bayes, biomarkers = self.bayes, self.data.biomarkers
        if bayes.biomarkers is not None:
            _require_listed(bayes.biomarkers, biomarkers, "bayes.biomarkers", "data.biomarkers")
        fitted = biomarkers if bayes.biomarkers is None else bayes.biomarkers
        _require_listed(bayes.treatment_at, fitted, "bayes.treatment_at", "bayes.biomarkers or data.biomarkers")
        _require_listed(bayes.hr_curves, biomarkers, "bayes.hr_curves", "data.biomarkers")
        known = [*biomarkers, *self.data.features]
        unknown = [name for name in bayes.screen if not _is_listed_or_pattern(name, known)]
        _require_listed(unknown, known, "bayes.screen", "data.biomarkers or data.features")
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

    @model_validator(mode="after")
    def _product_known(self) -> AnalysisConfig:
        product, data = self.product, self.data
        if product is None:
            return self
        columns = [*data.product, *(PK_COLUMNS if data.pk is not None else ())]
        _require_listed(product.attributes, columns, "product.attributes", "data.product or derived from data.pk")
        for name, outcome in product.outcome_specs().items():
            known, where = (data.responses, "data.responses") if outcome.levels else (columns, "data.product")
            _require_listed([outcome.column], known, f"product.outcomes.{name}.column", where)
        for number, subgroup in enumerate(product.subgroups):
            key = f"product.subgroups.{number}"
            _require_listed([subgroup.attribute], columns, f"{key}.attribute", "data.product or derived from data.pk")
            _require_listed([subgroup.biomarker], data.biomarkers, f"{key}.biomarker", "data.biomarkers")
            if self.analysis.cutpoint_of(subgroup.biomarker) == "quartiles":
                raise ValueError(f"{key}: '{subgroup.biomarker}' is cut at quartiles; give it a median or fixed cut")
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


def _is_listed_or_pattern(name: str, known: list[str]) -> bool:
    """Whether ``name`` is a pattern, is in ``known``, or matches a pattern of ``known`` (such as 'sig_*')."""
    return any(character in name for character in "*?[") or any(fnmatch.fnmatchcase(name, k) for k in known)


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
    if data.geo is not None:
        platform = None if data.geo.platform is None else folder / data.geo.platform
        geo = data.geo.model_copy(update={"series_matrix": folder / data.geo.series_matrix, "platform": platform})
        data = data.model_copy(update={"geo": geo})
    if data.pk is not None:
        data = data.model_copy(update={"pk": data.pk.model_copy(update={"path": folder / data.pk.path})})
    if data.expression is not None:
        expression = data.expression
        located = {"path": None if expression.path is None else folder / expression.path}
        located["rcc"] = None if expression.rcc is None else str(folder / expression.rcc)
        data = data.model_copy(update={"expression": expression.model_copy(update=located)})
    return config.model_copy(update={"data": data})
