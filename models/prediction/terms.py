"""The validation model's terms: the patients a model applies to, its design matrix, each term's development values.

A term is a column of the cohort (a biomarker or covariate), possibly transformed (:mod:`.transforms`: log, clip,
rcs, factor); the design is the terms' columns and, for a treatment-benefit model, ``arm`` and ``arm:<column>`` for
each column of each interaction term. Harmonisation of an external cohort maps its inputs (numeric source columns,
factor dummies) onto each input's development distribution (:class:`TermDistribution`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.prediction.settings import ValidationModelSpec
from tmesurv.models.prediction.transforms import ModelTerms, require_columns

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


def design_columns(spec: ValidationModelSpec, terms: ModelTerms) -> list[str]:
    """Names of the design columns of the validation model (see :func:`validation_design`)."""
    if not spec.uses_arm:
        return terms.columns
    interactions = [interaction_term(column) for text in spec.interactions for column in terms.term(text).columns]
    return [ARM, *terms.columns, *interactions]


def validation_design(
    inputs: pd.DataFrame, treated: np.ndarray, spec: ValidationModelSpec, terms: ModelTerms
) -> pd.DataFrame:
    """The design matrix of the validation model.

    Parameters
    ----------
    inputs
        The model's inputs (:attr:`ModelTerms.inputs`: numeric source columns and factor dummies), no missing values.
    treated
        ``(n,)`` 1 for the treated arm, 0 for control (used only by a model with an arm term).
    spec
        The model.
    terms
        Its fitted terms (knots, levels).

    Returns
    -------
    pandas.DataFrame
        Columns :func:`design_columns`: ``arm`` (1 = treated), the terms' columns, and ``arm:<column>`` for each
        column of each interaction term.
    """
    design = terms.design(inputs).reset_index(drop=True)
    if not spec.uses_arm:
        return design
    arm = np.asarray(treated, dtype=float)
    design.insert(0, ARM, arm)
    for text in spec.interactions:
        for column in terms.term(text).columns:
            design[interaction_term(column)] = arm * design[column].to_numpy()
    return design[design_columns(spec, terms)]


def model_patients(
    cohort: Cohort, spec: ValidationModelSpec, analysis: str, terms: ModelTerms | None = None
) -> tuple[Cohort, list[Exclusion], ModelTerms]:
    """The patients a validation model applies to: its arm, with every term known; and the model's inputs.

    Parameters
    ----------
    cohort
        The cohort (development or external).
    spec
        The model.
    analysis
        Name carried into each :class:`~tmesurv.cohort.Exclusion`.
    terms
        The fitted terms (external cohort); None: fit them (knots, levels) on these patients (development).

    Returns
    -------
    tuple[Cohort, list[Exclusion], ModelTerms]
        The patients, with the model's inputs (:attr:`ModelTerms.inputs`) as float columns; who was left out (other
        arm, missing term) and why; the fitted terms.

    Raises
    ------
    InputError
        If a term's source column is missing or has values the term cannot take (text in a numeric term, a level
        not seen in development, log of a value at or below 0), naming the file, column and patients.
    """
    exclusions = []
    if spec.arm != "all":
        other = cohort.patients["arm"].to_numpy() != spec.arm
        if other.any():
            reason = f"not in the {spec.arm} arm the model is fitted on"
            exclusions.append(Exclusion(analysis, reason, tuple(cohort.patients.index[other])))
        cohort = cohort.subset(~other)
    source = str(cohort.source)
    parsed = ModelTerms.parse(spec.terms)
    require_columns(cohort.patients, parsed.terms, source)
    if terms is None:
        complete, _ = cohort.complete_cases(spec.sources, analysis)
        terms = parsed.fit(complete.patients, source)
    inputs = terms.encode(cohort.patients, source)
    patients = cohort.patients.drop(columns=[c for c in inputs.columns if c in cohort.patients.columns])
    cohort = replace(cohort, patients=pd.concat([patients, inputs], axis=1))
    complete, missing = cohort.complete_cases(spec.sources, analysis)
    return complete, exclusions + missing, terms
