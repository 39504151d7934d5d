"""Cure model section: who is cured, by arm and biomarker (``bayes_cure.csv``), next to Cox and LOO.

The mixture-cure model (``cure`` in ``bayes.model`` or ``bayes.compare``) gives each arm a cured fraction. The section
shows the cure fractions per arm with 95% credible intervals (figure and table: all patients, each subgroup fit, and
the interaction models at the biomarker's quartiles), the interaction on the cure scale next to the Cox interaction,
the follow-up each plateau rests on (with a warning where it does not support one), and the PSIS-LOO comparison of
the models (``bayes_loo.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.pwe.compare import clearly_better
from tmesurv.models.pwe.cure.plateau import plateau_rule_text
from tmesurv.models.pwe.registry import CURE
from tmesurv.models.pwe.survival import DIFFERENCE
from tmesurv.reports.format import (
    OVERALL,
    PER_UNIT,
    Column,
    Row,
    Table,
    arm_label,
    diagnostics_badge,
    failed_diagnostics,
    format_count,
    format_interval,
    format_number,
    format_p,
    format_posterior_hr,
    format_probability,
    scaled_interval,
    term_scales,
)
from tmesurv.reports.gallery import Gallery, endpoints_of
from tmesurv.reports.graphics import ARM_COLOURS, FigureImage, png_data_uri
from tmesurv.reports.results import Results, of_model

INTERACTION = "interaction"
ARMS = (CONTROL, TREATED)


@dataclass(frozen=True)
class CureSection:
    """What the cure section shows: figures, the cure fractions, the interactions, LOO, and plateau warnings."""

    galleries: tuple[Gallery, ...]
    fractions: Table
    interactions: Table | None
    loo: Table | None
    warnings: tuple[str, ...]
    rule: str


def fit_label(analysis: str, subgroup: str) -> str:
    """How a row of ``bayes_cure.csv`` is named: all patients, the subgroup, or the interaction model's value."""
    if analysis == "treatment":
        return OVERALL
    if analysis == INTERACTION:
        return f"{subgroup} (interaction model)"
    return str(subgroup)


def _by_fit(cure: pd.DataFrame) -> list[tuple[tuple[str, str, str], pd.DataFrame]]:
    """The rows of each (endpoint, analysis, subgroup), in file order, indexed by arm."""
    groups = cure.groupby(["endpoint", "analysis", "subgroup"], sort=False)
    return [(key, rows.set_index("arm")) for key, rows in groups]


def cure_fraction_table(cure: pd.DataFrame, arm_names: Mapping[str, str] | None = None) -> Table:
    """The cure fraction of each arm and their difference, with the follow-up each plateau rests on.

    Parameters
    ----------
    cure
        ``bayes_cure.csv``.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        One row per fit (and interaction-model biomarker value); flagged when its draws are not converged or a
        plateau is not supported by the follow-up.
    """
    rows = []
    for (endpoint, analysis, subgroup), fit in _by_fit(cure):
        arms = [fit.loc[arm] for arm in ARMS]
        difference = fit.loc[DIFFERENCE]
        unsupported = [arm_label(arm, arm_names, role=False) for arm in ARMS if fit.loc[arm, "plateau_supported"] == 0]
        failed = any(failed_diagnostics(value) for value in fit["converged"])
        cells = (
            endpoint,
            fit_label(analysis, subgroup),
            *(format_interval(row["mean"], row["lower"], row["upper"], 2) for row in arms),
            format_interval(difference["mean"], difference["lower"], difference["upper"], 2),
            format_probability(difference["prob_above_zero"]),
            " / ".join(format_number(row["last_event"], 1) for row in arms),
            " / ".join(format_count(row["at_risk_after_last_event"]) for row in arms),
            " / ".join(format_p(row["maller_zhou_p"]) for row in arms),
            "not supported: " + ", ".join(unsupported) if unsupported else "supported",
            diagnostics_badge(0 if failed else 1),
        )
        rows.append(Row(cells, flagged=failed or bool(unsupported)))
    control, treated = (arm_label(arm, arm_names, role=False) for arm in ARMS)
    columns = (
        Column("Endpoint"),
        Column("Patients"),
        Column(f"Cure {control} (95% CrI)", numeric=True),
        Column(f"Cure {treated} (95% CrI)", numeric=True),
        Column("Difference (95% CrI)", numeric=True),
        Column(f"P({treated} > {control})", numeric=True),
        Column("Last event, months (C / T)", numeric=True),
        Column("Followed beyond it (C / T)", numeric=True),
        Column("Maller-Zhou P (C / T)", numeric=True),
        Column("Plateau"),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "Cure fraction of each arm under the mixture-cure model: posterior mean with 95% equal-tailed credible "
        f"interval, and the {treated} minus {control} difference with the posterior probability that it is "
        "positive. Interaction-model rows give the cure fractions at the biomarker's quartiles (and chosen values), "
        "the other terms at their mean. The follow-up columns (C / T: control / treated) are what the plateau rests "
        "on: " + plateau_rule_text() + "."
    )
    return Table(columns, tuple(rows), caption=caption)


def cure_fraction_figure(cure: pd.DataFrame, endpoint: str, arm_names: Mapping[str, str] | None = None) -> Figure:
    """Cure fraction per arm with its 95% CrI, one line of the figure per fit (and biomarker value).

    Parameters
    ----------
    cure
        ``bayes_cure.csv``.
    endpoint
        The endpoint drawn.
    arm_names
        Display name per arm value.

    Returns
    -------
    matplotlib.figure.Figure
        Per arm an error bar (posterior mean, 95% CrI) at each line, from the top in file order; a hollow marker
        where the arm's plateau is not supported by the follow-up.
    """
    fits = [(key, rows) for key, rows in _by_fit(cure) if key[0] == endpoint]
    if not fits:
        raise ValueError(f"bayes_cure has no rows for endpoint '{endpoint}'")
    labels = [fit_label(analysis, subgroup) for (_, analysis, subgroup), _ in fits]
    position = np.arange(len(fits), dtype=float)[::-1]
    figure = Figure(figsize=(7.0, 1.2 + 0.32 * len(fits)), layout="constrained")
    ax = figure.add_subplot()
    for offset, arm in zip((-0.15, 0.15), ARMS, strict=True):
        rows = pd.DataFrame([fit.loc[arm] for _, fit in fits])
        mean, lower, upper = (rows[column].to_numpy(dtype=float) for column in ("mean", "lower", "upper"))
        colour = ARM_COLOURS[arm]
        ax.errorbar(mean, position + offset, xerr=[mean - lower, upper - mean], fmt="none", ecolor=colour)
        supported = rows["plateau_supported"].to_numpy(dtype=float) == 1
        for shown, face in ((supported, colour), (~supported, "white")):
            ax.plot(mean[shown], (position + offset)[shown], "o", color=colour, markerfacecolor=face, linestyle="")
        ax.plot([], [], "o", color=colour, label=arm_label(arm, arm_names, role=False))
    ax.set_yticks(position, labels)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("Cure fraction (posterior mean, 95% CrI)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(
        f"{endpoint}: cure fraction by arm\n(hollow: plateau not supported by the follow-up)",
        parse_math=False,
        fontsize=10,
    )
    return figure


def cure_interaction_table(
    cure: pd.DataFrame,
    bayes: pd.DataFrame | None = None,
    cox: pd.DataFrame | None = None,
    biomarkers: pd.DataFrame | None = None,
) -> Table | None:
    """Per interaction model, the cure difference at the biomarker's low and high quartile, next to Cox.

    Parameters
    ----------
    cure
        ``bayes_cure.csv``: rows of analysis ``interaction`` (subgroup ``<biomarker>=<value>``).
    bayes
        ``bayes.csv``'s rows of the cure model (main or compared), optional: its ``cure:arm:<biomarker>`` row (the
        log odds ratio of cure of the interaction), stated on the scale of
        :func:`~tmesurv.reports.format.term_scales`.
    cox
        ``cox.csv``, optional: the Cox interaction ``arm:<biomarker>`` (HR and Wald P) on the same scale.
    biomarkers
        ``biomarkers.csv``: the quartiles (low = 25th, high = 75th percentile; 0 and 1 of a two-level biomarker).

    Returns
    -------
    Table or None
        One row per endpoint and biomarker; None without interaction rows or ``biomarkers.csv``.
    """
    rows = cure[cure["analysis"] == INTERACTION]
    if rows.empty or biomarkers is None:
        return None
    scales = term_scales(biomarkers)
    quartiles = biomarkers.set_index("biomarker")
    table_rows = []
    for (endpoint, biomarker), _ in rows.groupby(["endpoint", rows["subgroup"].str.split("=").str[0]], sort=False):
        if biomarker not in quartiles.index:
            continue
        low, high = (0.0, 1.0) if quartiles.loc[biomarker, "two_level"] == 1 else quartiles.loc[biomarker, ["q1", "q3"]]
        at = {value: _difference_at(rows, endpoint, biomarker, value) for value in (low, high)}
        term = f"arm:{biomarker}"
        scale = scales.get(biomarker, PER_UNIT)
        odds = _term_row(bayes, endpoint, biomarker, f"cure:{term}")
        hazard = _term_row(cox, endpoint, biomarker, term)
        differences = (
            "" if row is None else format_interval(row["mean"], row["lower"], row["upper"], 2) for row in at.values()
        )
        cox_cells = ("", "")
        if hazard is not None:
            cox_cells = (
                scaled_interval(hazard["hr"], hazard["hr_lower"], hazard["hr_upper"], scale.factor),
                format_p(hazard["p"]),
            )
        cells = (endpoint, biomarker, *differences, _odds_ratio(odds, scale.factor), scale.label, *cox_cells)
        failed = any(failed_diagnostics(row["converged"]) for row in at.values() if row is not None)
        table_rows.append(Row(cells, flagged=failed))
    if not table_rows:
        return None
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Cure difference at low (95% CrI)", numeric=True),
        Column("Cure difference at high (95% CrI)", numeric=True),
        Column("Odds ratio of cure, interaction (95% CrI)", numeric=True),
        Column("Scale"),
        Column("Cox interaction HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
    )
    caption = (
        "The treatment-by-biomarker interaction on the cure scale: the treated minus control cure fraction at the "
        "biomarker's 25th (low) and 75th (high) percentile (0 and 1 for a two-level biomarker), from the mixture-cure "
        "interaction model; the interaction's odds ratio of cure (exp of the posterior mean log odds ratio, 95% "
        "CrI; above 1: the treatment cures more patients as the biomarker rises; bayes.csv, model cure); "
        "and the Cox interaction hazard ratio (below 1: the treatment's hazard reduction grows with the biomarker), "
        "both on the stated scale (per interquartile range for a continuous biomarker)."
    )
    return Table(columns, tuple(table_rows), caption=caption)


def _odds_ratio(row: pd.Series | None, factor: float) -> str:
    """exp(factor x posterior mean log odds ratio) with its credible limits raised to ``factor``; blank without."""
    return "" if row is None else format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"], factor)


def _difference_at(rows: pd.DataFrame, endpoint: str, biomarker: str, value: float) -> pd.Series | None:
    label = f"{biomarker}={value:.4g}"
    match = rows[(rows["endpoint"] == endpoint) & (rows["subgroup"] == label) & (rows["arm"] == DIFFERENCE)]
    return None if match.empty else match.iloc[0]


def _term_row(frame: pd.DataFrame | None, endpoint: str, biomarker: str, term: str) -> pd.Series | None:
    if frame is None:
        return None
    keys = (frame["endpoint"] == endpoint) & (frame["analysis"] == INTERACTION) & (frame["subgroup"] == biomarker)
    match = frame[keys & (frame["term"] == term)]
    return None if match.empty else match.iloc[0]


def loo_table(loo: pd.DataFrame) -> Table | None:
    """The models of each analysis compared by PSIS-LOO, best first, and which one the data clearly prefer.

    Parameters
    ----------
    loo
        ``bayes_loo.csv``.

    Returns
    -------
    Table or None
        One row per analysis that compares models; None when none does.
    """
    rows = []
    for (endpoint, analysis, subgroup), fits in loo.groupby(["endpoint", "analysis", "subgroup"], sort=False):
        if len(fits) < 2:
            continue
        fits = fits.sort_values("rank")
        second = fits.iloc[1]
        preferred = fits.iloc[0]["model"] if clearly_better(second["elpd_diff"], second["dse"]) else "no clear winner"
        cells = (
            endpoint,
            fit_label(analysis, subgroup),
            "; ".join(
                f"{row.model} {format_number(row.elpd_loo, 1)} ({format_number(row.se, 1)})"
                for row in fits.itertuples()
            ),
            "; ".join(
                f"{row.model} {format_number(row.elpd_diff, 1)} ({format_number(row.dse, 1)})"
                for row in fits.iloc[1:].itertuples()
            ),
            str(preferred),
            format_count(fits["n_pareto_k_high"].sum()),
        )
        rows.append(Row(cells))
    if not rows:
        return None
    columns = (
        Column("Endpoint"),
        Column("Patients"),
        Column("elpd_loo (SE), best first"),
        Column("Behind the best: elpd difference (SE)"),
        Column("Preferred"),
        Column("Patients with high Pareto k", numeric=True),
    )
    caption = (
        "Expected log predictive density by PSIS-LOO of each compared model (higher is better). A model is "
        "preferred when its elpd exceeds the next one's by at least 4 and by 2 standard errors of the difference; "
        "high Pareto k: patients for whom LOO is unreliable."
    )
    return Table(columns, tuple(rows), caption=caption)


def plateau_warnings(cure: pd.DataFrame, arm_names: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Per endpoint, one warning naming the fits whose cure fraction rests on a plateau the follow-up does not support.

    An interaction model is named once (its rows at the biomarker values are flagged in the table); a fit named with
    the arms concerned.
    """
    warnings = []
    for endpoint, rows in cure.groupby("endpoint", sort=False):
        named: dict[str, set[str]] = {}
        for (_, analysis, subgroup), fit in _by_fit(rows):
            arms = [arm_label(arm, arm_names, role=False) for arm in ARMS if fit.loc[arm, "plateau_supported"] == 0]
            if arms:
                name = f"{subgroup.split('=')[0]} (interaction model)"
                name = name if analysis == INTERACTION else fit_label(analysis, subgroup)
                named.setdefault(name, set()).update(arms)
        if named:
            listed = "; ".join(f"{name}: {', '.join(sorted(arms))}" for name, arms in named.items())
            warnings.append(
                f"{endpoint}: the follow-up does not support a cure plateau, so the cure fraction is an "
                f"extrapolation, in {len(named)} fits (flagged below, with their follow-up): {listed}."
            )
    return tuple(warnings)


def cure_section(results: Results, names: dict[str, str]) -> CureSection | None:
    """The cure section from ``bayes_cure.csv``, with ``bayes.csv``, ``cox.csv``, ``biomarkers.csv``, ``bayes_loo.csv``.

    The odds ratios of cure are the cure model's rows of ``bayes.csv``, whether it is ``bayes.model`` or compared
    with it. None without ``bayes_cure.csv``.
    """
    cure = results.bayes_cure
    if cure is None or cure.empty:
        return None
    images = tuple(
        FigureImage(
            png_data_uri(cure_fraction_figure(cure, endpoint, names)),
            f"Cure fraction of {endpoint} by arm under the mixture-cure model: posterior mean and 95% credible "
            "interval for all patients, each subgroup and the interaction models at the biomarker quartiles.",
        )
        for endpoint in endpoints_of(cure)
    )
    return CureSection(
        galleries=(Gallery("Cure fractions by arm", images, wide=True),),
        fractions=cure_fraction_table(cure, names),
        interactions=cure_interaction_table(cure, of_model(results.bayes, CURE), results.cox, results.biomarkers),
        loo=None if results.bayes_loo is None else loo_table(results.bayes_loo),
        warnings=plateau_warnings(cure, names),
        rule=plateau_rule_text(),
    )
