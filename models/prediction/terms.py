"""The validation model's terms: the patients a model applies to, its design matrix, each term's development values.

A term is a numeric column of the cohort (a biomarker or covariate); the design is the terms and, for a
treatment-benefit model, ``arm`` and ``arm:<interaction>``. Harmonisation of an external cohort maps its values onto
each term's development distribution (:class:`TermDistribution`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import MAX_ROWS_SHOWN, InputError
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.prediction.settings import ValidationModelSpec

QUANTILE_PROBABILITIES = np.linspace(0.0, 1.0, 101)
ANALYSIS = "validation_model"  # the analysis named in the exclusions of the model's patients


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


def _describe_ids(ids: list[str]) -> str:
    """``"patients P1, P2 and 3 more"``: the first few patient ids."""
    shown, extra = ", ".join(map(str, ids[:MAX_ROWS_SHOWN])), len(ids) - MAX_ROWS_SHOWN
    return ("patient " if len(ids) == 1 else "patients ") + shown + (f" and {extra} more" if extra > 0 else "")
