"""Validation-size study files (``kind: validation_size``): how large must an external validation cohort be.

Riley et al. (Stat Med 2022; 41:1280, "Minimum sample size calculations for external validation of a clinical
prediction model with a time-to-event outcome") size a validation cohort by simulation: draw validation cohorts of
candidate sizes from the model and the target population, score the model on each, and read off the expected
precision of every metric. A study file sets

* ``model``: a saved ``validation_model.json`` (``file``, relative to the study file), or a model fitted on a
  development cohort simulated from the scenario (``terms``, ``interaction``, ``arm``);
* the target population: the scenario's patients with every term of the model known, or (``population.file``) a
  reference cohort's patients resampled by a smoothed bootstrap (:mod:`~tmesurv.simulations.validation_size.reference`);
  follow-up and censoring come from the scenario, outcomes from the model (see
  :mod:`~tmesurv.simulations.validation_size.model`);
* ``horizon`` (months) and ``grid``: cohort sizes ``n`` crossed with the true ``calibration_slope`` and ``oe`` of the
  model in that population (1 and 1: perfectly calibrated; slope 0.8: predictions too extreme);
* ``metrics`` (names as in ``validation.csv``) and ``targets``: the largest acceptable confidence-interval width per
  metric (Riley et al.'s defaults: calibration slope 0.3, O/E 0.2 - a CI of about 0.9 to 1.1 -, C 0.1), met with
  probability ``target_probability`` (0.8) at the chosen n.

The same YAML format as an interaction power study (``name``, ``seed``, ``replicates``, ``chunk_size``, ``alpha``,
``scenario``); :func:`tmesurv.simulations.power.study.load_power_study` reads both and dispatches on ``kind``. A
study is identified by the SHA-256 of its parsed content, its scenario's and (``model.file``) the model file's bytes.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from tmesurv.errors import InputError
from tmesurv.schema import StrictModel, describe_validation_error
from tmesurv.simulations.scenario import Scenario

KIND = "validation_size"
DIMS = ("n", "calibration_slope", "oe")
"""The setting dimensions of a validation-size study, in grid order."""
ANALYTIC_METRICS = ("harrell_c", "calibration_slope", "oe_ratio")
"""Metrics with an analytic (Wald) confidence interval, computed for all replicates at once."""
LOOP_METRICS = ("uno_c", "time_auc", "brier", "ipa", "ici", "c_for_benefit")
"""Metrics scored per replicate by :mod:`tmesurv.validation`'s functions (interval: bootstrap, if ``bootstrap``)."""
WIDTH_RANGE = {  # every metric a study may name (names as in validation.csv)
    "harrell_c": 1.0,
    "uno_c": 1.0,
    "time_auc": 1.0,
    "c_for_benefit": 1.0,
    "brier": 1.0,
    "ici": 1.0,
    "ipa": 2.0,
    "calibration_slope": 10.0,
    "oe_ratio": 10.0,
}
"""The largest meaningful CI width per metric (a target must lie in ``(0, range]``)."""
DEFAULT_TARGETS = {"calibration_slope": 0.3, "oe_ratio": 0.2, "harrell_c": 0.1}
"""Riley et al. 2022's precision targets (CI widths)."""


class ModelSource(StrictModel):
    """The model to validate: a saved file, or terms fitted on a development cohort simulated from the scenario."""

    file: str | None = Field(None, description="a validation_model.json (relative to the study file)")
    terms: list[str] | None = Field(None, description="numeric scenario columns, fitted on a simulated trial")
    interaction: str | None = Field(None, description="a term whose effect differs by arm (a treatment-benefit model)")
    arm: Literal["all", "treated", "control"] = Field("all", description="the patients the model is fitted on")

    @model_validator(mode="after")
    def _file_or_terms(self) -> ModelSource:
        if (self.file is None) == (self.terms is None):
            raise ValueError("give either 'file' (a saved validation_model.json) or 'terms' (fitted on the scenario)")
        if self.file is not None and (self.interaction is not None or self.arm != "all"):
            raise ValueError("'interaction' and 'arm' come from the saved model with 'file'")
        return self


class PopulationSource(StrictModel):
    """A reference cohort whose patients, resampled, are the target population (instead of the scenario's)."""

    file: str = Field(description="a CSV with a row per patient and a column per model term (relative to the study)")
    arm: str | None = Field(None, description="its arm column; without it arms are allocated as the scenario's")
    treated: str | int | None = Field(None, description="the arm column's treated value (compared as text)")
    size: int = Field(10000, ge=100, description="patients in the resampled population")

    @model_validator(mode="after")
    def _arm_and_treated(self) -> PopulationSource:
        if (self.arm is None) != (self.treated is None):
            raise ValueError("give both 'arm' (the column) and 'treated' (its treated value), or neither")
        return self


class GridSpec(StrictModel):
    """The settings to cross."""

    n: Annotated[list[Annotated[int, Field(ge=20)]], Field(min_length=1)] = Field(description="patients per cohort")
    calibration_slope: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = Field(
        [1.0], description="true calibration slope of the model in the target population (1: perfect)"
    )
    oe: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = Field(
        [1.0], description="true observed / expected risk at the horizon in the target population (1: perfect)"
    )

    @field_validator(*DIMS)
    @classmethod
    def _distinct_values(cls, values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError(f"values must be distinct, got {values}")
        return values


class ValidationSizeSpec(StrictModel):
    """A whole validation-size study file."""

    kind: Literal["validation_size"]
    name: str
    description: str = ""
    scenario: str = Field("zuma7", description="a shipped scenario name or a path relative to the study file")
    seed: int = Field(ge=0, description="seed of the development cohort, the population and every replicate")
    replicates: int = Field(ge=2, description="validation cohorts per setting")
    chunk_size: int = Field(100, ge=1, description="replicates per task (and per persisted chunk)")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="intervals are 1 - alpha")
    model: ModelSource
    endpoint: str = Field("efs", description="the scenario endpoint the model predicts")
    horizon: float = Field(gt=0, description="prediction horizon (months) of O/E and the horizon metrics")
    population_trials: int = Field(
        40, ge=1, description="simulated scenario trials pooled as the target population the cohorts are drawn from"
    )
    population: PopulationSource | None = Field(
        None, description="a reference cohort resampled as the target population (default: the scenario's patients)"
    )
    follow_up: float | None = Field(None, gt=0, description="months from last entry to cutoff; default: scenario")
    dropout_per_year: float | None = Field(None, ge=0, description="exponential loss to follow-up; default: scenario")
    grid: GridSpec
    metrics: Annotated[list[str], Field(min_length=1)] = Field(
        ["harrell_c", "calibration_slope", "oe_ratio"], description="metrics, in the order of the results"
    )
    targets: dict[str, float] = Field(
        DEFAULT_TARGETS, description="largest acceptable CI width per metric (every one must be in metrics)"
    )
    target_probability: float = Field(0.8, gt=0, lt=1, description="required P(CI width <= target) at the chosen n")
    bootstrap: int = Field(0, ge=0, description="bootstrap resamples for the intervals of the loop metrics (0: none)")

    @field_validator("metrics")
    @classmethod
    def _known_distinct_metrics(cls, values: list) -> list:
        for name in values:
            if name not in WIDTH_RANGE:
                hint = difflib.get_close_matches(name, WIDTH_RANGE, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise ValueError(f"'{name}' is not a metric; {suggestion}known: {', '.join(WIDTH_RANGE)}")
        if len(set(values)) != len(values):
            raise ValueError(f"metrics must be distinct, got {values}")
        return values

    @model_validator(mode="after")
    def _targets_in_range(self) -> ValidationSizeSpec:
        for metric, width in self.targets.items():
            if metric not in WIDTH_RANGE:
                hint = difflib.get_close_matches(metric, WIDTH_RANGE, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                raise ValueError(f"targets: '{metric}' is not a metric; {suggestion}known: {', '.join(WIDTH_RANGE)}")
            if metric not in self.metrics:
                raise ValueError(f"targets: '{metric}' is not in metrics ({', '.join(self.metrics)}): add it there")
            if not 0 < width <= WIDTH_RANGE[metric]:
                raise ValueError(
                    f"targets: '{metric}' = {width:g} is outside (0, {WIDTH_RANGE[metric]:g}] (a CI width)"
                )
            if metric in LOOP_METRICS and self.bootstrap == 0:
                raise ValueError(f"targets: '{metric}' has no analytic CI: set bootstrap (e.g. 200) or drop the target")
        return self


@dataclass(frozen=True)
class Setting:
    """One point of the grid: its index in grid order and its values."""

    index: int
    n: int
    calibration_slope: float
    oe: float


@dataclass(frozen=True)
class ValidationSizeStudy:
    """A validated validation-size study, its scenario, where it came from and its content hash."""

    spec: ValidationSizeSpec
    scenario: Scenario
    path: Path
    digest: str

    @property
    def kind(self) -> str:
        """``validation_size``."""
        return KIND

    @property
    def coords(self) -> dict[str, list]:
        """Each dimension's values."""
        grid = self.spec.grid
        return {"n": list(grid.n), "calibration_slope": list(grid.calibration_slope), "oe": list(grid.oe)}

    @property
    def follow_up(self) -> float:
        """Months from the last entry to the cutoff."""
        accrual_months, cutoff = self.scenario.accrual.months()
        return self.spec.follow_up if self.spec.follow_up is not None else cutoff - accrual_months

    @property
    def dropout_per_year(self) -> float:
        """Exponential loss-to-follow-up rate."""
        spec = self.spec.dropout_per_year
        return spec if spec is not None else self.scenario.accrual.dropout_per_year

    @property
    def population_file(self) -> Path | None:
        """The reference cohort's path, or None for the scenario's patients."""
        source = self.spec.population
        return None if source is None else self.path.parent / source.file

    @property
    def model_file(self) -> Path | None:
        """The saved model's path, or None for a model fitted on the scenario."""
        return None if self.spec.model.file is None else self.path.parent / self.spec.model.file

    def settings(self) -> list[Setting]:
        """Every setting, in grid order."""
        return [Setting(index, *values) for index, values in enumerate(itertools.product(*self.coords.values()))]

    def chunks(self) -> list[range]:
        """The replicates of each chunk, in order."""
        size, total = self.spec.chunk_size, self.spec.replicates
        return [range(start, min(start + size, total)) for start in range(0, total, size)]

    def content(self) -> dict:
        """The study, its scenario and the model and reference files' hashes, as plain data (what is hashed)."""
        return _content(self.spec, self.scenario, self.path)


def parse_validation_size(raw: dict, path: Path) -> ValidationSizeSpec:
    """Validate a study file's parsed YAML as a validation-size study (errors name each key)."""
    try:
        return ValidationSizeSpec.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"study file '{path}'", ValidationSizeSpec)) from None


def build_study(
    spec: ValidationSizeSpec, scenario: Scenario, path: Path, canonical: Callable[[dict], str]
) -> ValidationSizeStudy:
    """The study with its hash (``canonical``: the canonical JSON of plain data)."""
    path = path.resolve()
    files = {"model.file": spec.model.file, "population.file": spec.population and spec.population.file}
    for key, name in files.items():
        if name is not None and not (path.parent / name).is_file():
            raise InputError(f"study file '{path}': '{key}': '{path.parent / name}' does not exist")
    digest = hashlib.sha256(canonical(_content(spec, scenario, path)).encode()).hexdigest()[:16]
    return ValidationSizeStudy(spec=spec, scenario=scenario, path=path, digest=digest)


def _content(spec: ValidationSizeSpec, scenario: Scenario, path: Path) -> dict:
    model, population = spec.model.file, spec.population and spec.population.file
    unset = {"population"} if population is None else None  # a study without one keeps its earlier hash
    content = {"study": spec.model_dump(exclude=unset), "scenario": scenario.model_dump()}
    content["model_file_sha256"] = None if model is None else _file_hash(path.parent / model)
    if population is not None:
        content["population_file_sha256"] = _file_hash(path.parent / population)
    return content


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_kind(raw: object) -> str | None:
    """The ``kind`` key of a parsed study file (None when absent: an interaction power study)."""
    return raw.get("kind") if isinstance(raw, dict) else None
