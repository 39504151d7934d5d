"""The ``Cohort`` data contract and its one validator.

Every reader (CSV, Parquet, ADaM, simulation) ends in :func:`build_cohort`, so a model never knows where its data
came from, and every problem is reported the same way: file, column, rows, and what to do.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tmesurv.config import MONTHS_PER_UNIT, DataSpec
from tmesurv.errors import InputError, describe_rows
from tmesurv.models.cox.settings import SubgroupPlan, combined_subgroup_name

TREATED, CONTROL = "treated", "control"


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


def build_cohort(export: RawExport, spec: DataSpec) -> Cohort:
    """Validate a raw export against the data spec and turn it into a :class:`Cohort`.

    Parameters
    ----------
    export
        The export as read by a reader.
    spec
        The ``data`` section of the analysis config.

    Returns
    -------
    Cohort
        The validated cohort; times converted to months.

    Raises
    ------
    InputError
        Naming file, column and rows, for every kind of bad input the contract rules out.
    """
    _require_columns(export, spec)
    ids = _validated_ids(export, spec.id)
    patients = pd.DataFrame(index=pd.Index(ids, name="id"))
    patients["arm"] = _validated_arm(export, spec) if spec.arm is not None else spec.single_arm
    months_per_unit = MONTHS_PER_UNIT[spec.time_unit]
    for name, endpoint in spec.endpoints.items():
        time_column, event_column = _endpoint_columns(name, endpoint)
        present = _endpoint_present(export, time_column, event_column, endpoint.required)
        patients[f"{name}.time"] = _validated_time(export, time_column, present) * months_per_unit
        patients[f"{name}.event"] = _validated_event(export, event_column, present)
    levels = {}
    for biomarker in spec.biomarkers:
        patients[biomarker], coded_levels = _validated_biomarker(export, biomarker)
        if coded_levels is not None:
            levels[biomarker] = coded_levels
    for column in [*spec.covariates, *spec.strata]:
        patients[column] = export.frame[column].to_numpy()
    features = _feature_columns(export, spec)
    for feature in features:
        if feature not in spec.biomarkers:
            patients[feature] = _validated_feature(export, feature, "data.features")
    for column in spec.product:
        if column not in patients.columns:
            patients[column] = _validated_feature(export, column, "data.product")
    for column in spec.responses:
        patients[column] = export.frame[column].astype("string").str.strip().to_numpy(dtype=object)
    cohort = Cohort(
        patients=patients,
        endpoints=tuple(spec.endpoints),
        biomarkers=tuple(spec.biomarkers),
        covariates=tuple(spec.covariates),
        strata=tuple(spec.strata),
        source=export.default_file,
        biomarker_levels=levels,
        features=tuple(features),
        responses=tuple(spec.responses),
        product=tuple(spec.product),
        partial_endpoints=tuple(name for name, endpoint in spec.endpoints.items() if not endpoint.required),
    )
    if spec.single_arm is None:
        _require_two_arms_with_events(cohort)
    return cohort


def _endpoint_columns(name: str, endpoint) -> tuple[str, str]:
    if endpoint.paramcd is not None:  # ADaM readers name the assembled columns after the endpoint
        return f"{name}.time", f"{name}.event"
    return endpoint.time, endpoint.event


def _require_columns(export: RawExport, spec: DataSpec) -> None:
    wanted = [("data.id", spec.id)] + ([("data.arm.column", spec.arm.column)] if spec.arm is not None else [])
    for name, endpoint in spec.endpoints.items():
        time_column, event_column = _endpoint_columns(name, endpoint)
        wanted += [
            (f"data.endpoints.{name}.time", time_column),
            (f"data.endpoints.{name}.event", event_column),
        ]
    for role in ("biomarkers", "covariates", "strata", "responses", "product"):
        wanted += [(f"data.{role}", column) for column in getattr(spec, role)]
    wanted += [("data.features", name) for name in spec.features if not _is_pattern(name)]
    missing = [(key, column) for key, column in wanted if column not in export.frame.columns]
    if missing:
        key, column = missing[0]
        available = ", ".join(map(str, export.frame.columns))
        raise InputError(
            f"file '{export.default_file}' has no column '{column}' (named by {key} in the config); "
            f"its columns are: {available}. Fix the column name in the config or in the file."
        )


def patient_ids(export: RawExport, column: str) -> pd.Index:
    """The export's patient ids (stripped text), checked as :func:`build_cohort` checks them.

    Raises
    ------
    InputError
        If the id column is missing, or an id is missing or repeated.
    """
    if column not in export.frame.columns:
        raise InputError(
            f"file '{export.default_file}' has no column '{column}' (named by data.id in the config); its columns "
            f"are: {', '.join(map(str, export.frame.columns))}. Fix the column name in the config or in the file."
        )
    return pd.Index(_validated_ids(export, column), name="id")


def _validated_ids(export: RawExport, column: str) -> list[str]:
    values = export.frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(f"{export.locate(column, missing)}: patient id is missing. Give every patient an id.")
    ids = values.astype(str).str.strip()
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        examples = ", ".join(sorted(set(ids[duplicated]))[:5])
        raise InputError(
            f"{export.locate(column, duplicated)}: duplicated patient ids ({examples}). "
            "Each patient must appear once; for long-format data keep one row per patient."
        )
    return list(ids)


def _validated_arm(export: RawExport, spec: DataSpec) -> np.ndarray:
    column = spec.arm.column
    values = export.frame[column].astype("string").str.strip()
    coding = {spec.arm.treated: TREATED, spec.arm.control: CONTROL}
    arm = values.map(coding).to_numpy(dtype=object)
    unknown = pd.isna(arm)
    if unknown.any():
        seen = ", ".join(repr(v) for v in pd.unique(values[unknown].fillna("<missing>"))[:5])
        raise InputError(
            f"{export.locate(column, unknown)}: arm value {seen} is neither the treated value "
            f"'{spec.arm.treated}' nor the control value '{spec.arm.control}'. "
            "Fix data.arm in the config, or remove these patients from the file."
        )
    return arm


def _endpoint_present(export: RawExport, time_column: str, event_column: str, required: bool) -> np.ndarray:
    """Which patients have the endpoint: all of them, or for a partial endpoint those with a time or an event."""
    time_missing = export.frame[time_column].isna().to_numpy()
    event_missing = export.frame[event_column].isna().to_numpy()
    if required:
        return np.ones(len(export.frame), dtype=bool)
    half = time_missing != event_missing
    if half.any():
        column = time_column if time_missing[half].any() else event_column
        raise InputError(
            f"{export.locate(column, half & (time_missing if column == time_column else event_missing))}: missing, "
            f"while the endpoint's other column ('{event_column if column == time_column else time_column}') is not. "
            "A patient without this endpoint needs both missing; one who has it needs both."
        )
    return ~time_missing


def _numeric(export: RawExport, column: str, what: str, present: np.ndarray) -> np.ndarray:
    """The column as floats; NaN for patients not ``present``, an error for any other missing or text value."""
    raw = export.frame[column]
    missing = raw.isna().to_numpy() & present
    if missing.any():
        raise InputError(
            f"{export.locate(column, missing)}: {what} is missing (NaN or empty). "
            "Every patient needs a time and an event indicator for every endpoint; fill them in or remove the rows "
            "(for an endpoint only some patients have, such as duration of response, set required: false)."
        )
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    not_numeric = np.isnan(numeric) & present
    if not_numeric.any():
        examples = ", ".join(repr(v) for v in raw[not_numeric].astype(str).unique()[:3])
        raise InputError(f"{export.locate(column, not_numeric)}: {what} is not a number ({examples}).")
    return np.where(present, numeric, np.nan)


def _validated_time(export: RawExport, column: str, present: np.ndarray) -> np.ndarray:
    time = _numeric(export, column, "time", present)
    not_positive = present & (~(time > 0) | ~np.isfinite(time))
    if not_positive.any():
        raise InputError(
            f"{export.locate(column, not_positive)}: time must be positive and finite "
            f"(found {time[not_positive][0]:g}). A patient censored or failing on the day of randomisation "
            "is usually given half a day; check the export's time origin."
        )
    return time


def _validated_event(export: RawExport, column: str, present: np.ndarray) -> np.ndarray:
    event = _numeric(export, column, "event indicator", present)
    bad = present & ~np.isin(event, (0.0, 1.0))
    if bad.any():
        codes = ", ".join(f"{v:g}" for v in np.unique(event[bad])[:5])
        raise InputError(
            f"{export.locate(column, bad)}: event must be 1 (event) or 0 (censored), found {codes}. "
            "Recode the column (an ADaM CNSR column is read with event = 1 - CNSR)."
        )
    return event.astype(int) if present.all() else event


def _is_pattern(name: str) -> bool:
    return any(character in name for character in "*?[")


def _feature_columns(export: RawExport, spec: DataSpec) -> list[str]:
    """``data.features`` with patterns expanded against the export's columns (file order), without repeats."""
    columns = [str(column) for column in export.frame.columns]
    features: list[str] = []
    for name in spec.features:
        matches = fnmatch.filter(columns, name) if _is_pattern(name) else [name]
        if not matches:
            raise InputError(
                f"file '{export.default_file}': the pattern '{name}' in data.features matches no column. "
                "Check the pattern against the file's columns."
            )
        features += [match for match in matches if match not in features]
    return features


def _validated_feature(export: RawExport, column: str, listed_in: str) -> np.ndarray:
    """A numeric column named in ``listed_in`` (data.features or data.product); missing values stay NaN."""
    raw = export.frame[column]
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    text = raw.notna().to_numpy() & np.isnan(numeric)
    if text.any():
        examples = ", ".join(repr(v) for v in raw[text].astype(str).unique()[:3])
        raise InputError(
            f"{export.locate(column, text)}: a column of {listed_in} must be numeric, found {examples}. "
            f"Leave missing values empty, or remove the column from {listed_in}."
        )
    return numeric


def _validated_biomarker(export: RawExport, column: str) -> tuple[np.ndarray, tuple[str, str] | None]:
    raw = export.frame[column]
    present = raw.notna().to_numpy()
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    is_numeric = not (present & np.isnan(numeric)).any()
    values = numeric if is_numeric else raw.astype("string").str.strip().to_numpy(dtype=object)
    distinct = pd.unique(values[present])
    if len(distinct) < 2:
        raise InputError(
            f"{export.locate(column, present)}: biomarker has only one distinct value "
            f"({distinct[0] if len(distinct) else 'all missing'}), so it cannot split patients. "
            "Remove it from data.biomarkers or check the export."
        )
    if len(distinct) == 2:
        low, high = sorted(distinct)
        coded = np.where(present, (values == high).astype(float), np.nan)
        return coded, (_level_name(low), _level_name(high))
    if not is_numeric:
        not_numeric = present & np.isnan(numeric)
        raise InputError(
            f"{export.locate(column, not_numeric)}: biomarker has {len(distinct)} non-numeric values. "
            "Give a numeric value, or recode it into two levels."
        )
    return numeric, None


def _level_name(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _require_two_arms_with_events(cohort: Cohort) -> None:
    arms = set(cohort.patients["arm"])
    if arms != {TREATED, CONTROL}:
        only = next(iter(arms))
        raise InputError(
            f"file '{cohort.source}': only the {only} arm is present; tmesurv compares two randomized arms. "
            "Check data.arm in the config (treated and control values) against the file."
        )
    for endpoint in cohort.endpoints:
        if endpoint in cohort.partial_endpoints:
            continue  # analysed only in screens, which note an arm without events
        for arm in (TREATED, CONTROL):
            events = cohort.arm_subset(arm).event(endpoint).sum()
            if events == 0:
                raise InputError(
                    f"file '{cohort.source}', endpoint '{endpoint}': the {arm} arm has no events, so no hazard "
                    "ratio can be estimated. Check the event column coding (1 = event) or the data cutoff."
                )
