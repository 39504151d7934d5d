"""Report tables of the Bayesian results: interactions, effect along a biomarker, survival, diagnostics.

The interaction posteriors, the treatment effect at a biomarker's quartiles, the posterior survival statistics and
the convergence diagnostics of every fit. Formatting follows :mod:`tmesurv.reports.tables`; a fit that failed its
diagnostics is flagged on every row it makes, never shown as if fine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.reports.tables import (
    NOT_CONVERGED,
    PER_UNIT,
    Column,
    Row,
    Table,
    arm_label,
    diagnostics_badge,
    failed_diagnostics,
    fit_status,
    format_count,
    format_interval,
    format_mean_sd,
    format_number,
    format_p,
    format_posterior_hr,
    format_probability,
    scale_of,
    scaled_interval,
    statistic_label,
    term_scales,
)

FIT_KEYS = ("endpoint", "analysis", "subgroup")
TREATMENT_AT = "treatment_at"
INTERACTION = "interaction"
STATISTIC_ORDER = {"median": 0, "survival": 1, "rmst": 2}
POSTERIOR_ARMS = ("treated", "control", "difference")


@dataclass(frozen=True)
class Diagnostics:
    """The convergence table of the Bayesian fits and how many failed."""

    table: Table
    n_fits: int
    n_unconverged: int


def interaction_table(
    bayes: pd.DataFrame,
    cox: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    biomarkers: pd.DataFrame | None = None,
) -> Table:
    """The posterior of every treatment-by-biomarker interaction, next to the Cox estimate and tests.

    Parameters
    ----------
    bayes
        ``bayes.csv``: rows of analysis ``interaction`` whose term starts with ``arm:``.
    cox
        ``cox.csv``, optional: the same terms' hazard ratio and Wald P.
    interactions
        ``interactions.csv``, optional: the likelihood-ratio P of the continuous biomarker.
    biomarkers
        ``biomarkers.csv``, optional: continuous biomarkers are then stated per interquartile range (see
        :func:`~tmesurv.reports.tables.term_scales`), else per unit.

    Returns
    -------
    Table
        One row per interaction term; unconverged fits flagged.
    """
    rows = bayes[(bayes["analysis"] == INTERACTION) & bayes["term"].astype(str).str.startswith("arm:")]
    cox_terms = {} if cox is None else {_term_key(row): row for _, row in cox.iterrows()}
    lrt = _continuous_lrt(interactions)
    scales = term_scales(biomarkers)
    table_rows = []
    for _, row in rows.iterrows():
        scale = scale_of(row, scales) or PER_UNIT
        match = cox_terms.get(_term_key(row))
        cox_cells = ("", "")
        if match is not None:
            cox_cells = (
                scaled_interval(match["hr"], match["hr_lower"], match["hr_upper"], scale.factor),
                format_p(match["p"]),
            )
        cells = (
            row["endpoint"],
            row["subgroup"],
            scale.label,
            format_mean_sd(float(row["mean"]) * scale.factor, float(row["sd"]) * scale.factor),
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"], scale.factor),
            format_probability(row["prob_hr_below_1"]),
            *cox_cells,
            format_p(lrt.get((row["endpoint"], row["subgroup"]))),
            diagnostics_badge(row["converged"]),
        )
        table_rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Scale"),
        Column("Posterior mean log HR (SD)", numeric=True),
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("LRT P", numeric=True),
        Column("Diagnostics", badge=True),
    )
    keep = (True,) * 6 + (cox is not None,) * 2 + (interactions is not None, True)
    columns = tuple(column for column, kept in zip(columns, keep, strict=True) if kept)
    table_rows = [Row(tuple(c for c, k in zip(r.cells, keep, strict=True) if k), r.flagged) for r in table_rows]
    frequentist = sum(keep[6:9])
    groups = (("", 3), ("Bayesian", 3)) + ((("Cox", frequentist),) if frequentist else ()) + (("", 1),)
    caption = (
        "The interaction term arm:<biomarker> of the model arm + biomarker + arm x biomarker: the ratio of the "
        "treatment hazard ratios between two biomarker values. Scale: for a continuous biomarker, between its 75th "
        "and 25th percentile (per interquartile range, IQR, values given), i.e. the per-unit hazard ratio raised to "
        "the power IQR, which transforms the estimate and both interval bounds exactly; for a 0/1 biomarker, the "
        "treatment HR when it is 1 over the treatment HR when it is 0; per unit when the biomarker's quartiles are "
        "not in the results (biomarkers.csv). Bayesian: posterior mean (SD) of the log HR and exp of the posterior "
        "mean log HR with the 95% equal-tailed credible interval, both on that scale. P(HR<1): posterior "
        "probability that the treatment benefit grows with the biomarker. LRT P: likelihood-ratio test of the "
        "interaction term."
    )
    return Table(columns, tuple(table_rows), groups=groups, caption=caption)


def treatment_at_table(bayes: pd.DataFrame) -> Table:
    """The treatment hazard ratio at the quartiles of each biomarker, from its Bayesian interaction model.

    Parameters
    ----------
    bayes
        ``bayes.csv``: rows of analysis ``treatment_at`` with subgroup ``<biomarker>=<value>``.

    Returns
    -------
    Table
        One row per (endpoint, biomarker, value).
    """
    rows = []
    for _, row in treatment_at_rows(bayes).iterrows():
        cells = (
            row["endpoint"],
            row["biomarker"],
            f"{row['value']:.4g}",
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"]),
            format_probability(row["prob_hr_below_1"]),
            diagnostics_badge(row["converged"]),
        )
        rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Biomarker value", numeric=True),
        Column("Treatment HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "Treatment hazard ratio exp(b_arm + b_arm:x * x) at the 25th, 50th and 75th percentile x of the biomarker "
        "(distinct values only): exp of the posterior mean of the log HR b_arm + b_arm:x * x, with the 95% "
        "equal-tailed credible interval."
    )
    return Table(columns, tuple(rows), caption=caption)


def treatment_at_rows(bayes: pd.DataFrame) -> pd.DataFrame:
    """The ``treatment_at`` rows with the biomarker and its value split out of the subgroup label.

    Returns
    -------
    pandas.DataFrame
        The rows with numeric ``value`` (labels whose value is not a number are left out) and ``biomarker``.
    """
    rows = bayes[bayes["analysis"] == TREATMENT_AT]
    labels = rows["subgroup"].fillna("").astype(str)
    biomarker = labels.map(lambda label: label.rpartition("=")[0])
    value = pd.to_numeric(labels.map(lambda label: label.rpartition("=")[2]), errors="coerce")
    rows = rows.assign(biomarker=biomarker, value=value)
    return rows[rows["value"].notna() & (rows["biomarker"] != "")]


def screen_table(screen: pd.DataFrame) -> Table:
    """The interaction screen: per biomarker the shrunk interaction per SD, sorted by effect, with diagnostics.

    Parameters
    ----------
    screen
        ``bayes_screen.csv``.

    Returns
    -------
    Table
        One row per (endpoint, biomarker), the largest benefit-increasing interaction first; every row of an
        unconverged fit flagged.
    """
    rows = []
    for _, row in screen.sort_values(["endpoint", "mean"], kind="stable").iterrows():
        cells = (
            row["endpoint"],
            row["biomarker"],
            format_mean_sd(row["mean"], row["sd"]),
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"]),
            format_probability(row["prob_hr_below_1"]),
            format_number(row["kappa"], 2),
            format_number(row["biomarker_sd"], 3),
            format_number(row["r_hat"], 3),
            format_count(row["ess_bulk"]),
            format_count(row["divergences"]),
            diagnostics_badge(row["converged"]),
        )
        rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Log HR per SD, mean (SD)", numeric=True),
        Column("HR per SD at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Shrinkage factor", numeric=True),
        Column("Biomarker SD", numeric=True),
        Column("R-hat", numeric=True),
        Column("ESS (bulk)", numeric=True),
        Column("Divergences (fit)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "All listed biomarkers and their arm interactions in one model; the interactions share a shrinkage prior "
        f"({_shrinkage_names(screen)}), so a screen of many biomarkers shrinks the null ones together instead of "
        "testing each at its own level. Biomarkers standardised over the complete cases: the interaction is the "
        "ratio of treatment hazard ratios per SD of the biomarker (SD given, in the biomarker's units). "
        "Shrinkage factor: posterior mean of 1 / (1 + events x prior variance), 0 = left alone, 1 = shrunk to zero "
        "(blank without a shrinkage prior). Divergences are those of the whole fit; a fit with any is flagged."
    )
    return Table(columns, tuple(rows), caption=caption)


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
        "Time-varying treatment effect (bayes.time_varying): a treatment log hazard ratio per baseline interval, "
        "a random walk over the intervals shrunk toward proportional hazards (priors.time_varying_sd). Hazard "
        "ratio at the posterior mean log hazard ratio, exp(mean), with the 95% equal-tailed credible interval; "
        "events of both arms in the interval."
    )
    return Table(columns, tuple(rows), caption=caption)


def prior_predictive_table(check: pd.DataFrame, arm_names: dict[str, str] | None = None) -> Table:
    """Prior predictive survival per arm at the landmarks and events in the follow-up, next to the data.

    Parameters
    ----------
    check
        ``bayes_prior_predictive.csv``.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        One row per (endpoint, statistic, arm, landmark).
    """
    rows = []
    for _, row in check.iterrows():
        digits = 0 if row["statistic"] == "events" else 2
        cells = (
            row["endpoint"],
            "Events in the follow-up" if row["statistic"] == "events" else statistic_label("survival", row["time"]),
            "both" if row["arm"] == "all" else arm_label(row["arm"], arm_names),
            format_interval(row["estimate"], row["lower"], row["upper"], digits),
            format_number(row["observed"], digits),
            format_probability(row["prob_below_observed"]),
        )
        rows.append(Row(cells))
    columns = (
        Column("Endpoint"),
        Column("Statistic"),
        Column("Arm"),
        Column("Prior predictive median (95% interval)", numeric=True),
        Column("Observed", numeric=True),
        Column("P(below observed)", numeric=True),
    )
    caption = (
        "What the priors of the treatment model say before seeing the outcomes: parameters drawn from the priors, "
        "each draw turned into the arm's average survival at the landmark and the number of events in the observed "
        "follow-up. Observed: Kaplan-Meier survival and the event count. P(below observed) near 0 or 1 means the "
        "priors do not expect the data; vague priors spread over the whole range, which is expected."
    )
    return Table(columns, tuple(rows), caption=caption)


def _shrinkage_names(screen: pd.DataFrame) -> str:
    names = [str(name) for name in pd.unique(screen["shrinkage"].dropna())]
    return ", ".join(names) if names else "bayes.shrinkage"


def diagnostics_table(bayes: pd.DataFrame) -> Diagnostics:
    """One row per Bayesian fit: the worst R-hat, ESS and BFMI over its terms, divergences, and its status.

    Parameters
    ----------
    bayes
        ``bayes.csv``; the derived ``treatment_at`` rows repeat their interaction model's diagnostics and are left
        out.

    Returns
    -------
    Diagnostics
        The table (unconverged fits flagged) and the counts.
    """
    fits = bayes[bayes["analysis"] != TREATMENT_AT].fillna({key: "" for key in FIT_KEYS})
    rows = [_fit_row(keys, group) for keys, group in fits.groupby(list(FIT_KEYS), sort=False)]
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Subgroup"),
        Column("Terms", numeric=True),
        Column("Max R-hat", numeric=True),
        Column("Min ESS (bulk)", numeric=True),
        Column("Min ESS (tail)", numeric=True),
        Column("Min BFMI", numeric=True),
        Column("Divergences", numeric=True),
        Column("Status", badge=True),
    )
    caption = (
        "Per fit, the worst value over its terms. A blank is a statistic that was not recorded. Converged means "
        "R-hat below 1.01, bulk and tail ESS of at least 400, BFMI of at least 0.3 in every chain and no divergent "
        "transitions (the rule of tmesurv bayes)."
    )
    table = Table(columns, tuple(rows), caption=caption)
    return Diagnostics(table, len(rows), sum(row.flagged for row in rows))


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
        "months, landmark survival as a probability; difference = treated - control. NR: not reached within the "
        "model's time range."
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


def _statistic_cell(record: dict | None, statistic: str) -> str:
    if record is None:
        return ""
    digits = 2 if statistic == "survival" else 1
    return format_interval(record["estimate"], record["lower"], record["upper"], digits, missing="NR")


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
        status,
    )
    return Row(cells, flagged=status == NOT_CONVERGED)


def _term_key(row: pd.Series) -> tuple[str, str, str, str]:
    return tuple(str(row[key]) for key in ("endpoint", "analysis", "subgroup", "term"))


def _continuous_lrt(interactions: pd.DataFrame | None) -> dict[tuple[str, str], float]:
    """LRT P of each arm x biomarker term: the continuous test, else (a 0/1 biomarker) the 1-df groups test."""
    if interactions is None:
        return {}
    found: dict[tuple[str, str], float] = {}
    for scale in ("groups", "continuous"):  # continuous last: it wins where both exist
        rows = interactions[(interactions["scale"] == scale) & ((scale == "continuous") | (interactions["df"] == 1))]
        keys = zip(rows["endpoint"].astype(str), rows["grouping"].astype(str), strict=True)
        found |= dict(zip(keys, rows["lrt_p"].astype(float), strict=True))
    return found
