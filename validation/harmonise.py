"""Put an external cohort's model terms on the development scale before the model scores them.

One method per term (the development distribution comes with the saved model, see
:class:`tmesurv.models.prediction.terms.TermDistribution`):

* ``none``: the values as measured (same assay, same units). A term whose external mean lies more than one
  development sd from the development mean, or whose sd ratio is outside 1/2 to 2, gets a note suggesting a
  different scale.
* ``zscore``: standardised by the external mean and sd, then mapped onto the development mean and sd,
  ``x' = m_dev + s_dev (x - m_ext) / s_ext`` (sample sds, ``n - 1``); afterwards the external mean and sd equal the
  development's.
* ``quantile``: each value is mapped through the external empirical distribution to the development quantile of the
  same level, ``x' = Q_dev((r - 1/2) / n)`` with r its rank among the external values (ties share their mean rank),
  ``Q_dev`` interpolated linearly between the saved development quantiles (0, 1, ..., 100 %); afterwards the
  external distribution is the development's, up to that grid.
* ``rederive``: for a term development derived from a gene set, the score recomputed from the external cohort's
  genes with the development genes and centring (:mod:`tmesurv.validation.rederive`, done before this step); here it
  is kept as re-derived, and the ``external_*_before`` columns describe the external cohort's own column of the term
  (empty when it has none). Not combined with ``zscore`` or ``quantile``.

Both rescalings assume the cohorts differ in the term's scale only (another platform, another normalisation): they
also remove any real difference in the term between the populations, so use them only when the scales differ. A
two-level term (0/1 in development) and a term constant in the external cohort are kept as measured, whatever the
method. The default is ``none`` for every term; a term that could be re-derived gets a note suggesting ``rederive``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tmesurv.errors import InputError
from tmesurv.models.prediction.terms import QUANTILE_PROBABILITIES, TermDistribution

Method = Literal["none", "zscore", "quantile", "rederive"]
METHODS: tuple[str, ...] = get_args(Method)
HARMONISATION_COLUMNS = [
    "term",
    "method",
    "development_mean",
    "development_sd",
    "external_mean_before",
    "external_sd_before",
    "external_mean_after",
    "external_sd_after",
    "note",
]
SCALE_WARNING_SDS = 1.0  # |external mean - development mean| in development sds that suggests another scale
SCALE_WARNING_RATIO = 2.0  # external / development sd beyond this factor either way


def parse_methods(specs: Sequence[str], terms: Sequence[str]) -> dict[str, Method]:
    """The harmonisation method of every term from ``--harmonise`` values.

    Parameters
    ----------
    specs
        Each ``METHOD`` (the default for all terms) or ``TERM=METHOD`` (one term); later values win.
    terms
        The model's terms.

    Returns
    -------
    dict[str, Method]
        Term to method (``none`` unless given).

    Raises
    ------
    InputError
        For an unknown method or term.
    """
    methods: dict[str, Method] = dict.fromkeys(terms, "none")
    for spec in specs:
        term, _, method = spec.rpartition("=")
        if method not in METHODS:
            raise InputError(f"--harmonise '{spec}': unknown method '{method}'; use one of {', '.join(METHODS)}")
        if term and term not in methods:
            raise InputError(f"--harmonise '{spec}': '{term}' is not a model term ({', '.join(terms)})")
        methods.update({term: method} if term else dict.fromkeys(terms, method))
    return methods


def harmonise(
    values: pd.DataFrame,
    development: Mapping[str, TermDistribution],
    methods: Mapping[str, Method],
    measured: pd.DataFrame | None = None,
    notes: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Harmonise every term of an external cohort onto its development distribution.

    Parameters
    ----------
    values
        External values, one numeric column per term, no missing values (``rederive`` terms: already re-derived).
    development
        Each term's development distribution.
    methods
        Each term's method (see :func:`parse_methods`).
    measured
        The external cohort's own values of the ``rederive`` terms, same index as ``values`` (NaN where missing).
    notes
        Notes on terms (what re-derivation did, a suggestion), put before the method's own.

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        The harmonised values (same index and columns), and one row per term saying what was done (columns
        ``HARMONISATION_COLUMNS``; the method actually applied, and why it differs from the one asked for).
    """
    harmonised, rows, notes = values.copy(), [], notes or {}
    for term, distribution in development.items():
        external = values[term].to_numpy(dtype=float)
        method, note = _applicable(methods.get(term, "none"), distribution, external)
        after = harmonise_term(external, distribution, method)
        before = measured[term] if method == "rederive" and measured is not None else pd.Series(external)
        harmonised[term] = after
        rows.append(
            {
                "term": term,
                "method": method,
                "development_mean": distribution.mean,
                "development_sd": distribution.sd,
                "external_mean_before": before.mean(),
                "external_sd_before": before.std(ddof=1),
                "external_mean_after": after.mean(),
                "external_sd_after": after.std(ddof=1),
                "note": "; ".join(text for text in (notes.get(term, ""), note) if text),
            }
        )
    return harmonised, pd.DataFrame(rows, columns=HARMONISATION_COLUMNS)


def harmonise_term(values: np.ndarray, distribution: TermDistribution, method: Method) -> np.ndarray:
    """One term's external ``values`` mapped by ``method`` onto the development ``distribution`` (rederive: as is)."""
    values = np.asarray(values, dtype=float)
    if method == "zscore":
        return distribution.mean + distribution.sd * (values - values.mean()) / values.std(ddof=1)
    if method == "quantile":
        level = (rankdata(values) - 0.5) / values.size
        return np.interp(level, QUANTILE_PROBABILITIES, distribution.quantiles)
    return values


def harmonisation_notes(table: pd.DataFrame) -> list[str]:
    """One line per term for the console: the method, the means and sds before and after, and any note."""
    lines = []
    for row in table.itertuples(index=False):
        before = (
            "not measured"
            if np.isnan(row.external_mean_before)
            else f"{row.external_mean_before:.3g}, {row.external_sd_before:.3g}"
        )
        line = (
            f"{row.term}: {row.method} (development mean {row.development_mean:.3g}, sd {row.development_sd:.3g}; "
            f"external {before}"
        )
        if row.method != "none":
            line += f" -> {row.external_mean_after:.3g}, {row.external_sd_after:.3g}"
        lines.append(line + ")" + (f"; {row.note}" if row.note else ""))
    return lines


def _applicable(method: Method, distribution: TermDistribution, values: np.ndarray) -> tuple[Method, str]:
    """The method that can be applied to a term, and a note when it is not the one asked for or looks wrong."""
    if method == "rederive":
        return method, ""
    if distribution.binary:
        return "none", "two-level term (0/1): kept as coded" if method != "none" else ""
    if np.ptp(values) == 0:
        return "none", "constant in the external cohort: kept as measured"
    if method != "none":
        return method, ""
    shift = abs(values.mean() - distribution.mean) / distribution.sd
    ratio = values.std(ddof=1) / distribution.sd
    if shift > SCALE_WARNING_SDS or not 1 / SCALE_WARNING_RATIO <= ratio <= SCALE_WARNING_RATIO:
        return "none", (
            f"external mean is {shift:.2g} development sds away and the sd ratio {ratio:.2g}: if the scale differs "
            "(another assay or normalisation), use --harmonise zscore or quantile"
        )
    return "none", ""
