"""The ``Cohort`` data contract: one row per patient with arm, endpoints, biomarkers, covariates and strata.

A cohort is built from a config file (:meth:`Cohort.from_config`, what the command line does) or from a DataFrame in
memory (:meth:`Cohort.from_frame`); both end in the one validator, :func:`tmesurv.contract.build_cohort`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tmesurv.arms import TREATED
from tmesurv.config import IN_MEMORY, AnalysisConfig, DataSpec, load_config
from tmesurv.errors import InputError, describe_rows
from tmesurv.models.cox.settings import SubgroupPlan, combined_subgroup_name


@dataclass(frozen=True)
class RawExport:
    """A trial export as read from disk, before validation: one row per patient, the config's column names.

    Parameters
    ----------
    frame
        One row per patient; columns as named in the config.
    default_file
        The file most columns come from.
    default_rows
        Row number of each frame row in ``default_file``, as a user would find it (CSV: line number).
    column_files, column_rows
        For columns assembled from another file (an ADaM ADTTE): that file and the rows in it.
    """

    frame: pd.DataFrame
    default_file: str
    default_rows: np.ndarray
    column_files: Mapping[str, str] = field(default_factory=dict)
    column_rows: Mapping[str, np.ndarray] = field(default_factory=dict)

    def locate(self, column: str, bad: np.ndarray) -> str:
        """Say where the rows flagged in ``bad`` are: file, column and the first few rows (with ids)."""
        file = self.column_files.get(column, self.default_file)
        rows = np.asarray(self.column_rows.get(column, self.default_rows))[bad]
        return f"file '{file}', column '{column}', {describe_rows(list(rows))}"


@dataclass(frozen=True)
class Exclusion:
    """Patients (or, reading expression, samples) left out of one analysis, and why."""

    analysis: str
    reason: str
    ids: tuple[str, ...]
    unit: str = "patients"  # what the ids count: "samples" for GEO/expression samples matched to no patient

    @property
    def count(self) -> int:
        """Number of patients (or samples) excluded."""
        return len(self.ids)


EXCLUSION_COLUMNS = ("analysis", "reason", "count", "unit", "ids")


def exclusion_table(exclusions: Sequence[Exclusion]) -> pd.DataFrame:
    """Exclusions as the rows of ``exclusions.csv`` (ids joined by ``;``)."""
    rows = [[e.analysis, e.reason, e.count, e.unit, ";".join(e.ids)] for e in exclusions]
    return pd.DataFrame(rows, columns=list(EXCLUSION_COLUMNS))


@dataclass(frozen=True)
class Cohort:
    """One row per patient: arm, endpoints (time in months, event 1/0), biomarkers, covariates, strata.

    ``patients`` is indexed by ``id``; its ``arm`` column holds ``"treated"``/``"control"``, each endpoint ``e`` has
    float columns ``e.time`` (months, > 0) and ``e.event`` (1 = event, 0 = censored); an endpoint in
    ``partial_endpoints`` (duration of response) is NaN for patients who do not have it -- take
    :meth:`with_endpoint` first. Biomarkers are floats and may be missing (analyses exclude and count those patients);
    a two-level biomarker is coded 0/1 and its original levels are in ``biomarker_levels``. ``features`` (floats) and
    ``responses`` (text) are the columns of the association screens, and may be missing. ``expression`` is an
    optional genes x patients matrix (log2; columns are the ids of the patients with a sample).
    ``data_exclusions`` are what the reader left out before the analyses (patients without an expression sample,
    samples of another visit or of no patient; listed with every analysis's exclusions); ``notes`` what it noticed
    (genes of a gene set missing from the panel). ``product`` (floats) are the treated arm's CAR T product, PK and
    toxicity columns (``data.product`` and the columns derived from ``data.pk``), missing for control patients.
    """

    patients: pd.DataFrame
    endpoints: tuple[str, ...]
    biomarkers: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    strata: tuple[str, ...] = ()
    source: str = "<memory>"
    biomarker_levels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    expression: pd.DataFrame | None = None
    features: tuple[str, ...] = ()
    responses: tuple[str, ...] = ()
    partial_endpoints: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    data_exclusions: tuple[Exclusion, ...] = ()
    notes: tuple[str, ...] = ()
    config: AnalysisConfig | None = None
    config_path: Path | None = None

    @classmethod
    def from_config(cls, path: Path | str) -> Cohort:
        """Read and validate the cohort that a config file describes: the same cohort ``tmesurv cox CONFIG`` analyses.

        Parameters
        ----------
        path
            The analysis config (YAML); data paths in it are relative to its folder.

        Returns
        -------
        Cohort
            The validated cohort; ``config`` holds the whole config, whose analysis and Bayesian sections are the
            defaults of :func:`tmesurv.fit_cox` and :func:`tmesurv.fit_pwe`.

        Raises
        ------
        InputError
            Naming the file, key, column and rows of any problem.
        """
        from tmesurv.readers import read_cohort  # the readers build cohorts

        config, resolved = load_config(path)
        return replace(read_cohort(config.data), config=config, config_path=resolved)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        id: str | None = "id",
        arm: str | None = "arm",
        treated: str | int | bool = "treated",
        control: str | int | bool = "control",
        time: str = "time",
        event: str = "event",
        endpoint: str = "survival",
        time_unit: Literal["days", "weeks", "months", "years"] = "months",
        biomarkers: Sequence[str] = (),
        covariates: Sequence[str] = (),
        strata: Sequence[str] = (),
        single_arm: Literal["treated", "control"] | None = None,
    ) -> Cohort:
        """Validate a DataFrame (one row per patient) into a cohort, as a config's ``data`` section would.

        Parameters
        ----------
        frame
            One row per patient.
        id
            The patient id column; None: the frame's index.
        arm, treated, control
            The arm column and its treated and control values (compared as text, so ``1``/``0`` work).
        time, event
            The endpoint's columns: follow-up time in ``time_unit`` and the event indicator (1 event, 0 censored).
        endpoint
            The endpoint's name in results (e.g. ``"efs"``).
        time_unit
            ``days``, ``weeks``, ``months`` or ``years``; times are converted to months (1 month = 365.25/12 days).
        biomarkers, covariates, strata
            Columns with these roles (biomarkers numeric, or two levels coded 0/1).
        single_arm
            For a one-arm cohort (external validation) instead of ``arm``: the arm every patient is in.

        Returns
        -------
        Cohort
            The validated cohort; ``config`` holds the equivalent config (``data.path`` empty), whose analysis section
            (endpoint, median cut-points, landmarks 12 and 24 months) is the default of :func:`tmesurv.fit_cox`.

        Raises
        ------
        InputError
            Naming the column and the rows (the frame's index labels) of any problem, as for a file.
        """
        from tmesurv.contract import build_cohort  # the validator needs this class

        if id is None:
            id = "__index__"
            frame = frame.rename_axis(id).reset_index()
        data = {
            "id": id,
            "time_unit": time_unit,
            "endpoints": {endpoint: {"time": time, "event": event}},
            "biomarkers": list(biomarkers),
            "covariates": list(covariates),
            "strata": list(strata),
        }
        if single_arm is None:
            data["arm"] = {"column": arm, "treated": str(treated), "control": str(control)}
        else:
            data["single_arm"] = single_arm
        config = _in_memory_config(data, endpoint)
        export = RawExport(frame=frame.reset_index(drop=True), default_file=IN_MEMORY_SOURCE,
                           default_rows=np.asarray(frame.index))  # fmt: skip
        return replace(build_cohort(export, config.data), config=config)

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.patients)

    @property
    def treated(self) -> np.ndarray:
        """1 for the treated arm, 0 for control (int array)."""
        return (self.patients["arm"].to_numpy() == TREATED).astype(int)

    def time(self, endpoint: str) -> np.ndarray:
        """Times in months for ``endpoint``."""
        return self.patients[f"{endpoint}.time"].to_numpy(dtype=float)

    def event(self, endpoint: str) -> np.ndarray:
        """Event indicators (1 = event, 0 = censored) for ``endpoint``."""
        return self.patients[f"{endpoint}.event"].to_numpy(dtype=int)

    def with_endpoint(self, endpoint: str) -> tuple[Cohort, list[Exclusion]]:
        """The patients who have ``endpoint`` (all of them unless it is partial), and who was left out."""
        missing = self.patients[f"{endpoint}.time"].isna().to_numpy()
        exclusions = []
        if missing.any():
            reason = f"no {endpoint} (time and event missing)"
            exclusions.append(Exclusion(f"endpoint {endpoint}", reason, tuple(self.patients.index[missing])))
        return self.subset(~missing), exclusions

    def subset(self, keep: np.ndarray) -> Cohort:
        """The patients flagged in the boolean array ``keep``."""
        return replace(self, patients=self.patients[np.asarray(keep, dtype=bool)])

    def arm_subset(self, arm: str) -> Cohort:
        """The patients of one arm (``"treated"`` or ``"control"``)."""
        return self.subset(self.patients["arm"].to_numpy() == arm)

    def complete_cases(self, columns: Sequence[str], analysis: str) -> tuple[Cohort, list[Exclusion]]:
        """Drop patients with a missing value in ``columns``, and say who was dropped and why.

        Parameters
        ----------
        columns
            Biomarker, covariate or stratum columns the analysis needs.
        analysis
            Name of the analysis, carried into each :class:`Exclusion`.

        Returns
        -------
        tuple[Cohort, list[Exclusion]]
            The complete cases and one exclusion record per column with missing values.
        """
        exclusions = []
        missing_any = np.zeros(self.n, dtype=bool)
        for column in columns:
            missing = self.patients[column].isna().to_numpy() & ~missing_any
            if missing.any():
                ids = tuple(self.patients.index[missing])
                exclusions.append(Exclusion(analysis, f"missing {column}", ids))
            missing_any |= missing
        return replace(self, patients=self.patients[~missing_any]), exclusions

    def analysis_exclusions(self, spec: SubgroupPlan | None = None) -> list[Exclusion]:
        """Patients the analyses leave out, and why.

        A missing stratum (stratified analysis) or biomarker (its analyses); with a subgroup plan ``spec`` (such as
        the config's analysis section), also a missing value needed by a combined subgroup or a subgroup covariate.
        """
        exclusions = list(self.data_exclusions)
        if self.strata:
            exclusions += self.complete_cases(list(self.strata), analysis="treatment_stratified")[1]
        for biomarker in self.biomarkers:
            exclusions += self.complete_cases([biomarker], analysis=f"biomarker {biomarker}")[1]
        if spec is not None:
            for conditions in spec.combined_subgroups:
                analysis = f"subgroup {combined_subgroup_name(conditions)}"
                exclusions += self.complete_cases(list(conditions), analysis=analysis)[1]
            for covariate in spec.subgroup_covariates:
                exclusions += self.complete_cases([covariate], analysis=f"covariate {covariate}")[1]
        return exclusions


IN_MEMORY_SOURCE = "<DataFrame>"  # how errors and results name a cohort built from a DataFrame


def _in_memory_config(data: dict, endpoint: str) -> AnalysisConfig:
    """The config of a DataFrame cohort: its data section (no file) and the default analysis of ``endpoint``."""
    from pydantic import ValidationError

    from tmesurv.schema import describe_validation_error

    try:
        spec = DataSpec.model_validate(data, context={IN_MEMORY: True})
    except ValidationError as error:
        raise InputError(describe_validation_error(error, "Cohort.from_frame", DataSpec)) from None
    return AnalysisConfig.model_validate({"data": spec, "analysis": {"endpoint": endpoint}}, context={IN_MEMORY: True})
