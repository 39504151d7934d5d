"""What every saved fit of the validation model carries besides its parameters: the development cohort and metadata."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmesurv import __version__
from tmesurv.models.cox.km import median_follow_up
from tmesurv.models.designs import interaction_term
from tmesurv.models.prediction.settings import ValidationModelPlan, ValidationModelSpec
from tmesurv.models.prediction.terms import TermDistribution, design_columns
from tmesurv.models.prediction.transforms import ModelTerms

METADATA_ATTR = "tmesurv_validation_model"  # posterior attribute holding the model's metadata (JSON)
DEVELOPMENT_ATTR = "tmesurv_validation_development"  # posterior attribute: the development inputs (JSON)
RISK_FLOOR = 1e-12  # predicted risks are kept in [RISK_FLOOR, 1 - RISK_FLOOR]: log(-log(1 - risk)) stays finite


@dataclass(frozen=True)
class Development:
    """What validation needs to know about the development cohort.

    Attributes
    ----------
    n, events
        Patients and events the model was fitted on.
    follow_up_max
        Last follow-up time (months): predictions beyond it are extrapolations.
    follow_up_median
        Median follow-up by reverse Kaplan-Meier (NaN when not reached).
    first_event
        First event time: a Cox model predicts no risk before it.
    terms
        Distribution of every term (:class:`TermDistribution`).
    values
        The terms' values, one row per patient (no ids), for the case-mix comparison.
    """

    n: int
    events: int
    follow_up_max: float
    follow_up_median: float
    first_event: float
    terms: Mapping[str, TermDistribution]
    values: pd.DataFrame

    @classmethod
    def of(cls, time: np.ndarray, event: np.ndarray, values: pd.DataFrame) -> Development:
        """Summarise the development cohort's outcome and term ``values`` (one column per term)."""
        time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
        return cls(
            n=int(time.size),
            events=int(event.sum()),
            follow_up_max=float(time.max()),
            follow_up_median=float(median_follow_up(time, event)),
            first_event=float(time[event == 1].min()),
            terms={term: TermDistribution.of(values[term].to_numpy()) for term in values.columns},
            values=values.reset_index(drop=True),
        )

    def to_json(self) -> dict:
        """Plain data for ``validation_model.json`` (a median not reached becomes null)."""
        median = None if math.isnan(self.follow_up_median) else self.follow_up_median
        return {
            "n": self.n,
            "events": self.events,
            "follow_up_max": self.follow_up_max,
            "follow_up_median": median,
            "first_event": self.first_event,
            "terms": {term: distribution.to_json() for term, distribution in self.terms.items()},
            "values": {term: self.values[term].tolist() for term in self.values.columns},
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Development:
        """Read what :meth:`to_json` wrote."""
        median = data["follow_up_median"]
        return cls(
            n=int(data["n"]),
            events=int(data["events"]),
            follow_up_max=float(data["follow_up_max"]),
            follow_up_median=math.nan if median is None else float(median),
            first_event=float(data["first_event"]),
            terms={term: TermDistribution.from_json(value) for term, value in data["terms"].items()},
            values=pd.DataFrame({term: np.asarray(v, dtype=float) for term, v in data["values"].items()}),
        )


@dataclass(frozen=True)
class ModelInfo:
    """What every saved fit of the validation model carries besides its parameters.

    Attributes
    ----------
    spec
        The config's ``validation_model`` section.
    endpoint
        The endpoint it predicts.
    horizons
        Default prediction horizons (months): the development config's ``analysis.landmarks``.
    development
        The development cohort (:class:`Development`).
    config
        The development config as plain data.
    version
        The tmesurv version that fitted it.
    gene_sets
        Each term derived from a gene set in development (``data.derive.signatures``): the set's genes that were in
        the development expression panel, i.e. the genes its score was computed from.
    terms
        The terms as fitted on development (spline knots, factor levels); None: the spec's terms, which must then
        be plain columns or log/clip (nothing fitted).
    """

    spec: ValidationModelSpec
    endpoint: str
    horizons: tuple[float, ...]
    development: Development
    config: Mapping
    version: str
    gene_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    terms: ModelTerms = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.terms is None:
            terms = ModelTerms.parse(self.spec.terms)
            unfitted = [term.text for term in terms.terms if term.factor or term.spline_knots]
            if unfitted:
                raise ValueError(f"terms {', '.join(unfitted)} need their fitted knots or levels")
            object.__setattr__(self, "terms", terms)

    @property
    def design_terms(self) -> list[str]:
        """The design columns: ``arm``, the terms' columns, ``arm:<column>`` of each interaction term's columns."""
        return design_columns(self.spec, self.terms)

    @property
    def interaction_columns(self) -> dict[str, str]:
        """Each single-column interaction term and its interaction design column (their HR can be replicated)."""
        single = {text: self.terms.term(text).columns for text in self.spec.interactions}
        return {text: interaction_term(columns[0]) for text, columns in single.items() if len(columns) == 1}

    @classmethod
    def of(
        cls, plan: ValidationModelPlan, development: Development, expression: pd.DataFrame | None, terms: ModelTerms
    ) -> ModelInfo:
        """The metadata of a fit of ``plan`` on ``development`` with the ``terms`` fitted there.

        ``expression`` is the development cohort's gene matrix (genes x samples; None without one): a term derived from
        a gene set keeps the set's genes that it has.
        """
        sets = {}
        if expression is not None:
            panel = expression.index
            sets = {term: tuple(gene for gene in genes if gene in panel) for term, genes in plan.gene_sets.items()}
        return cls(plan.spec, plan.endpoint, tuple(plan.horizons), development, plan.config, __version__, sets, terms)

    def header(self) -> dict:
        """Plain data of everything but the development cohort."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "endpoint": self.endpoint,
            "horizons": list(self.horizons),
            "config": dict(self.config),
            "tmesurv_version": self.version,
            "gene_sets": {term: list(genes) for term, genes in self.gene_sets.items()},
            "terms": self.terms.to_json(),
        }
