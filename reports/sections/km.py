"""Kaplan-Meier section: survival per arm and subgroup, Kaplan-Meier and posterior curves, log-rank tests.

Kaplan-Meier section: median and landmark survival per arm and subgroup (``km.csv``), KM figures by grouping
(``km_curves.csv``, with censor marks, the confidence band of ``analysis.km_ci`` and the log-rank P of
``logrank.csv``; subgroups named by their cut-points from ``subgroups.csv``) with the posterior bands of
``bayes_curves.csv``, the log-rank tests, and the posterior survival summaries (``bayes_survival.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.models.pwe.survival import not_reached_rule_text
from tmesurv.outputs.run_record import RunRecord
from tmesurv.reports.format import (
    NOT_REACHED,
    Column,
    Row,
    Table,
    arm_label,
    format_count,
    format_interval,
    format_number,
    format_p,
    format_probability,
    split_subgroup,
    statistic_label,
    subgroup_descriptions,
    subgroup_level,
)
from tmesurv.reports.gallery import endpoints_of
from tmesurv.reports.graphics import FigureImage, png_data_uri
from tmesurv.reports.km_marks import KmMarks, band_label
from tmesurv.reports.km_plot import km_figure, km_levels_figure
from tmesurv.reports.results import Results, of_bayes_model
from tmesurv.reports.sections.model_check import MisfitBanner, misfit_banner


def km_summary_table(km: pd.DataFrame, arm_names: dict[str, str] | None = None) -> Table:
    """Kaplan-Meier medians and landmark survival with their confidence intervals.

    Parameters
    ----------
    km
        ``km.csv``: ``endpoint, arm, statistic, time, estimate, lower, upper, n, events, ci_method``.
    arm_names
        Display name per arm value (see :func:`arm_label`).

    Returns
    -------
    Table
        One row per estimate, in file order; the caption states the CI method (a column too if they differ).
    """
    methods = [str(method) for method in pd.unique(km["ci_method"].dropna())]
    several_methods = len(methods) > 1
    rows = [_km_row(record, several_methods, arm_names) for record in km.to_dict("records")]
    columns = (
        Column("Endpoint"),
        Column("Arm"),
        Column("Statistic"),
        Column("Estimate (CI)", numeric=True),
        Column("N", numeric=True),
        Column("Events", numeric=True),
    ) + ((Column("CI method"),) if several_methods else ())
    caption = (
        f"Medians in months ({NOT_REACHED}: not reached); landmark survival as a probability. "
        f"Confidence interval method: {', '.join(methods) or 'not stated'}."
    )
    return Table(columns, tuple(rows), caption=caption)


def _km_row(record: dict, several_methods: bool, arm_names: dict[str, str] | None) -> Row:
    is_median = record["statistic"] == "median"
    estimate = format_interval(
        record["estimate"],
        record["lower"],
        record["upper"],
        digits=1 if is_median else 2,
        missing=NOT_REACHED if is_median else "",
    )
    cells = (
        record["endpoint"],
        arm_label(record["arm"], arm_names),
        statistic_label(record["statistic"], record["time"]),
        estimate,
        format_count(record["n"]),
        format_count(record["events"]),
    )
    method = "" if pd.isna(record["ci_method"]) else str(record["ci_method"])
    return Row((*cells, method) if several_methods else cells)


STATISTIC_ORDER = {"median": 0, "survival": 1, "rmst": 2}


POSTERIOR_ARMS = ("treated", "control", "difference")


def posterior_survival_table(
    survival: pd.DataFrame, subgroups: str = "all", arm_names: dict[str, str] | None = None
) -> Table:
    """Posterior medians, landmark survival and restricted mean survival per arm, and their difference.

    Parameters
    ----------
    survival
        ``bayes_survival.csv``: ``endpoint, subgroup, arm, statistic, time, estimate, lower, upper``.
    subgroups
        ``"all"``: the rows of all patients; ``"others"``: every other subgroup.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        One row per (endpoint, subgroup, statistic, time); a column per arm and one for the difference.
    """
    rows = survival[(survival["subgroup"] == "all") == (subgroups == "all")]
    table_rows = []
    for (endpoint, subgroup, statistic, time), group in _statistic_groups(rows):
        by_arm = {str(arm): record for arm, record in zip(group["arm"], group.to_dict("records"), strict=True)}
        cells = tuple(_statistic_cell(by_arm.get(arm), statistic) for arm in POSTERIOR_ARMS)
        table_rows.append(Row((endpoint, subgroup, statistic_label(statistic, time), *cells)))
    columns = (
        Column("Endpoint"),
        Column("Subgroup"),
        Column("Statistic"),
        *(Column(f"{arm_label(arm, arm_names)}, 95% CrI", numeric=True) for arm in POSTERIOR_ARMS),
    )
    caption = (
        "Posterior median and 95% credible interval. Median survival and restricted mean survival time (RMST) in "
        "months, landmark survival as a probability; difference = treated - control (only where both arms are "
        f"estimated). {not_reached_rule_text()}: a median or limit beyond follow-up is shown as NR, never as an "
        f"extrapolated number, and a landmark or RMST beyond follow-up as '{BEYOND_FOLLOW_UP}'."
    )
    return Table(columns, tuple(table_rows), caption=caption)


def _statistic_groups(rows: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """Rows grouped by (endpoint, subgroup, statistic, time): per subgroup the median, landmarks, then RMST."""
    order = rows["statistic"].map(STATISTIC_ORDER).fillna(len(STATISTIC_ORDER))
    rows = rows.assign(order=order, time_key=rows["time"].fillna(-1.0))
    rows = rows.sort_values(["order", "time_key"], kind="stable")
    rows = rows.sort_values(["endpoint", "subgroup"], key=_first_seen, kind="stable")
    grouped = rows.groupby(["endpoint", "subgroup", "statistic", "time_key"], sort=False)
    return [((e, s, statistic, group["time"].iloc[0]), group) for (e, s, statistic, _), group in grouped]


def _first_seen(values: pd.Series) -> pd.Series:
    """Sort key: the position of each value's first appearance (keeps file order of endpoints and subgroups)."""
    return values.map({value: index for index, value in enumerate(pd.unique(values))})


BEYOND_FOLLOW_UP = "beyond follow-up"


def _statistic_cell(record: dict | None, statistic: str) -> str:
    """A posterior statistic: a median beyond follow-up is NR (with P(beyond)), never an extrapolated estimate.

    A landmark or RMST beyond the arm's follow-up was not estimated (blank estimate, ``reached`` false): shown as
    :data:`BEYOND_FOLLOW_UP`. Files without ``reached`` (older runs) show a blank estimate as NR.
    """
    if record is None:
        return ""
    reached = record.get("reached")
    if statistic != "median" and reached == 0 and pd.isna(record["estimate"]):
        return BEYOND_FOLLOW_UP
    digits = 2 if statistic == "survival" else 1
    text = format_interval(record["estimate"], record["lower"], record["upper"], digits, missing=NOT_REACHED)
    beyond = record.get("prob_beyond_follow_up")
    if statistic == "median" and reached == 0 and beyond is not None and not pd.isna(beyond):
        text += f"; P(beyond follow-up) {format_probability(beyond)}"
    return text


def logrank_table(
    logrank: pd.DataFrame, arm_names: dict[str, str] | None = None, descriptions: Mapping[str, str] | None = None
) -> Table:
    """The log-rank tests: treated vs control overall and within each subgroup, a grouping's levels within each arm.

    Parameters
    ----------
    logrank
        ``logrank.csv``: ``endpoint, comparison, subgroup, n, events, chisq, df, p``; ``comparison`` is ``arm``
        (``subgroup``: ``all`` or a subgroup label) or a grouping (``subgroup``: the arm its levels are compared in).
    arm_names
        Display name per arm value.
    descriptions
        Subgroup label -> its meaning with the cut-point (``subgroups.csv``), shown in place of the label.

    Returns
    -------
    Table
        One row per test, in file order.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    rows = []
    for record in logrank.to_dict("records"):
        comparison, subgroup = str(record["comparison"]), str(record["subgroup"])
        if comparison == "arm":
            compared = f"{names[TREATED]} vs {names[CONTROL]}"
            patients = "All patients" if subgroup == ALL_PATIENTS else (descriptions or {}).get(subgroup, subgroup)
        else:
            compared, patients = f"levels of {comparison}", f"{arm_label(subgroup, arm_names)} arm"
        statistic = f"{format_number(record['chisq'], 2)} ({format_count(record['df'])})"
        cells = (record["endpoint"], compared, patients, format_count(record["n"]), format_count(record["events"]))
        rows.append(Row((*cells, statistic, format_p(record["p"]))))
    columns = (
        Column("Endpoint"),
        Column("Comparison"),
        Column("Patients"),
        Column("N", numeric=True),
        Column("Events", numeric=True),
        Column("Chi-square (df)", numeric=True),
        Column("P", numeric=True),
    )
    caption = (
        "Log-rank tests (R's survdiff, rho = 0; chi-square on groups - 1 df): the arms compared in all patients and "
        "within each subgroup, and each grouping's subgroups compared within each arm. Subgroups are named by their "
        "cut-points. The P of each Kaplan-Meier figure is the row of its patients."
    )
    return Table(columns, tuple(rows), caption=caption)


@dataclass(frozen=True)
class KmSection:
    """Kaplan-Meier figures (overall, then per grouping), the tables of medians and landmarks, the log-rank tests."""

    images: tuple[FigureImage, ...]
    grouping_images: tuple[FigureImage, ...]
    summary: Table | None
    posterior: Table | None
    posterior_subgroups: Table | None
    logrank: Table | None = None
    misfit: MisfitBanner | None = None  # fits whose posterior survival misfits Kaplan-Meier (bayes_fit_check.csv)


def km_section(results: Results, names: dict[str, str]) -> KmSection | None:
    """Kaplan-Meier per arm overall and within every grouping, the Bayesian posterior overlaid where fitted."""
    curves, posterior = results.km_curves, of_bayes_model(results.bayes_curves, results)
    if curves is None and results.km is None and results.bayes_survival is None:
        return None
    overall, by_grouping = (), ()
    marks = km_marks(results)
    if curves is not None:
        overall = tuple(
            km_figure(curves[curves["endpoint"] == endpoint], str(endpoint), posterior, names, marks)
            for endpoint in endpoints_of(curves)
            if (curves[(curves["endpoint"] == endpoint)]["subgroup"] == ALL_PATIENTS).any()
        )
        by_grouping = tuple(_grouping_figures(curves, posterior, names, _known_groupings(results), marks))
    summary = None if results.km is None else results.km[results.km["subgroup"] == ALL_PATIENTS]
    survival = of_bayes_model(results.bayes_survival, results)
    checks = of_bayes_model(results.bayes_fit_check, results)
    others = None if survival is None else survival[survival["subgroup"] != ALL_PATIENTS]
    return KmSection(
        images=overall,
        grouping_images=by_grouping,
        summary=None if summary is None else km_summary_table(summary, names),
        posterior=None if survival is None else posterior_survival_table(survival, "all", names),
        posterior_subgroups=None
        if others is None or others.empty
        else posterior_survival_table(survival, "others", names),
        logrank=None if results.logrank is None else logrank_table(results.logrank, names, marks.descriptions),
        misfit=None if survival is None else misfit_banner(checks, ("treatment", "subgroup")),
    )


def km_marks(results: Results) -> KmMarks:
    """The log-rank tests, the confidence band's scale and the subgroups' meanings of a result folder."""
    methods = [] if results.km is None else [str(m) for m in pd.unique(results.km["ci_method"].dropna())]
    ci_method = ", ".join(methods) or _km_ci(results.run)
    return KmMarks(results.logrank, ci_method, subgroup_descriptions(results.subgroups))


def _km_ci(run: RunRecord | None) -> str | None:
    """The Kaplan-Meier confidence interval scale of run.json's config (``analysis.km_ci``), if stated."""
    analysis = (run.config.get("analysis") or {}) if run is not None else {}
    scale = analysis.get("km_ci") if isinstance(analysis, Mapping) else None
    return None if scale is None else str(scale)


def _known_groupings(results: Results) -> set[str]:
    if results.interactions is None:
        return set()
    return set(results.interactions["grouping"].dropna().astype(str))


def _grouping_figures(
    curves: pd.DataFrame, posterior: pd.DataFrame | None, names: dict[str, str], known: set[str], marks: KmMarks
) -> list[FigureImage]:
    images = []
    for endpoint in endpoints_of(curves):
        rows = curves[curves["endpoint"] == endpoint]
        subgroups = [s for s in pd.unique(rows["subgroup"].dropna().astype(str)) if s != ALL_PATIENTS]
        for grouping in dict.fromkeys(split_subgroup(s, known)[0] for s in subgroups):
            figure = km_levels_figure(rows, endpoint, grouping, posterior, names, marks)
            overlay = posterior is not None and _has_posterior(posterior, endpoint, grouping)
            alt = _grouping_alt(endpoint, grouping, overlay, marks)
            images.append(FigureImage(png_data_uri(figure), alt))
    return images


def _has_posterior(posterior: pd.DataFrame, endpoint: str, grouping: str) -> bool:
    rows = posterior[posterior["endpoint"] == endpoint]
    return any(subgroup_level(str(s), grouping) is not None for s in pd.unique(rows["subgroup"]))


def _grouping_alt(endpoint: str, grouping: str, overlay: bool, marks: KmMarks) -> str:
    bands = f"pointwise {band_label(marks.ci_method)} bands and censoring times (+)"
    bands += "; the Bayesian posterior median and 95% band overlaid" if overlay else ""
    tested = "; the log-rank P of the arms in each panel" if marks.logrank is not None else ""
    return (
        f"Kaplan-Meier curves of {endpoint} by arm within each level of {grouping}, with {bands}{tested}; numbers at "
        "risk below each panel."
    )
