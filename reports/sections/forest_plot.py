"""The forest plot: the treatment effect overall and in every subgroup, Cox beside Bayes, with interaction P values.

Subgroups are named by their cut-points (``subgroups.csv``: ``spd_mm2 > 3721``). A continuous biomarker's interaction
with treatment is tested on its own scale (the ``arm:<biomarker>`` term, Wald and likelihood ratio), and its
subgroups' test is labelled with how they were formed (``median split``). A Cox hazard ratio whose proportional-hazards
test rejects is marked (:data:`~tmesurv.reports.sections.ph.PH_MARK`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.reports.format import (
    NOT_ESTIMABLE,
    OVERALL,
    hr_at_posterior_mean,
    split_subgroup,
    subgroup_descriptions,
)
from tmesurv.reports.graphics import BAYES_COLOUR, COX_COLOUR, hr_axis_limit, log_hr_axis
from tmesurv.reports.sections.ph import PH_MARK, PH_POINTER, ph_p_values, ph_rejected

TERM = "arm"


FONT_SIZE = 9


CHAR_WIDTH = 0.075  # inches per character at FONT_SIZE, for sizing the text columns


ROW_HEIGHT = 0.27  # inches


PAIR_ROW_HEIGHT = 0.36  # inches, a row with a Cox and a Bayesian estimate


DODGE = 0.17  # rows: the Cox estimate sits this much above the row's centre, the Bayesian one as much below


UNCONVERGED_MARK = "\u2020"  # dagger after the Bayesian interval of a fit that failed its diagnostics


COX_LABEL = "Cox: HR, 95% CI"


BAYES_LABEL = "Bayesian: HR at posterior mean log HR, 95% CrI"


UNCONVERGED_LABEL = f"{UNCONVERGED_MARK} Bayesian fit not converged: do not interpret"


SPLIT_NAMES = (  # how interactions.csv's rule starts -> how the subgroups were formed
    ("high above median", "median split"),
    ("high above fixed cut-point", "cut-point split"),
    ("quartiles", "quartiles"),
)


INTERACTION_NOTE = (
    "P interaction, continuous: the arm x biomarker term of arm + biomarker + arm:biomarker, the biomarker on its own "
    "scale (Wald | likelihood ratio).\nSubgroups: likelihood-ratio test of arm x the subgroups shown (split as "
    "labelled)."
)


@dataclass(frozen=True)
class InteractionTests:
    """A grouping's tests of interaction with treatment (``interactions.csv``).

    ``continuous_wald``/``continuous_lrt``: the continuous biomarker's arm x biomarker term (NaN for a grouping that
    is not a continuous biomarker); ``groups_lrt``: arm x its subgroups; ``split``: how they were formed.
    """

    continuous_wald: float = np.nan
    continuous_lrt: float = np.nan
    groups_lrt: float = np.nan
    split: str = ""

    @property
    def continuous_text(self) -> str:
        """``0.006 | 0.007`` (Wald | LRT), blank when not tested on the continuous scale."""
        if np.isnan(self.continuous_wald) and np.isnan(self.continuous_lrt):
            return ""
        return f"{_p_text(self.continuous_wald, True)} | {_p_text(self.continuous_lrt, True)}"

    @property
    def groups_text(self) -> str:
        """``0.002 (median split)``: the subgroups' LRT P, labelled with the split when known."""
        return _p_text(self.groups_lrt, True) + (f" ({self.split})" if self.split else "")


@dataclass(frozen=True)
class _Estimate:
    """A hazard ratio with its interval, and its text; ``flagged`` when the fit failed its diagnostics."""

    hr: float
    lower: float
    upper: float
    text: str
    flagged: bool = False


@dataclass(frozen=True)
class _Row:
    """One line of the plot: a grouping header (no estimate) or a subgroup's Cox and/or Bayesian estimate."""

    label: str
    header: bool = False
    cox: _Estimate | None = None
    bayes: _Estimate | None = None
    treated: str = ""
    control: str = ""
    p_text: str = ""
    continuous_text: str = ""
    ph_rejected: bool = False

    @property
    def hr_text(self) -> str:
        """The Cox interval in words, marked when its proportional-hazards test rejects."""
        if self.cox is None:
            return ""
        return self.cox.text + (f" {PH_MARK}" if self.ph_rejected else "")

    @property
    def bayes_text(self) -> str:
        """The Bayesian interval in words, marked when the fit did not converge."""
        if self.bayes is None:
            return ""
        return self.bayes.text + (f" {UNCONVERGED_MARK}" if self.bayes.flagged else "")


def forest_figure(
    cox: pd.DataFrame | None,
    endpoint: str,
    interactions: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
    bayes: pd.DataFrame | None = None,
    subgroups: pd.DataFrame | None = None,
    ph_test: pd.DataFrame | None = None,
) -> Figure:
    """Hazard ratio of treated vs control, overall and in every subgroup, on a log scale.

    Parameters
    ----------
    cox
        ``cox.csv``: ``endpoint, analysis, subgroup, term, n_treated, events_treated, n_control, events_control,
        hr, hr_lower, hr_upper``. The overall row is ``analysis == "treatment"``, subgroup ``all``; one row per
        subgroup has ``analysis == "subgroup"``; both with term ``arm``. A NaN hazard ratio reads "not estimable".
        None to draw the Bayesian estimates alone.
    endpoint
        The endpoint to draw.
    interactions
        ``interactions.csv`` (``endpoint, grouping, scale, wald_p, lrt_p, rule``), optional: on each grouping's header
        row the Wald and likelihood-ratio P of scale ``continuous`` and the likelihood-ratio P of scale ``groups``
        (labelled with the split, e.g. ``median split``).
    arm_names
        Display name per arm value, e.g. ``{"treated": "axi-cel", "control": "SOC"}``; default the raw values.
    bayes
        ``bayes.csv`` (``endpoint, analysis, subgroup, term, mean, hr_lower, hr_upper, converged``), optional:
        the rows of the same analyses and subgroups are drawn beside the Cox estimates, on the same axis, at
        :func:`hr_at_posterior_mean`; a fit with ``converged`` false gets a hollow marker and a dagger.
    subgroups
        ``subgroups.csv``, optional: each level is labelled with its meaning (``spd_mm2 > 3721``).
    ph_test
        ``ph_test.csv``, optional: a Cox estimate whose treatment term rejects proportional hazards is marked.

    Returns
    -------
    matplotlib.figure.Figure
        Columns: subgroup, events/N per arm, the interval plot, "HR (95% CI)" (with ``bayes``: "Cox HR (95% CI)"
        and "Bayesian HR (95% CrI)") and, with ``interactions``, the interaction P values.

    Raises
    ------
    ValueError
        If neither table has treatment or subgroup rows of term ``arm`` for ``endpoint``.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    tests = interaction_tests(interactions, endpoint)
    labels = subgroup_descriptions(subgroups)
    rows = _forest_rows(cox, bayes, endpoint, tests, labels, ph_p_values(ph_test))
    paired = bayes is not None
    continuous = any(test.continuous_text for test in tests.values())
    columns = _columns(names, interactions is not None, cox is not None, paired, continuous)
    widths = [_column_width(rows, field, header) for field, header in columns]
    plot_width = max(3.0, 2 * CHAR_WIDTH * max(len(names[TREATED]), len(names[CONTROL])) + 1.6)
    row_height = PAIR_ROW_HEIGHT if paired else ROW_HEIGHT
    legend_height = 0.35 if paired else 0.0
    height = 1.3 + legend_height + row_height * (len(rows) + 1)
    figure = Figure(figsize=(sum(widths) + plot_width + 0.4, height), layout="constrained")
    figure.get_layout_engine().set(w_pad=0.02, wspace=0.0)
    ratios = [*widths[:3], plot_width, *widths[3:]]
    axes = figure.subplots(1, len(ratios), sharey=True, width_ratios=ratios)
    text_axes = [*axes[:3], *axes[4:]]
    for ax, (field, header) in zip(text_axes, columns, strict=True):
        _draw_text_column(ax, rows, field, header)
    _draw_intervals(axes[3], rows, names)
    axes[0].set_ylim(len(rows) - 0.5, -1.6)
    figure.suptitle(f"{endpoint}: hazard ratio, {names[TREATED]} vs {names[CONTROL]}", parse_math=False)
    if paired:
        _pair_legend(figure, rows)
    notes = [INTERACTION_NOTE] if continuous else []
    notes += [PH_POINTER] if any(row.ph_rejected for row in rows) else []
    if notes:
        figure.supxlabel("\n".join(notes), fontsize=FONT_SIZE - 1, x=0.01, ha="left", color="#333333")
    return figure


def treatment_rows(table: pd.DataFrame | None, endpoint: str) -> dict[tuple[str, str], pd.Series]:
    """The rows of a forest plot in table order: the overall treatment effect, then every subgroup's.

    Parameters
    ----------
    table
        ``cox.csv`` or ``bayes.csv``, or None.
    endpoint
        The endpoint.

    Returns
    -------
    dict
        ``(analysis, subgroup)`` -> the row of term ``arm``: ``("treatment", "all")`` first if present, then
        ``("subgroup", <label>)``.
    """
    if table is None:
        return {}
    rows = table[(table["endpoint"] == endpoint) & (table["term"] == TERM)]
    overall = rows[(rows["analysis"] == "treatment") & (rows["subgroup"] == ALL_PATIENTS)].head(1)
    subgroups = rows[rows["analysis"] == "subgroup"]
    return {(str(row["analysis"]), str(row["subgroup"])): row for _, row in pd.concat([overall, subgroups]).iterrows()}


def interaction_tests(interactions: pd.DataFrame | None, endpoint: str) -> dict[str, InteractionTests]:
    """Grouping -> its interaction tests (``interactions.csv``): continuous (Wald, LRT) and subgroups (LRT).

    Parameters
    ----------
    interactions
        ``interactions.csv`` (``endpoint, grouping, scale, wald_p, lrt_p, rule``), or None.
    endpoint
        The endpoint.

    Returns
    -------
    dict
        One entry per grouping with a ``groups`` or ``continuous`` row, in file order; empty without the file.
    """
    if interactions is None:
        return {}
    found: dict[str, dict] = {}
    for record in interactions[interactions["endpoint"] == endpoint].to_dict("records"):
        tests = found.setdefault(str(record["grouping"]), {})
        if record["scale"] == "continuous":
            tests |= {"continuous_wald": float(record["wald_p"]), "continuous_lrt": float(record["lrt_p"])}
        elif record["scale"] == "groups":
            tests |= {"groups_lrt": float(record["lrt_p"]), "split": split_name(record.get("rule"))}
    return {grouping: InteractionTests(**tests) for grouping, tests in found.items()}


def split_name(rule: object) -> str:
    """How a grouping's subgroups were formed, from its rule (``median split``, ``cut-point split``, ``quartiles``).

    Blank for two-level biomarkers, combined subgroups and covariates: their subgroups are their levels.
    """
    text = "" if pd.isna(rule) else str(rule)
    return next((name for start, name in SPLIT_NAMES if text.startswith(start)), "")


def _forest_rows(
    cox: pd.DataFrame | None,
    bayes: pd.DataFrame | None,
    endpoint: str,
    tests: dict[str, InteractionTests],
    labels: Mapping[str, str],
    ph: Mapping[tuple[str, str, str, str], float],
) -> list[_Row]:
    """The overall row, then per grouping (in table order, Cox first) a header row and one row per level."""
    cox_rows, bayes_rows = treatment_rows(cox, endpoint), treatment_rows(bayes, endpoint)
    if not cox_rows and not bayes_rows:
        table = "cox" if cox is not None else "bayes"
        raise ValueError(f"{table} table has no treatment or subgroup rows of term '{TERM}' for endpoint '{endpoint}'")
    keys = list(dict.fromkeys([*cox_rows, *bayes_rows]))
    overall = ("treatment", ALL_PATIENTS)

    def row(label: str, key: tuple[str, str]) -> _Row:
        rejected = ph_rejected(ph, (endpoint, *key, TERM)) and key in cox_rows
        return _estimate_row(label, cox_rows.get(key), bayes_rows.get(key), rejected)

    drawn = [row(OVERALL, overall)] if overall in keys else []
    split = {key: split_subgroup(key[1], tests) for key in keys if key != overall}
    for grouping in dict.fromkeys(name for name, _ in split.values()):
        test = tests.get(grouping, InteractionTests())
        drawn.append(_Row(grouping, header=True, p_text=test.groups_text, continuous_text=test.continuous_text))
        drawn += [
            row(f"   {labels.get(key[1], level)}", key) for key, (name, level) in split.items() if name == grouping
        ]
    return drawn


def _estimate_row(label: str, cox: pd.Series | None, bayes: pd.Series | None, ph_rejected: bool = False) -> _Row:
    counts = {}
    if cox is not None:
        counts = {
            "treated": _events_text(cox.get("events_treated"), cox.get("n_treated")),
            "control": _events_text(cox.get("events_control"), cox.get("n_control")),
        }
    cox_estimate = None if cox is None else _estimate(cox, float(cox["hr"]))
    bayes_estimate = None if bayes is None else _estimate(bayes, float(hr_at_posterior_mean(bayes["mean"])))
    return _Row(label=label, cox=cox_estimate, bayes=bayes_estimate, ph_rejected=ph_rejected, **counts)


def _estimate(row: pd.Series, hr: float) -> _Estimate:
    """The estimate ``hr`` with the row's interval; flagged when the row's fit failed its diagnostics."""
    lower, upper = float(row["hr_lower"]), float(row["hr_upper"])
    flagged = bool(row.get("converged", np.nan) == 0)
    return _Estimate(hr, lower, upper, _hr_text(hr, lower, upper), flagged)


def _events_text(events: object, n: object) -> str:
    return "/".join("NA" if pd.isna(value) else f"{int(value)}" for value in (events, n))


def _hr_text(hr: float, lower: float, upper: float) -> str:
    if not np.isfinite(hr):
        return NOT_ESTIMABLE
    return f"{_ratio(hr)} ({_ratio(lower)}\u2013{_ratio(upper)})"


def _ratio(value: float) -> str:
    if np.isnan(value):
        return "NE"
    if np.isinf(value):
        return "\u221e"
    return f"{value:.2f}" if 0.005 <= value < 1000 else f"{value:.2g}"


def _p_text(p: float, tested: bool) -> str:
    if not tested:
        return ""
    if np.isnan(p):
        return "not tested"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _columns(
    names: Mapping[str, str], with_p: bool, with_cox: bool = True, with_bayes: bool = False, continuous: bool = False
) -> list[tuple[str, str]]:
    """(row field, header) of each text column: three left of the interval plot, the rest right of it."""
    columns = [
        ("label", "Subgroup"),
        ("treated", f"{names[TREATED]}\nevents/N"),
        ("control", f"{names[CONTROL]}\nevents/N"),
    ]
    if with_cox:
        columns.append(("hr_text", "Cox HR\n(95% CI)" if with_bayes else "HR (95% CI)"))
    if with_bayes:
        columns.append(("bayes_text", "Bayesian HR\n(95% CrI)"))
    if with_p and continuous:
        columns += [
            ("continuous_text", "P interaction, continuous\n(Wald | LRT)"),
            ("p_text", "P interaction,\nsubgroups (LRT)"),
        ]
    elif with_p:
        columns.append(("p_text", "P interaction"))
    return columns


def _column_width(rows: list[_Row], field: str, header: str) -> float:
    longest = max([len(getattr(row, field)) for row in rows] + [len(line) for line in header.split("\n")])
    return CHAR_WIDTH * longest + 0.25


def _draw_text_column(ax: Axes, rows: list[_Row], field: str, header: str) -> None:
    left = field == "label"
    x, align = (0.0, "left") if left else (0.5, "center")
    colour = BAYES_COLOUR if field == "bayes_text" else "black"
    for y, row in enumerate(rows):
        weight = "bold" if row.header and left else "normal"
        text = getattr(row, field)
        ax.text(x, y, text, ha=align, va="center", fontsize=FONT_SIZE, weight=weight, color=colour, parse_math=False)
    ax.text(x, -1.1, header, ha=align, va="center", fontsize=FONT_SIZE, weight="bold", parse_math=False)
    ax.set_xlim(0.0, 1.0)
    ax.axis("off")
    ax.axhline(-0.55, color="#999999", linewidth=0.8)


def _draw_intervals(ax: Axes, rows: list[_Row], names: Mapping[str, str]) -> None:
    limit = _axis_limit(rows)
    for y, row in enumerate(rows):
        paired = row.cox is not None and row.bayes is not None
        for estimate, offset, colour, marker in (
            (row.cox, -DODGE if paired else 0.0, COX_COLOUR, "D" if row.label == OVERALL else "s"),
            (row.bayes, DODGE if paired else 0.0, BAYES_COLOUR, "o"),
        ):
            if estimate is not None and np.isfinite(estimate.hr) and estimate.hr > 0:
                _draw_interval(ax, y + offset, estimate, limit, colour, marker)
    ax.vlines(1.0, -0.5, len(rows) - 0.5, color="#555555", linewidth=0.9)
    ax.axhline(-0.55, color="#999999", linewidth=0.8)
    log_hr_axis(ax, limit, "x")
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.spines[["left", "right", "top"]].set_visible(False)
    ax.set_xlabel("Hazard ratio (log scale)")
    favours = {"fontsize": FONT_SIZE - 1, "va": "center", "textcoords": "offset points", "color": "#333333"}
    left = ax.annotate(f"\u2190 favours {names[TREATED]}", (1.0, -1.1), xytext=(-5, 0), ha="right", **favours)
    right = ax.annotate(f"favours {names[CONTROL]} \u2192", (1.0, -1.1), xytext=(5, 0), ha="left", **favours)
    for text in (left, right):
        text.set_parse_math(False)


def _draw_interval(ax: Axes, y: float, estimate: _Estimate, limit: float, colour: str, marker: str) -> None:
    """A marker at the hazard ratio and a line over its interval; an arrow where the interval leaves the axis.

    A flagged (unconverged) estimate gets a hollow marker.
    """
    lower = estimate.hr if np.isnan(estimate.lower) else estimate.lower  # a missing bound draws no line on its side
    upper = estimate.hr if np.isnan(estimate.upper) else estimate.upper
    ax.plot([max(lower, 1 / limit), min(upper, limit)], [y, y], color=colour, linewidth=1.2, solid_capstyle="butt")
    if lower < 1 / limit:
        ax.plot(1 / limit, y, marker="<", color=colour, markersize=5, clip_on=False)
    if upper > limit:
        ax.plot(limit, y, marker=">", color=colour, markersize=5, clip_on=False)
    size = 7 if marker == "D" else 6
    face = "white" if estimate.flagged else colour
    ax.plot(estimate.hr, y, marker=marker, color=colour, markerfacecolor=face, markersize=size)


def _pair_legend(figure: Figure, rows: list[_Row]) -> None:
    """What the two markers mean (and the dagger, when a Bayesian fit did not converge), below the plot."""
    handles = [
        Line2D([], [], color=COX_COLOUR, marker="s", markersize=6, linewidth=1.2),
        Line2D([], [], color=BAYES_COLOUR, marker="o", markersize=6, linewidth=1.2),
    ]
    labels = [COX_LABEL, BAYES_LABEL]
    if any(row.bayes is not None and row.bayes.flagged for row in rows):
        handles.append(Line2D([], [], color=BAYES_COLOUR, marker="o", markerfacecolor="white", linewidth=1.2))
        labels.append(UNCONVERGED_LABEL)
    figure.legend(handles, labels, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=FONT_SIZE)


def _axis_limit(rows: list[_Row]) -> float:
    """The axis limit covering every hazard ratio and bound (see :func:`hr_axis_limit`)."""
    estimates = [e for row in rows for e in (row.cox, row.bayes) if e is not None]
    return hr_axis_limit(np.array([v for e in estimates for v in (e.hr, e.lower, e.upper)], dtype=float), margin=1.08)
