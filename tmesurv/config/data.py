"""The ``data`` section of an analysis config: where the trial export is, and which columns play which role."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from tmesurv.schema import StrictModel

IN_MEMORY = "in_memory"  # validation context key of a data section that describes a DataFrame, not a file
DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_UNIT = {"days": 1 / DAYS_PER_MONTH, "weeks": 7 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}


ArmCode = str | int | bool  # an arm value as YAML gives it: compared with the column's values as they are


class ArmSpec(StrictModel):
    """Which column holds the arm, and which of its values is the treated and the control arm."""

    column: str
    treated: ArmCode = Field(description="the treated arm's value: text, or a number or true/false as the column holds")
    control: ArmCode = Field(description="the control arm's value: text, or a number or true/false as the column holds")

    @model_validator(mode="after")
    def _two_codes(self) -> ArmSpec:
        if str(self.treated) == str(self.control):
            raise ValueError(f"treated and control are the same value ({self.treated!r}); give each arm its own")
        return self


def arm_names(arm: ArmSpec | Mapping | None) -> dict[str, str]:
    """Display names of the arms: ``treated``/``control`` -> the data's value as text (empty for a single-arm cohort).

    Takes the config's ``data.arm`` as a section or as plain data (as ``run.json`` stores it).
    """
    if arm is None:
        return {}
    values = arm if isinstance(arm, Mapping) else arm.model_dump()
    return {role: str(values[role]) for role in ("treated", "control") if values.get(role) is not None}


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


class PkSpec(StrictModel):
    """CAR T levels over time, one row per sample (long format), from which PK columns are derived.

    The derived columns (:data:`~tmesurv.models.product.pk.PK_COLUMNS`) hold the treated arm's values (control:
    missing); :mod:`tmesurv.models.product.pk` has the rules.
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
