"""Time-varying treatment effect section: the treatment HR per baseline interval (``bayes_time_varying.csv``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.pwe.registry import TIME_VARYING
from tmesurv.reports.format import (
    Column,
    Row,
    Table,
    diagnostics_badge,
    failed_diagnostics,
    format_count,
    format_number,
    format_posterior_hr,
    format_probability,
    hr_at_posterior_mean,
)
from tmesurv.reports.gallery import FigureSection, Gallery, endpoints_of
from tmesurv.reports.graphics import BAND_COLOUR, BAYES_COLOUR, FigureImage, png_data_uri
from tmesurv.reports.results import Results, bayes_model_name, of_bayes_model
from tmesurv.reports.sections.bayes_screen import _converged, _hr_axis_around_one, _status_text
from tmesurv.reports.sections.model_check import MisfitBanner, misfit_banner


def time_varying_table(time_varying: pd.DataFrame) -> Table:
    """The treatment hazard ratio per baseline interval of every treatment and subgroup fit.

    Parameters
    ----------
    time_varying
        ``bayes_time_varying.csv``.

    Returns
    -------
    Table
        One row per (endpoint, subgroup, interval); unconverged fits flagged.
    """
    rows = []
    for _, row in time_varying.iterrows():
        end = "" if not np.isfinite(row["end"]) else f"{row['end']:.1f}"
        cells = (
            row["endpoint"],
            row["subgroup"],
            f"{row['start']:.1f}\u2013{end}" if end else f"after {row['start']:.1f}",
            format_count(row["events"]),
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"]),
            format_probability(row["prob_hr_below_1"]),
            format_number(row["r_hat"], 3),
            diagnostics_badge(row["converged"]),
        )
        rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Subgroup"),
        Column("Interval (months)", numeric=True),
        Column("Events", numeric=True),
        Column("Treatment HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("R-hat", numeric=True),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "Time-varying treatment effect (bayes.model: time_varying): a treatment log hazard ratio per baseline "
        "interval, a random walk over the intervals shrunk toward proportional hazards (priors.time_varying_sd). "
        "Hazard ratio at the posterior mean log hazard ratio, exp(mean), with the 95% equal-tailed credible interval; "
        "events of both arms in the interval."
    )
    return Table(columns, tuple(rows), caption=caption)


OPEN_END_SHARE = 0.25  # the last, open-ended interval is drawn this share of the follow-up beyond its start


def time_varying_figure(
    time_varying: pd.DataFrame, endpoint: str, arm_names: Mapping[str, str] | None = None
) -> Figure:
    """The treatment HR per baseline interval (all patients): HR at the posterior mean log HR and 95% CrI.

    Parameters
    ----------
    time_varying
        ``bayes_time_varying.csv``: rows of analysis ``treatment`` (subgroup ``all``) with ``start``, ``end``
        (months; the last is infinite), ``mean`` (log HR), ``hr_lower``, ``hr_upper``, ``converged``,
        ``divergences``.
    endpoint
        The endpoint.
    arm_names
        Display name per arm value.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal segments on a log HR axis against months; the open last interval ends in an arrow.
    """
    rows = _overall(time_varying, endpoint).sort_values("interval")
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    start = rows["start"].to_numpy(dtype=float)
    end = rows["end"].to_numpy(dtype=float)
    last = start[-1] + OPEN_END_SHARE * max(start[-1], 1.0)
    end = np.where(np.isfinite(end), end, last)
    hr = hr_at_posterior_mean(rows["mean"])
    lower, upper = rows["hr_lower"].to_numpy(dtype=float), rows["hr_upper"].to_numpy(dtype=float)
    converged = _converged(rows)
    figure = Figure(figsize=(7.0, 3.8), layout="constrained")
    ax = figure.add_subplot()
    middle = (start + end) / 2
    for left, right, low, high in zip(start, end, lower, upper, strict=True):
        ax.fill_between([left, right], low, high, color=BAND_COLOUR, linewidth=0)
    ax.hlines(hr, start, end, color=BAYES_COLOUR, linewidth=2.0)
    face = BAYES_COLOUR if converged else "white"
    ax.plot(middle, hr, "o", color=BAYES_COLOUR, markerfacecolor=face, markersize=5, linestyle="")
    ax.annotate("", xy=(end[-1], hr[-1]), xytext=(middle[-1], hr[-1]), arrowprops={"arrowstyle": "->"})
    _hr_axis_around_one(ax, np.concatenate([lower, upper]), "y")
    ax.set_xlim(0, end[-1] * 1.02)
    ax.set_xlabel("Months since randomisation (baseline intervals; the last is open-ended)")
    ax.set_ylabel(f"Treatment HR, {names[TREATED]} vs {names[CONTROL]}\n(log scale)", parse_math=False)
    divergences = int(np.nan_to_num(rows["divergences"].max()))
    ax.set_title(
        f"{endpoint}: treatment HR per interval at the posterior mean log HR, 95% CrI\n"
        f"{divergences} divergences, {_status_text(converged)}",
        parse_math=False,
        fontsize=10,
    )
    return figure


def _events_title(rows: pd.DataFrame, endpoint: str) -> str:
    events = rows[rows["statistic"] == "events"]
    title = f"{endpoint}: prior predictive check of the treatment model"
    if events.empty:
        return title
    record = events.iloc[0]
    return (
        f"{title}\nevents in the follow-up: prior predictive median {record['estimate']:.0f} "
        f"(95% interval {record['lower']:.0f}\u2013{record['upper']:.0f}), observed {record['observed']:.0f}"
    )


def _overall(time_varying: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    rows = time_varying[(time_varying["endpoint"] == endpoint) & (time_varying["analysis"] == "treatment")]
    if rows.empty:
        raise ValueError(f"bayes_time_varying has no treatment rows for endpoint '{endpoint}'")
    return rows


@dataclass(frozen=True)
class TimeVaryingSection(FigureSection):
    """The table and figures of the time-varying fits, and the banner naming those that misfit Kaplan-Meier."""

    misfit: MisfitBanner | None = None


def time_varying_section(results: Results, names: dict[str, str]) -> TimeVaryingSection | None:
    """The treatment HR per baseline interval (``bayes_time_varying.csv``): figure of all patients, every row.

    The misfit banner names the fits of ``bayes_fit_check.csv`` that misfit when the tables come from the time-varying
    model (``bayes.model: time_varying``); a comparison-only time-varying fit's check is in the model check section.
    """
    rows = results.bayes_time_varying
    if rows is None:
        return None
    overall = rows[rows["analysis"] == "treatment"]
    images = tuple(
        FigureImage(
            png_data_uri(time_varying_figure(rows, endpoint, names)),
            f"Treatment hazard ratio of {endpoint} in each baseline interval (all patients): exp(posterior mean log "
            "hazard ratio) and 95% credible interval, log scale, against months since randomisation.",
        )
        for endpoint in endpoints_of(overall)
    )
    galleries = (Gallery("All patients", images),) if images else ()
    checks = of_bayes_model(results.bayes_fit_check, results)
    misfit = misfit_banner(checks, ("treatment", "subgroup")) if bayes_model_name(results) == TIME_VARYING else None
    return TimeVaryingSection(time_varying_table(rows), galleries, misfit)
