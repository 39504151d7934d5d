"""Re-derive gene-set signature terms from an external cohort's genes: ``--harmonise TERM=rederive``.

A model term that development derived from a gene set (``data.derive.signatures``) is saved with the set's genes
that the development panel had (:attr:`tmesurv.models.prediction.info.ModelInfo.gene_sets`). ``rederive`` computes
the term again on the external cohort's expression matrix (``Cohort.expression``, from ``data.expression`` or
``data.geo``) by :func:`tmesurv.signatures.gene_set_score`, as development did: the mean over those genes of log2
expression, each gene centred at its mean over the external patients with expression (all of them, before any
exclusion). The re-derived values replace the external cohort's own column (if it has one) and are not rescaled
further: ``rederive`` is not combined with ``zscore`` or ``quantile``.

Genes of the set absent from the external panel are left out with a note (none left is an error naming the term and
the genes). Patients without an expression sample, or without a value for one of the genes, have no score: they are
excluded and counted, with the reason. ``rederive`` is never chosen by default; a term that could be re-derived gets
a note suggesting it, and a term the external cohort has no column for, but could re-derive, stops with an error
saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError
from tmesurv.signatures import gene_set_score

REDERIVE = "rederive"
ANALYSIS = "validation"


@dataclass(frozen=True)
class Rederived:
    """An external cohort with its ``rederive`` terms recomputed from its genes.

    Attributes
    ----------
    cohort
        The patients that have every re-derived term, those terms replaced by (or added as) the re-derived values.
    measured
        The cohort's own value of each re-derived term, by patient id (NaN where it has none, or no such column).
    notes
        Per term: what re-derivation did, or a suggestion to re-derive.
    exclusions
        Patients without a re-derived value, and why.
    """

    cohort: Cohort
    measured: pd.DataFrame
    notes: Mapping[str, str]
    exclusions: list[Exclusion]


def rederive_terms(cohort: Cohort, gene_sets: Mapping[str, Sequence[str]], methods: Mapping[str, str]) -> Rederived:
    """Recompute the terms whose method is ``rederive`` from the external cohort's expression.

    Parameters
    ----------
    cohort
        The external cohort.
    gene_sets
        The saved model's development genes of each term derived from a gene set.
    methods
        Each model term's harmonisation method.

    Returns
    -------
    Rederived
        The cohort with re-derived terms, their measured values, notes and exclusions.

    Raises
    ------
    InputError
        If a ``rederive`` term has no development gene set, the cohort has no expression, or none of a set's genes
        is in its panel; or a term the cohort has no column for could be re-derived but is not.
    """
    terms = [term for term, method in methods.items() if method == REDERIVE]
    measured_terms = [term for term, method in methods.items() if method != REDERIVE]
    _require_rederivable(cohort, gene_sets, terms)
    _require_measured(cohort, gene_sets, measured_terms)
    notes = _suggestions(cohort, gene_sets, measured_terms)
    measured = cohort.patients.reindex(columns=terms).apply(pd.to_numeric, errors="coerce")
    if not terms:
        return Rederived(cohort, measured, notes, [])
    scores = {term: _score(cohort, term, gene_sets[term]) for term in terms}
    patients = cohort.patients.assign(**{term: score for term, (score, _) in scores.items()})
    kept, exclusions, excluded = _exclusions(replace(cohort, patients=patients), terms)
    for term, (_, absent) in scores.items():
        notes[term] = _note(cohort, term, gene_sets[term], absent, excluded[term])
    return Rederived(kept, measured, notes, exclusions)


def _require_rederivable(cohort: Cohort, gene_sets: Mapping[str, Sequence[str]], terms: list[str]) -> None:
    """An error for a ``rederive`` term without a development gene set, or a cohort without expression."""
    for term in terms:
        if term not in gene_sets:
            derived = ", ".join(gene_sets) or "none"
            raise InputError(
                f"--harmonise {term}={REDERIVE}: the model term '{term}' was not derived from a gene set in "
                f"development (terms derived by data.derive.signatures: {derived}); use none, zscore or quantile for "
                "it (a model saved by an older tmesurv: rerun 'tmesurv cox')"
            )
    if terms and cohort.expression is None:
        raise InputError(
            f"file '{cohort.source}': --harmonise {terms[0]}={REDERIVE} needs the external cohort's gene expression; "
            "add data.expression (a matrix or RCC files) or read a GEO series with data.geo in the external config"
        )


def _require_measured(cohort: Cohort, gene_sets: Mapping[str, Sequence[str]], terms: list[str]) -> None:
    """An error suggesting ``rederive`` for a term the cohort has no column for but could re-derive."""
    for term in terms:
        if term not in cohort.patients.columns and term in gene_sets and cohort.expression is not None:
            raise InputError(
                f"file '{cohort.source}' has no column for the model term '{term}', which development derived from "
                f"a gene set: re-derive it from the external genes with --harmonise {term}={REDERIVE}"
            )


def _suggestions(cohort: Cohort, gene_sets: Mapping[str, Sequence[str]], terms: list[str]) -> dict[str, str]:
    """A note for each term that is measured here but could be re-derived from the external genes."""
    if cohort.expression is None:
        return {}
    return {
        term: f"derived from a gene set in development and the external cohort has expression: "
        f"--harmonise {term}={REDERIVE} recomputes it from the genes"
        for term in terms
        if term in gene_sets
    }


def _score(cohort: Cohort, term: str, genes: Sequence[str]) -> tuple[pd.Series, list[str]]:
    """The term re-derived for every patient (NaN without expression), and the genes absent from the panel."""
    try:
        score, absent = gene_set_score(cohort.expression, tuple(genes))
    except InputError:
        raise InputError(
            f"file '{cohort.source}': the model term '{term}' cannot be re-derived ({REDERIVE}): none of its "
            f"development genes ({', '.join(genes)}) is in the external expression panel. Check the gene symbols "
            "(the matrix's first column, or the platform's gene column), or harmonise it with none, zscore or quantile."
        ) from None
    return score.reindex(cohort.patients.index), absent


def _exclusions(cohort: Cohort, terms: list[str]) -> tuple[Cohort, list[Exclusion], dict[str, int]]:
    """The patients with every re-derived term; who was excluded and why; the count excluded per term."""
    index = cohort.patients.index
    excluded = dict.fromkeys(terms, 0)
    keep = index.isin(cohort.expression.columns)
    exclusions = []
    if not keep.all():
        reason = f"no expression sample, needed to re-derive {', '.join(terms)}"
        exclusions.append(Exclusion(ANALYSIS, reason, tuple(index[~keep])))
        excluded = dict.fromkeys(terms, int((~keep).sum()))
    for term in terms:
        missing = keep & cohort.patients[term].isna().to_numpy()
        if missing.any():
            reason = f"a gene of {term}'s set has no value, so {term} cannot be re-derived"
            exclusions.append(Exclusion(ANALYSIS, reason, tuple(index[missing])))
            excluded[term] += int(missing.sum())
        keep &= ~missing
    return cohort.subset(keep), exclusions, excluded


def _note(cohort: Cohort, term: str, genes: Sequence[str], absent: list[str], excluded: int) -> str:
    """What re-derivation did to one term, for ``harmonisation.csv`` and the console."""
    used = len(genes) - len(absent)
    note = (
        f"re-derived from {used} of its {len(genes)} development genes, each centred over the "
        f"{cohort.expression.shape[1]} external patients with expression"
    )
    if absent:
        note += f"; not in the external panel (scored without): {', '.join(absent)}"
    if excluded:
        note += f"; {excluded} patients without a re-derived value excluded"
    if term in cohort.patients.columns and np.any(cohort.patients[term].notna()):
        note += f"; replaces the external column '{term}'"
    return note
