"""Simulation scenarios (``configs/scenarios/*.yaml``): every knob of a synthetic trial, validated like a config."""

from __future__ import annotations

import copy
import datetime as dt
from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from tmesurv.config import AnalysisConfig
from tmesurv.errors import InputError
from tmesurv.schema import StrictModel, describe_validation_error
from tmesurv.simulations.biomarkers import BiomarkerSpec
from tmesurv.simulations.event_times import ArmHazard
from tmesurv.simulations.pk_series import PK_SERIES_COLUMNS
from tmesurv.simulations.product import ProductSpec
from tmesurv.simulations.response import ResponseSpec

DAYS_PER_MONTH = 365.25 / 12


class ArmSetting(StrictModel):
    """Labels and sizes of the two arms."""

    treated_label: str = "axi-cel"
    control_label: str = "SOC"
    treated: int = Field(180, ge=2)
    control: int = Field(179, ge=2)


class Accrual(StrictModel):
    """Randomisation dates (uniform between start and end), the data cutoff, and dropout."""

    start: dt.date
    end: dt.date
    data_cutoff: dt.date
    dropout_per_year: float = Field(0.0, ge=0, description="exponential loss-to-follow-up rate")

    @model_validator(mode="after")
    def _ordered(self) -> Accrual:
        if not self.start <= self.end < self.data_cutoff:
            raise ValueError("need start <= end < data_cutoff")
        return self

    def months(self) -> tuple[float, float]:
        """Accrual length and cutoff, in months after the first randomisation."""
        return (self.end - self.start).days / DAYS_PER_MONTH, (self.data_cutoff - self.start).days / DAYS_PER_MONTH


class Stratum(StrictModel):
    """A randomisation stratification factor: level shares and a prognostic log HR per level (both arms)."""

    shares: dict[str, float]
    log_hr: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Stratum:
        if abs(sum(self.shares.values()) - 1) > 1e-9 or min(self.shares.values()) < 0:
            raise ValueError(f"shares must be >= 0 and sum to 1, got {sum(self.shares.values()):g}")
        unknown = set(self.log_hr) - set(self.shares)
        if unknown:
            raise ValueError(f"log_hr names unknown levels {sorted(unknown)}; levels are {sorted(self.shares)}")
        return self


class ArmEffect(StrictModel):
    """A biomarker's log hazard ratio per standard deviation of its latent value, in each arm."""

    treated: float = 0.0
    control: float = 0.0


class EfsSetting(StrictModel):
    """Event-free survival: per-arm baselines and biomarker effects (prognostic = equal, predictive = unequal)."""

    treated: ArmHazard
    control: ArmHazard
    effects: dict[str, ArmEffect] = Field(default_factory=dict)


class CalibrationTarget(StrictModel):
    """A published figure the scenario should reproduce, and how close the simulated mean must be."""

    target: str
    published: float
    tolerance: float = Field(gt=0)
    relative: bool = Field(False, description="tolerance as a fraction of the published value")
    source: str = ""


class Scenario(StrictModel):
    """A whole simulation scenario."""

    name: str
    description: str = ""
    arms: ArmSetting = ArmSetting()
    accrual: Accrual
    strata: dict[str, Stratum] = Field(default_factory=dict)
    efs: EfsSetting
    biomarkers: BiomarkerSpec = BiomarkerSpec()
    response: ResponseSpec = ResponseSpec()
    product: ProductSpec = ProductSpec()
    targets: list[CalibrationTarget] = Field(default_factory=list)
    analysis: dict = Field(
        default_factory=lambda: {"data": {"biomarkers": ["b_cell_ges", "cd19_gene", "sii", "ldh_elevated"]}},
        description="the analysis config written next to an export, without what the export fixes (path, id, arm, "
        "endpoints, strata): data roles (biomarkers, covariates, features, responses) and the analysis, screens and "
        "bayes sections; checked against the analysis config schema when the scenario is loaded",
    )


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        A YAML scenario, or the name of a shipped one (``zuma7``).

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    InputError
        If the file is missing, not YAML, or breaks the schema (the message names each key).
    """
    path = Path(path)
    if not path.is_file() and path.suffix == "":
        path = shipped_scenario(path.name)
    if not path.is_file():
        raise InputError(f"scenario file '{path}' does not exist: give a path or a shipped name ({shipped_names()})")
    try:
        raw = yaml.safe_load(path.read_text())
        scenario = Scenario.model_validate(raw)
    except yaml.YAMLError as error:
        raise InputError(f"scenario file '{path}' is not valid YAML: {error}") from None
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"scenario file '{path}'", Scenario)) from None
    try:
        AnalysisConfig.model_validate(analysis_config(scenario, "export.csv", seed=0))
    except ValidationError as error:
        source = f"scenario file '{path}', its 'analysis' section (the config written next to an export)"
        raise InputError(describe_validation_error(error, source, AnalysisConfig)) from None
    return scenario


def scenario_folder() -> Path:
    """Where the shipped scenarios are: ``configs/scenarios`` (installed as ``tmesurv.configs`` package data)."""
    return Path(str(resources.files("tmesurv.configs") / "scenarios"))


def shipped_scenario(name: str) -> Path:
    """Path of a shipped scenario by name."""
    return scenario_folder() / f"{name}.yaml"


def shipped_names() -> str:
    """Names of the shipped scenarios, comma-separated."""
    return ", ".join(sorted(p.stem for p in scenario_folder().glob("*.yaml")))


def analysis_config(scenario: Scenario, data_file: str, seed: int, pk_file: str | None = None) -> dict:
    """The analysis config (YAML-ready data) that reads an export of ``scenario`` saved as ``data_file``.

    What the export fixes (path, id, arm, endpoints: EFS for everyone, duration of response for responders;
    strata) comes from here; the rest from the scenario's ``analysis`` section. The Bayesian sampler gets the
    simulation's seed, so one seed reproduces the whole pipeline. ``pk_file``, when the export's CAR T level series
    was written (:mod:`tmesurv.simulations.pk_series`), becomes ``data.pk``.
    """
    extra = copy.deepcopy(scenario.analysis)
    data = {
        "path": data_file,
        "id": "subject_id",
        "arm": {"column": "arm", "treated": scenario.arms.treated_label, "control": scenario.arms.control_label},
        "time_unit": "months",
        "endpoints": {
            "efs": {"time": "efs_time", "event": "efs_event"},
            "dor": {"time": "dor_time", "event": "dor_event", "required": False},
        },
        "strata": list(scenario.strata),
        **extra.pop("data", {}),
    }
    if pk_file is not None:
        data["pk"] = dict(zip(("path", "id", "day", "level"), [pk_file, *PK_SERIES_COLUMNS], strict=True))
    analysis = {"endpoint": "efs", "cutpoint": "median", "landmarks": [12, 18, 24], **extra.pop("analysis", {})}
    bayes = {"seed": seed, **extra.pop("bayes", {})}
    return {"data": data, "analysis": analysis, **extra, "bayes": bayes}
