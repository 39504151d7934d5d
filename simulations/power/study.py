"""Power-study files (``configs/studies/*.yaml``): a scenario, a grid of validation-cohort settings, and methods.

The grid is the full product of its lists, in the order of :data:`DIMS`; a setting's index is its position in that
product (C order, the last dimension fastest) and is part of every replicate's random stream, so a grid that changes
is a new study. ``follow_up`` and ``dropout_per_year`` default to the scenario's (the months from the last entry to
the data cutoff, and its dropout rate); ``allocation`` (the treated share of a randomized cohort) defaults to the
scenario's arm sizes, so ``n: [359]`` reproduces ZUMA-7's 180 : 179.

A study is identified by the SHA-256 of its parsed content and of the scenario it names (canonical JSON: sorted keys,
defaults filled in), so reformatting the file or reordering its keys changes nothing while any change of a value -
including in the scenario file - makes a different study.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from tmesurv.errors import InputError
from tmesurv.models.pwe.settings import PwePriors
from tmesurv.schema import StrictModel, describe_validation_error
from tmesurv.simulations.power.cohorts import CohortModel
from tmesurv.simulations.scenario import Scenario, load_scenario

DIMS = ("design", "n", "interaction_hr", "prognostic_hr", "prevalence", "follow_up", "dropout_per_year")
"""The setting dimensions of a study's results, in grid order."""
Design = Literal["randomized", "single_arm"]
MethodName = Literal[
    "cox_interaction", "cox_interaction_stratified", "median_split", "bayes_interaction", "bayes_cure_interaction"
]


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"values must be distinct, got {values}")
    return values


class GridSpec(StrictModel):
    """The settings to cross: every list is one dimension of the results."""

    design: Annotated[list[Design], Field(min_length=1)] = Field(
        ["randomized"], description="randomized two-arm validation cohort, or single-arm (every patient treated)"
    )
    n: Annotated[list[Annotated[int, Field(ge=4)]], Field(min_length=1)] = Field(description="patients per cohort")
    interaction_hr: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = Field(
        [1.0], description="ratio of the within-arm HRs of biomarker positivity, treated over control (1: null)"
    )
    prognostic_hr: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = Field(
        [1.0],
        description="HR of biomarker-positive vs -negative in the control arm (treated arm: times interaction_hr)",
    )
    prevalence: Annotated[list[Annotated[float, Field(gt=0, lt=1)]], Field(min_length=1)] = Field(
        [0.5],
        description="share of biomarker-positive patients (continuous: the cut-point is its 1 - prevalence quantile)",
    )
    follow_up: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] | None = Field(
        None, description="months from the last entry to the data cutoff (.inf: none); default: the scenario's"
    )
    dropout_per_year: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] | None = Field(
        None, description="exponential loss-to-follow-up rate; default: the scenario's"
    )

    @field_validator(*DIMS)
    @classmethod
    def _distinct_values(cls, values: list | None) -> list | None:
        return values if values is None else _distinct(values)


class BiomarkerSetting(StrictModel):
    """The study biomarker's kind (its effects and prevalence are grid dimensions)."""

    kind: Literal["binary", "continuous"] = Field(
        "binary", description="binary, or standard normal (positive above the 1 - prevalence quantile)"
    )


class BayesMethodSpec(StrictModel):
    """The Bayesian PWE interaction method: small sampler settings and the decision threshold."""

    intervals: int = Field(6, ge=1, description="baseline intervals, cut at event-time quantiles")
    draws: int = Field(500, ge=10)
    tune: int = Field(500, ge=10)
    chains: int = Field(2, ge=1)
    threshold: float = Field(
        0.975,
        gt=0.5,
        lt=1,
        description="confirm when P(interaction HR < 1) exceeds this (bayes_cure_interaction: P(interaction odds ratio "
        "of cure > 1))",
    )
    priors: PwePriors = PwePriors()


class StudySpec(StrictModel):
    """A whole power-study file."""

    name: str
    description: str = ""
    scenario: str = Field("zuma7", description="a shipped scenario name or a path relative to the study file")
    seed: int = Field(ge=0, description="seed of every replicate's random stream (non-negative)")
    replicates: int = Field(ge=2, description="cohorts per setting")
    chunk_size: int = Field(100, ge=1, description="replicates per task (and per persisted chunk)")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="two-sided level of the tests; intervals are 1 - alpha")
    allocation: float | None = Field(
        None, gt=0, lt=1, description="treated share of a randomized cohort; default: the scenario's"
    )
    biomarker: BiomarkerSetting = BiomarkerSetting()
    grid: GridSpec
    methods: Annotated[list[MethodName], Field(min_length=1)] = Field(
        ["cox_interaction", "median_split"], description="analysis methods, in the order of the results"
    )
    bayes: BayesMethodSpec = BayesMethodSpec()

    @field_validator("methods")
    @classmethod
    def _distinct_methods(cls, values: list) -> list:
        return _distinct(values)


@dataclass(frozen=True)
class Setting:
    """One point of the grid: its index in the grid order and its value on every dimension."""

    index: int
    design: Design
    n: int
    interaction_hr: float
    prognostic_hr: float
    prevalence: float
    follow_up: float
    dropout_per_year: float


@dataclass(frozen=True)
class PowerStudy:
    """A validated study, its scenario, where it came from and its content hash."""

    spec: StudySpec
    scenario: Scenario
    path: Path
    digest: str

    @classmethod
    def from_config(cls, path: Path | str) -> PowerStudy:
        """Read and validate a study file, or a shipped study by name (see :func:`load_power_study`)."""
        return load_power_study(path)

    @property
    def coords(self) -> dict[str, list]:
        """Each dimension's values, scenario defaults filled in."""
        grid, accrual = self.spec.grid, self.scenario.accrual
        accrual_months, cutoff = accrual.months()
        return {
            "design": list(grid.design),
            "n": list(grid.n),
            "interaction_hr": list(grid.interaction_hr),
            "prognostic_hr": list(grid.prognostic_hr),
            "prevalence": list(grid.prevalence),
            "follow_up": list(grid.follow_up or [cutoff - accrual_months]),
            "dropout_per_year": list(grid.dropout_per_year or [accrual.dropout_per_year]),
        }

    @property
    def allocation(self) -> float:
        """Treated share of a randomized cohort."""
        arms = self.scenario.arms
        return self.spec.allocation or arms.treated / (arms.treated + arms.control)

    def settings(self) -> list[Setting]:
        """Every setting, in grid order."""
        product = itertools.product(*self.coords.values())
        return [Setting(index, *values) for index, values in enumerate(product)]

    def chunks(self) -> list[range]:
        """The replicates of each chunk, in order."""
        size, total = self.spec.chunk_size, self.spec.replicates
        return [range(start, min(start + size, total)) for start in range(0, total, size)]

    def cohort_model(self, setting: Setting) -> CohortModel:
        """The cohort model of one setting (see :mod:`tmesurv.simulations.power.cohorts`)."""
        efs = self.scenario.efs
        single = setting.design == "single_arm"
        return CohortModel(
            n=setting.n,
            treated=setting.n if single else treated_count(setting.n, self.allocation),
            accrual_months=self.scenario.accrual.months()[0],
            follow_up=setting.follow_up,
            dropout_per_year=setting.dropout_per_year,
            prevalence=setting.prevalence,
            continuous=self.spec.biomarker.kind == "continuous",
            prognostic_log_hr=math.log(setting.prognostic_hr),
            interaction_log_hr=math.log(setting.interaction_hr),
            treated_hazard=efs.treated,
            control_hazard=efs.control,
        )

    def content(self) -> dict:
        """The study and its scenario as plain data (what the hash is taken of)."""
        return _content(self.spec, self.scenario)


def treated_count(n: int, allocation: float) -> int:
    """Patients in the treated arm of a randomized cohort of ``n``: ``n * allocation`` rounded half up."""
    return math.floor(n * allocation + 0.5)


def canonical_json(content: dict) -> str:
    """Sorted-key JSON of plain data (dates as ISO text, infinities as ``Infinity``)."""
    return json.dumps(content, sort_keys=True, default=str)


def load_power_study(path: Path | str) -> PowerStudy:
    """Read and validate a study file and the scenario it names.

    Parameters
    ----------
    path
        A YAML study file, or the name of a shipped one (``zuma7_validation``).

    Returns
    -------
    PowerStudy
        The study, its scenario and its hash.

    Raises
    ------
    InputError
        If the file is missing, not YAML, breaks the schema (the message names each key), names a scenario that
        cannot be loaded, or makes an arm with fewer than two patients.
    """
    path = Path(path)
    if not path.is_file() and path.suffix == "":
        path = study_folder() / f"{path.name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in study_folder().glob("*.yaml")))
        raise InputError(f"study file '{path}' does not exist: give a path or a shipped name ({shipped})")
    spec = _parse(path)
    scenario = _scenario(spec.scenario, path)
    digest = hashlib.sha256(canonical_json(_content(spec, scenario)).encode()).hexdigest()[:16]
    study = PowerStudy(spec=spec, scenario=scenario, path=path.resolve(), digest=digest)
    _check_arms(study)
    return study


def study_folder() -> Path:
    """Where the shipped studies are: ``configs/studies`` (installed as ``tmesurv.configs`` package data)."""
    return Path(str(resources.files("tmesurv.configs") / "studies"))


def _content(spec: StudySpec, scenario: Scenario) -> dict:
    return {"study": spec.model_dump(), "scenario": scenario.model_dump()}


def _parse(path: Path) -> StudySpec:
    try:
        return StudySpec.model_validate(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as error:
        raise InputError(f"study file '{path}' is not valid YAML: {error}") from None
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"study file '{path}'", StudySpec)) from None


def _scenario(name: str, study_path: Path) -> Scenario:
    relative = study_path.parent / name
    try:
        return load_scenario(relative if relative.is_file() else name)
    except InputError as error:
        raise InputError(f"study file '{study_path}': 'scenario': {error}") from None


def _check_arms(study: PowerStudy) -> None:
    if "randomized" not in study.spec.grid.design:
        return
    for n in study.spec.grid.n:
        treated = treated_count(n, study.allocation)
        if min(treated, n - treated) < 2:
            raise InputError(
                f"study file '{study.path}': 'grid.n': n = {n} with allocation {study.allocation:.3g} gives "
                f"{treated} treated and {n - treated} control patients; each arm needs at least 2"
            )
