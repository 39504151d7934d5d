"""Convergence section: every Bayesian fit of every compared model: R-hat, ESS, BFMI, divergences (``bayes.csv``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.reports.format import NOT_CONVERGED, Column, Row, Table, fit_status, format_count, format_number
from tmesurv.reports.results import Results, of_bayes_model
from tmesurv.reports.sections.interactions import FIT_KEYS, TREATMENT_AT
from tmesurv.reports.sections.model_check import MisfitBanner, misfit_banner


@dataclass(frozen=True)
class Diagnostics:
    """The convergence table of the Bayesian fits and how many failed."""

    table: Table
    n_fits: int
    n_unconverged: int
    misfit: MisfitBanner | None = None


def diagnostics_table(bayes: pd.DataFrame) -> Diagnostics:
    """One row per Bayesian fit: the worst R-hat, ESS and BFMI over its terms, divergences, and its status.

    Parameters
    ----------
    bayes
        ``bayes.csv``, the rows of every compared model (column ``model``; bayes.model's first); the derived
        ``treatment_at`` rows repeat their interaction model's diagnostics and are left out.

    Returns
    -------
    Diagnostics
        The table (unconverged fits flagged) and the counts.
    """
    fits = bayes[bayes["analysis"] != TREATMENT_AT].fillna({key: "" for key in FIT_KEYS})
    rows = [_fit_row(keys, group) for keys, group in fits.groupby([*FIT_KEYS, "model"], sort=False)]
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Subgroup"),
        Column("Model"),
        Column("Terms", numeric=True),
        Column("Max R-hat", numeric=True),
        Column("Min ESS (bulk)", numeric=True),
        Column("Min ESS (tail)", numeric=True),
        Column("Min BFMI", numeric=True),
        Column("Divergences", numeric=True),
        Column("target_accept (re-runs)", numeric=True),
        Column("Status", badge=True),
    )
    caption = (
        "Per fit (of bayes.model and of each model compared with it by PSIS-LOO), the worst value over its terms. "
        "A blank is a statistic that was not recorded. Converged means "
        "R-hat below 1.01, bulk and tail ESS of at least 400, BFMI of at least 0.3 in every chain and no divergent "
        "transitions (the rule of tmesurv bayes). A fit with divergent transitions is re-run at a higher target "
        "acceptance (bayes.divergence_reruns, default 0.95 then 0.99) until a run has none; the table shows the "
        "reported run: its target acceptance and how many re-runs it took."
    )
    table = Table(columns, tuple(rows), caption=caption)
    return Diagnostics(table, len(rows), sum(row.flagged for row in rows))


def _fit_row(keys: tuple, group: pd.DataFrame) -> Row:
    status = fit_status(group["converged"])
    cells = (
        *(str(key) for key in keys),
        format_count(len(group)),
        format_number(group["r_hat"].max(), 3),
        format_count(group["ess_bulk"].min()),
        format_count(group["ess_tail"].min()),
        format_number(group["bfmi_min"].min(), 2),
        format_count(group["divergences"].max()),
        _sampled(group),
        status,
    )
    return Row(cells, flagged=status == NOT_CONVERGED)


def _sampled(group: pd.DataFrame) -> str:
    """The reported run's target acceptance and re-runs, e.g. ``0.99 (2)``; blank when not recorded."""
    target = group["target_accept"].max() if "target_accept" in group else np.nan
    if pd.isna(target):
        return ""
    reruns = group["reruns"].max() if "reruns" in group else np.nan
    return f"{target:g}" + ("" if pd.isna(reruns) else f" ({int(reruns)})")


def diagnostics_section(results: Results) -> Diagnostics | None:
    """Every Bayesian fit's convergence, and the fits that misfit Kaplan-Meier; None without ``bayes.csv``."""
    if results.bayes is None:
        return None
    table = diagnostics_table(results.bayes)
    return replace(table, misfit=misfit_banner(of_bayes_model(results.bayes_fit_check, results)))
