"""The data contract's one validator: a raw export becomes a :class:`~tmesurv.cohort.Cohort`.

Every reader (CSV, Parquet, ADaM, GEO, a DataFrame in memory, a simulation) ends in :func:`build_cohort`, so a model
never knows where its data came from, and every problem is reported the same way: file, column, rows, and what to do.
"""

from __future__ import annotations

import fnmatch

import numpy as np
import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.cohort import Cohort, RawExport
from tmesurv.config import MONTHS_PER_UNIT, DataSpec
from tmesurv.errors import InputError


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
    _require_rows(export)
    _require_columns(export, spec)
    ids = _validated_ids(export, spec.id)
    patients, notes = pd.DataFrame(index=pd.Index(ids, name="id")), []
    patients["arm"] = _validated_arm(export, spec) if spec.arm is not None else spec.single_arm
    months_per_unit = MONTHS_PER_UNIT[spec.time_unit]
    for name, endpoint in spec.endpoints.items():
        time_column, event_column = _endpoint_columns(name, endpoint)
        present = _endpoint_present(export, time_column, event_column, endpoint.required)
        time = _validated_time(export, time_column, present)
        patients[f"{name}.time"] = time * months_per_unit
        notes += _time_zero_note(name, time_column, time)
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
        notes=tuple(notes),
    )
    if spec.single_arm is None:
        _require_two_arms_with_events(cohort, spec)
    return cohort


def _require_rows(export: RawExport) -> None:
    if export.frame.empty:
        columns = ", ".join(map(str, export.frame.columns)) or "none"
        raise InputError(
            f"file '{export.default_file}' has no rows (columns: {columns}): it holds a header only; export the "
            "patients into it"
        )


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
    arm = np.full(len(values), None, dtype=object)
    arm[_is_arm_code(values, spec.arm.treated)] = TREATED
    arm[_is_arm_code(values, spec.arm.control)] = CONTROL
    unknown = pd.isna(arm)
    if unknown.any():
        seen = ", ".join(repr(v) for v in pd.unique(values[unknown].fillna("<missing>"))[:5])
        raise InputError(
            f"{export.locate(column, unknown)}: arm value {seen} is neither the treated value "
            f"'{spec.arm.treated}' nor the control value '{spec.arm.control}'. "
            "Fix data.arm in the config, or remove these patients from the file."
        )
    return arm


def _is_arm_code(values: pd.Series, code: str | int | bool) -> np.ndarray:
    """Which values (stripped text) are the arm code: text as written; a number or true/false by value (1, 1.0)."""
    if isinstance(code, str):
        return (values == code.strip()).fillna(False).to_numpy(dtype=bool)
    text = values.str.lower()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if isinstance(code, bool):
        return (text == str(code).lower()).fillna(False).to_numpy(dtype=bool) | (numbers == float(code))
    return numbers == float(code)


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
    negative = present & (~(time >= 0) | ~np.isfinite(time))
    if negative.any():
        raise InputError(
            f"{export.locate(column, negative)}: time must be zero or positive and finite "
            f"(found {time[negative][0]:g}); check the export's time origin."
        )
    return time


def _time_zero_note(endpoint: str, column: str, time: np.ndarray) -> list[str]:
    """A note counting the patients with follow-up time 0 (kept, as R's coxph and survfit keep them)."""
    zero = int((time == 0).sum())
    if zero == 0:
        return []
    return [
        f"endpoint {endpoint}: {zero} patient(s) with time 0 in column '{column}' are kept, as R's coxph and survfit "
        "keep them (an event at time 0 lowers survival at time 0)"
    ]


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
        examples = ", ".join(repr(v) for v in pd.unique(values[not_numeric])[:3])
        count = int(not_numeric.sum())
        raise InputError(
            f"{export.locate(column, not_numeric)}: {count} value{'s' if count > 1 else ''} of this biomarker "
            f"{'are' if count > 1 else 'is'} not a number ({examples}), and it has more than two levels. "
            "Give numbers, or recode it into two levels."
        )
    return numeric, None


def _level_name(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _require_two_arms_with_events(cohort: Cohort, spec: DataSpec) -> None:
    arms = set(cohort.patients["arm"])
    if arms != {TREATED, CONTROL}:
        only = next(iter(arms))
        missing = spec.arm.control if only == TREATED else spec.arm.treated
        raise InputError(
            f"file '{cohort.source}', column '{spec.arm.column}': every row is in the {only} arm, none has the "
            f"{'control' if only == TREATED else 'treated'} value {missing!r}; tmesurv compares two randomized arms. "
            "Check data.arm in the config (treated and control values) against the file."
        )
    for endpoint in cohort.endpoints:
        if endpoint in cohort.partial_endpoints:
            continue  # analysed only in screens, which note an arm without events
        event_column = _endpoint_columns(endpoint, spec.endpoints[endpoint])[1]
        for arm in (TREATED, CONTROL):
            events = cohort.arm_subset(arm).event(endpoint).sum()
            if events == 0:
                raise InputError(
                    f"file '{cohort.source}', column '{event_column}' (endpoint '{endpoint}'): the {arm} arm has no "
                    "events (no 1 in its rows), so no hazard ratio can be estimated. Check the event coding "
                    "(1 = event, 0 = censored) or the data cutoff."
                )
