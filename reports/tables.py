"""Report tables: result frames turned into rows of formatted text, ready for the template to escape.

Formatting rules live here: hazard ratios to 2 decimals, P values to 3 significant digits (``<0.001`` below
that), medians in months to 1 decimal (``NR`` when not reached), and blanks for missing values. A Bayesian hazard
ratio is always exp(posterior mean log HR) with its 95% credible interval (:func:`format_posterior_hr`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.outputs.files import COX
from tmesurv.reports.figures import ordered_arms
from tmesurv.reports.forest import OVERALL, hr_at_posterior_mean, split_subgroup, treatment_rows

P_FLOOR = 0.001
NOT_REACHED = "NR"
ALL_PATIENTS = "All"
NOT_CONVERGED = "not converged"
CONVERGED = "converged"
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Column:
    """A table column: header text, right-aligned if numeric, shown as a warning badge if ``badge``."""

    label: str
    numeric: bool = False
    badge: bool = False


@dataclass(frozen=True)
class Row:
    """One table row of formatted cells; ``flagged`` rows are highlighted, ``header`` rows head a group of rows."""

    cells: tuple[str, ...]
    flagged: bool = False
    header: bool = False


@dataclass(frozen=True)
class Table:
    """A table for the template: columns, rows, optional grouped header ``(label, span)`` and caption."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    groups: tuple[tuple[str, int], ...] = ()
    caption: str = ""
    empty_text: str = "No rows."


@dataclass(frozen=True)
class TermScale:
    """How a biomarker's hazard ratios are stated: per ``factor`` units (its IQR, or 1), named by ``label``."""

    factor: float
    label: str


PER_UNIT = TermScale(1.0, "per unit")


def term_scales(biomarkers: pd.DataFrame | None) -> dict[str, TermScale]:
    """Per biomarker of ``biomarkers.csv``: per IQR ``(q1-q3)`` when continuous, ``1 vs 0`` when two-level.

    A biomarker not in the file (or with an IQR of 0) is stated per unit: :data:`PER_UNIT`.
    """
    if biomarkers is None:
        return {}
    scales = {}
    for row in biomarkers.to_dict("records"):
        if row["two_level"] == 1:
            scales[str(row["biomarker"])] = TermScale(1.0, "1 vs 0")
        elif row["iqr"] > 0:
            scales[str(row["biomarker"])] = TermScale(
                float(row["iqr"]), f"per IQR ({row['q1']:.4g}\u2013{row['q3']:.4g})"
            )
    return scales


def scale_of(row: dict | pd.Series, scales: dict[str, TermScale]) -> TermScale | None:
    """The scale of a biomarker term (``<biomarker>`` or ``arm:<biomarker>`` of an interaction model), else None."""
    if row["analysis"] != "interaction":
        return None
    biomarker = str(row["subgroup"])
    if str(row["term"]) not in (biomarker, f"arm:{biomarker}"):
        return None
    return scales.get(biomarker, PER_UNIT)


def scaled_interval(estimate: object, lower: object, upper: object, factor: float) -> str:
    """A hazard ratio and its bounds raised to ``factor``: ``exp(factor * log HR)``, exact for every bound."""
    return format_interval(*(float(value) ** factor for value in (estimate, lower, upper)), digits=2)


def format_posterior_hr(mean_log_hr: object, hr_lower: object, hr_upper: object, factor: float = 1.0) -> str:
    """The Bayesian hazard ratio cell: exp(posterior mean log HR) with its 95% credible interval.

    Parameters
    ----------
    mean_log_hr
        The posterior mean of the log hazard ratio (the point is
        :func:`~tmesurv.reports.forest.hr_at_posterior_mean`).
    hr_lower, hr_upper
        The 95% equal-tailed credible interval of the hazard ratio.
    factor
        The point and both bounds are raised to this power (see :func:`scaled_interval`); 1 leaves them as they are.

    Returns
    -------
    str
        ``"0.61 (0.43-0.86)"`` (en dash), ``""`` when the mean is missing.
    """
    return scaled_interval(float(hr_at_posterior_mean(mean_log_hr)), hr_lower, hr_upper, factor)


def format_mean_sd(mean: object, sd: object, digits: int = 3) -> str:
    """Format a posterior ``"mean (SD)"`` to ``digits`` decimals; a missing part is blank."""
    return f"{format_number(mean, digits)} ({format_number(sd, digits)})"


def failed_diagnostics(converged: object) -> bool:
    """Whether a row's ``converged`` flag says its fit failed the diagnostics: 0 (false); 1 or blank do not."""
    return bool(converged == 0)


def diagnostics_badge(converged: object) -> str:
    """The Diagnostics cell of a Bayesian row: :data:`NOT_CONVERGED` when its fit failed, else blank."""
    return NOT_CONVERGED if failed_diagnostics(converged) else ""


def fit_status(converged: pd.Series) -> str:
    """The convergence status of one Bayesian fit from the ``converged`` flags of its rows.

    Parameters
    ----------
    converged
        The flags: 1.0 (true), 0.0 (false) or NaN (not recorded).

    Returns
    -------
    str
        :data:`NOT_CONVERGED` when any flag is false, :data:`CONVERGED` when every flag is true, else
        :data:`NOT_RECORDED`. Only :data:`CONVERGED` means the fit may be read as converged.
    """
    if (converged == 0).any():
        return NOT_CONVERGED
    return CONVERGED if (converged == 1).all() else NOT_RECORDED


@dataclass(frozen=True)
class Comparison:
    """The Cox/Bayesian side-by-side table and how many Bayesian terms failed their diagnostics."""

    heading: str
    table: Table
    n_bayes: int
    n_unconverged: int


def cohort_table(cohort: pd.DataFrame, arm_names: dict[str, str] | None = None) -> Table:
    """CONSORT-style counts per arm (patients, events, median follow-up) with a total row.

    Parameters
    ----------
    cohort
        ``cohort.csv``: ``arm, patients, events, median_follow_up``.
    arm_names
        Display name per arm value (see :func:`arm_label`).

    Returns
    -------
    Table
        One row per arm (treated, control, then any others), then the total.
    """
    order = {arm: index for index, arm in enumerate(ordered_arms(cohort["arm"]))}
    cohort = cohort.sort_values("arm", key=lambda arms: arms.map(order), kind="stable")
    rows = [
        Row((arm_label(arm, arm_names), format_count(patients), format_count(events), format_number(follow_up, 1)))
        for arm, patients, events, follow_up in cohort[["arm", "patients", "events", "median_follow_up"]].itertuples(
            index=False
        )
    ]
    total = (
        "Total",
        format_count(cohort["patients"].sum(min_count=1)),
        format_count(cohort["events"].sum(min_count=1)),
        "",
    )
    columns = (
        Column("Arm"),
        Column("Patients", numeric=True),
        Column("Events", numeric=True),
        Column("Median follow-up (months)", numeric=True),
    )
    return Table(columns, (*rows, Row(total)))


def exclusions_table(exclusions: pd.DataFrame) -> Table:
    """Every exclusion: the analysis it applies to, the reason and the number of patients.

    Parameters
    ----------
    exclusions
        ``exclusions.csv``: ``analysis, reason, count, ids``; the ids are not shown.

    Returns
    -------
    Table
        One row per exclusion, in file order.
    """
    units = exclusions["unit"] if "unit" in exclusions else pd.Series("patients", index=exclusions.index)
    rows = [
        Row((analysis, reason, f"{format_count(count)} {unit}"))
        for analysis, reason, count, unit in zip(
            exclusions["analysis"], exclusions["reason"], exclusions["count"], units.fillna("patients"), strict=True
        )
    ]
    columns = (Column("Analysis"), Column("Reason"), Column("Excluded", numeric=True))
    caption = "Identifiers of each exclusion (patients, or expression samples) are listed in exclusions.csv."
    return Table(columns, tuple(rows), caption=caption, empty_text="No patients were excluded.")


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


def comparison(
    cox: pd.DataFrame | None, bayes: pd.DataFrame | None, biomarkers: pd.DataFrame | None = None
) -> Comparison:
    """Join Cox and Bayesian estimates on (endpoint, analysis, subgroup, term) into one table.

    Parameters
    ----------
    cox
        ``cox.csv``, or None if absent: ``endpoint, analysis, subgroup, term, n, events, coef, se, hr,
        hr_lower, hr_upper, p``.
    bayes
        ``bayes.csv``, or None if absent: ``endpoint, analysis, subgroup, term, mean, sd, hr_mean, hr_lower,
        hr_upper, prob_hr_below_1, r_hat, ess_bulk, converged`` (``converged`` as 1.0/0.0, NaN if unknown).
    biomarkers
        ``biomarkers.csv``, optional: the biomarker terms of interaction models are stated per interquartile range
        (see :func:`term_scales`) instead of per unit.

    Returns
    -------
    Comparison
        One row per term found in either file (Cox order first, then Bayesian-only terms); a term missing from
        one file has blanks there. Bayesian fits with ``converged`` false are flagged.
    """
    if cox is None and bayes is None:
        raise ValueError("comparison needs cox.csv or bayes.csv results")
    joined = join_on_terms({"cox": cox, "bayes": bayes})
    scales = term_scales(biomarkers)
    rows = tuple(
        _comparison_row(record, cox is not None, bayes is not None, scale_of(record, scales))
        for record in joined.to_dict("records")
    )
    table = Table(
        _comparison_columns(cox is not None, bayes is not None),
        rows,
        groups=_comparison_groups(cox is not None, bayes is not None),
        caption=_comparison_caption(cox is not None, bayes is not None),
    )
    n_bayes = 0 if bayes is None else len(bayes)
    return Comparison(_comparison_heading(cox, bayes), table, n_bayes, sum(row.flagged for row in rows))


def forest_table(
    cox: pd.DataFrame | None,
    bayes: pd.DataFrame | None,
    endpoint: str,
    interactions: pd.DataFrame | None = None,
    arm_names: dict[str, str] | None = None,
) -> Table:
    """The forest plot as a table: per subgroup the events of each arm, the Cox and the Bayesian hazard ratio.

    Parameters
    ----------
    cox, bayes
        ``cox.csv`` and ``bayes.csv`` (either may be None): the rows of term ``arm`` of analysis ``treatment``
        (subgroup ``all``) and ``subgroup``.
    endpoint
        The endpoint.
    interactions
        ``interactions.csv``, optional: the likelihood-ratio P of each grouping's levels on its header row.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        The overall row, then per grouping a header row and a row per level; unconverged Bayesian fits flagged.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    cox_rows, bayes_rows = treatment_rows(cox, endpoint), treatment_rows(bayes, endpoint)
    p_values = _groups_p(interactions, endpoint)
    keys = list(dict.fromkeys([*cox_rows, *bayes_rows]))
    overall = ("treatment", "all")
    rows = [_forest_table_row(OVERALL, cox_rows.get(overall), bayes_rows.get(overall))] if overall in keys else []
    split = {key: split_subgroup(key[1], p_values) for key in keys if key != overall}
    for grouping in dict.fromkeys(name for name, _ in split.values()):
        p_text = format_p(p_values.get(grouping))
        rows.append(Row((grouping, "", "", "", "", "", "", "", p_text), header=True))
        rows += [
            _forest_table_row(level, cox_rows.get(key), bayes_rows.get(key))
            for key, (name, level) in split.items()
            if name == grouping
        ]
    columns = (
        Column("Subgroup"),
        Column(f"{names[TREATED]} events/N", numeric=True),
        Column(f"{names[CONTROL]} events/N", numeric=True),
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Diagnostics", badge=True),
        Column("P interaction (LRT)", numeric=True),
    )
    has_cox, has_bayes, has_p = cox is not None, bayes is not None, bool(p_values)
    keep = (True, has_cox, has_cox, has_cox, has_cox, has_bayes, has_bayes, has_bayes, has_p)
    columns = tuple(column for column, kept in zip(columns, keep, strict=True) if kept)
    rows = [Row(tuple(c for c, kept in zip(r.cells, keep, strict=True) if kept), r.flagged, r.header) for r in rows]
    groups = ((("", 3), ("Cox", 2)) if has_cox else (("", 1),)) + ((("Bayesian (posterior)", 3),) if has_bayes else ())
    groups += (("", 1),) if has_p else ()
    caption = f"Hazard ratio of {names[TREATED]} vs {names[CONTROL]} within each subgroup."
    if has_cox:
        caption += " Cox: 95% Wald confidence interval and Wald P."
    if has_bayes:
        caption += (
            " Bayesian: exp(posterior mean log hazard ratio) with the 95% equal-tailed credible interval, and the "
            "posterior probability that the hazard ratio is below 1."
        )
    if has_p:
        caption += " P interaction: likelihood-ratio test of the treatment-by-grouping interaction (its levels)."
    return Table(columns, tuple(rows), groups=groups, caption=caption)


def join_on_terms(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Outer-join result frames on the keys of cox.csv, keeping first-seen key order.

    Parameters
    ----------
    frames
        Prefix -> frame (None to skip). Non-key columns come out as ``{prefix}_{column}``, plus a
        ``{prefix}_present`` column that is NaN where the frame has no row for the key.

    Returns
    -------
    pandas.DataFrame
        One row per distinct key; blank keys are empty strings.
    """
    keyed = [_prefixed(frame, prefix) for prefix, frame in frames.items() if frame is not None]
    joined = pd.concat([frame[list(COX.keys)] for frame in keyed], ignore_index=True).drop_duplicates()
    for frame in keyed:
        joined = joined.merge(frame, on=list(COX.keys), how="left")
    return joined


def arm_label(arm: object, arm_names: dict[str, str] | None) -> str:
    """An arm as shown: ``axi-cel (treated)`` when the data's name is known, else the arm value."""
    name = (arm_names or {}).get(str(arm))
    return f"{name} ({arm})" if name and name != arm else str(arm)


def format_text(value: object) -> str:
    """Format ``value`` as text, or ``""`` if missing."""
    return "" if pd.isna(value) else str(value)


def format_number(value: object, digits: int) -> str:
    """Format ``value`` to ``digits`` decimals, or ``""`` if missing."""
    return "" if pd.isna(value) else f"{float(value):.{digits}f}"


def format_count(value: object) -> str:
    """Format a whole number with thousands separators, or ``""`` if missing."""
    return "" if pd.isna(value) else f"{round(float(value)):,}"


def format_interval(estimate: object, lower: object, upper: object, digits: int, missing: str = "") -> str:
    """Format ``"estimate (lower-upper)"`` with an en dash; missing parts shown as ``missing``.

    Returns ``""`` when the estimate is missing and ``missing`` is empty, and the bare estimate when both
    bounds are missing.
    """
    point = format_number(estimate, digits) or missing
    if not point:
        return ""
    if pd.isna(lower) and pd.isna(upper):
        return point
    low, high = (format_number(bound, digits) or missing for bound in (lower, upper))
    return f"{point} ({low}\u2013{high})"


def format_p(p: object) -> str:
    """Format a P value to 3 significant digits, ``<0.001`` below that, ``""`` if missing."""
    if pd.isna(p):
        return ""
    return f"<{P_FLOOR:g}" if float(p) < P_FLOOR else f"{float(p):.3g}"


def format_probability(probability: object) -> str:
    """Format a posterior probability to 2 decimals, ``<0.01``/``>0.99`` at the extremes, ``""`` if missing."""
    if pd.isna(probability):
        return ""
    value = float(probability)
    if value < 0.005:
        return "<0.01"
    return ">0.99" if value > 0.995 else f"{value:.2f}"


def _groups_p(interactions: pd.DataFrame | None, endpoint: str) -> dict[str, float]:
    if interactions is None:
        return {}
    rows = interactions[(interactions["endpoint"] == endpoint) & (interactions["scale"] == "groups")]
    return dict(zip(rows["grouping"].astype(str), rows["lrt_p"].astype(float), strict=True))


def _forest_table_row(label: str, cox: pd.Series | None, bayes: pd.Series | None) -> Row:
    cox_cells = ("", "", "", "")
    if cox is not None:
        cox_cells = (
            _events(cox.get("events_treated"), cox.get("n_treated")),
            _events(cox.get("events_control"), cox.get("n_control")),
            format_interval(cox["hr"], cox["hr_lower"], cox["hr_upper"], digits=2, missing="NE"),
            format_p(cox["p"]),
        )
    bayes_cells, flagged = ("", "", ""), False
    if bayes is not None:
        flagged = failed_diagnostics(bayes["converged"])
        bayes_cells = (
            format_posterior_hr(bayes["mean"], bayes["hr_lower"], bayes["hr_upper"]),
            format_probability(bayes["prob_hr_below_1"]),
            diagnostics_badge(bayes["converged"]),
        )
    return Row((label, *cox_cells[:2], *cox_cells[2:], *bayes_cells, ""), flagged=flagged)


def _events(events: object, n: object) -> str:
    events_text, n_text = format_count(events), format_count(n)
    return f"{events_text}/{n_text}" if events_text and n_text else ""


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


def statistic_label(statistic: str, time: object) -> str:
    """A survival statistic's row label: ``Median (months)``, ``Survival at 12 months``, ``RMST to 24 months``."""
    if statistic == "median":
        return "Median (months)"
    if statistic == "survival" and not pd.isna(time):
        return f"Survival at {float(time):g} months"
    if statistic == "rmst" and not pd.isna(time):
        return f"RMST to {float(time):g} months (months)"
    return str(statistic)


def _prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    keys = frame[list(COX.keys)].fillna("").astype(str)
    values = frame.drop(columns=list(COX.keys)).add_prefix(f"{prefix}_")
    return pd.concat([keys, values], axis=1).assign(**{f"{prefix}_present": 1.0})


def _comparison_row(record: dict, has_cox: bool, has_bayes: bool, scale: TermScale | None) -> Row:
    term = record["term"] if scale is None else f"{record['term']} {scale.label}"
    keys = (record["endpoint"], record["analysis"], record["subgroup"] or ALL_PATIENTS, term)
    factor = 1.0 if scale is None else scale.factor
    cells = keys + (_cox_cells(record, factor) if has_cox else ()) + (_bayes_cells(record, factor) if has_bayes else ())
    return Row(cells, flagged=has_bayes and failed_diagnostics(record["bayes_converged"]))


def _cox_cells(record: dict, factor: float) -> tuple[str, ...]:
    if pd.isna(record["cox_present"]):
        return ("", "", "")
    events, n = format_count(record["cox_events"]), format_count(record["cox_n"])
    return (
        scaled_interval(record["cox_hr"], record["cox_hr_lower"], record["cox_hr_upper"], factor),
        format_p(record["cox_p"]),
        f"{events}/{n}" if events and n else "",
    )


def _bayes_cells(record: dict, factor: float) -> tuple[str, ...]:
    if pd.isna(record["bayes_present"]):
        return ("", "", "", "", "")
    return (
        format_posterior_hr(record["bayes_mean"], record["bayes_hr_lower"], record["bayes_hr_upper"], factor),
        format_probability(record["bayes_prob_hr_below_1"]),
        format_number(record["bayes_r_hat"], 3),
        format_count(record["bayes_ess_bulk"]),
        diagnostics_badge(record["bayes_converged"]),
    )


def _comparison_columns(has_cox: bool, has_bayes: bool) -> tuple[Column, ...]:
    keys = (Column("Endpoint"), Column("Analysis"), Column("Subgroup"), Column("Term"))
    cox = (
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("Events/N", numeric=True),
    )
    bayes = (
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("R-hat", numeric=True),
        Column("ESS (bulk)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    return keys + (cox if has_cox else ()) + (bayes if has_bayes else ())


def _comparison_groups(has_cox: bool, has_bayes: bool) -> tuple[tuple[str, int], ...]:
    groups = [("", len(COX.keys))]
    if has_cox:
        groups.append(("Cox proportional hazards", 3))
    if has_bayes:
        groups.append(("Bayesian piecewise-exponential", 5))
    return tuple(groups)


def _comparison_caption(has_cox: bool, has_bayes: bool) -> str:
    parts = []
    if has_cox:
        parts.append("Cox: hazard ratio with 95% Wald confidence interval and Wald P value.")
    if has_bayes:
        parts.append(
            "Bayesian: exp(posterior mean log hazard ratio) with the 95% equal-tailed credible interval (CrI), "
            "posterior probability that the hazard ratio is below 1, R-hat and bulk effective sample size (ESS)."
        )
    parts.append(
        "A continuous biomarker's terms in its interaction model (<biomarker> and arm:<biomarker>) are stated per "
        "interquartile range (IQR, 25th to 75th percentile, given after the term): the hazard ratio per unit raised "
        "to the power IQR, which transforms the estimate and both interval bounds exactly; a two-level biomarker's "
        "terms compare 1 with 0."
    )
    return " ".join(parts)


def _comparison_heading(cox: pd.DataFrame | None, bayes: pd.DataFrame | None) -> str:
    if cox is not None and bayes is not None:
        return "Cox and Bayesian side by side"
    return "Cox proportional-hazards model" if cox is not None else "Bayesian piecewise-exponential model"
