"""Table builders of the Bayesian results: one point estimate, exp(posterior mean log HR), and one fit status."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmesurv.reports import posterior_tables, tables

POINT_COLUMN = "at posterior mean log HR"  # every Bayesian HR column header says what its point estimate is


def lognormal_row(mean: float, sd: float = 0.5) -> dict:
    """Posterior summaries of a normal log HR: ``hr_mean`` = exp(mean + sd^2 / 2) is well above exp(mean)."""
    return {
        "mean": mean,
        "sd": sd,
        "hr_mean": np.exp(mean + sd**2 / 2),
        "hr_lower": np.exp(mean - 1.96 * sd),
        "hr_upper": np.exp(mean + 1.96 * sd),
        "prob_hr_below_1": 0.8,
        "r_hat": 1.002,
        "ess_bulk": 1500.0,
        "converged": 1.0,
    }


def bayes_frame() -> pd.DataFrame:
    """``bayes.csv`` rows of every analysis whose hazard ratio a table shows."""
    keys = [
        ("treatment", "all", "arm", -0.5),
        ("subgroup", "b_cell_ges=high", "arm", -0.9),
        ("interaction", "b_cell_ges", "arm:b_cell_ges", -0.3),
        ("treatment_at", "b_cell_ges=0.5", "arm", -0.7),
    ]
    return pd.DataFrame(
        [
            {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term} | lognormal_row(mean)
            for analysis, subgroup, term, mean in keys
        ]
    )


def screen_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"endpoint": "efs", "biomarker": name, "shrinkage": "horseshoe", "kappa": 0.4, "biomarker_sd": 1.2}
            | lognormal_row(mean)
            | {"divergences": 0}
            for name, mean in (("b_cell_ges", -0.6), ("sig_ifng", 0.1))
        ]
    )


def time_varying_frame() -> pd.DataFrame:
    intervals = ((0, 0.0, 3.0, -0.8), (1, 3.0, np.inf, -0.2))
    return pd.DataFrame(
        [
            {"endpoint": "efs", "analysis": "treatment", "subgroup": "all", "interval": k, "start": start, "end": end}
            | {"events": 30}
            | lognormal_row(mean)
            for k, start, end, mean in intervals
        ]
    )


def expected_cell(row: pd.Series) -> str:
    """exp(posterior mean log HR) with the credible interval, formatted as the report does, from the input row."""
    return f"{np.exp(row['mean']):.2f} ({row['hr_lower']:.2f}\u2013{row['hr_upper']:.2f})"


def point_cells(table: tables.Table) -> list[str]:
    (index,) = [i for i, column in enumerate(table.columns) if POINT_COLUMN in column.label]
    return [row.cells[index] for row in table.rows if not row.header]


BUILDERS = {
    "treatment at values": (lambda: posterior_tables.treatment_at_table(bayes_frame()), "treatment_at", None),
    "time-varying": (lambda: posterior_tables.time_varying_table(time_varying_frame()), None, None),
    "interaction": (lambda: posterior_tables.interaction_table(bayes_frame()), "interaction", None),
    "screen": (lambda: posterior_tables.screen_table(screen_frame()), None, "mean"),
    "forest": (lambda: tables.forest_table(None, bayes_frame(), "efs"), ("treatment", "subgroup"), None),
    "cox vs bayes": (lambda: tables.comparison(None, bayes_frame()).table, None, None),
}
INPUTS = {"time-varying": time_varying_frame, "screen": screen_frame}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_bayesian_hr_cell_is_exp_of_the_posterior_mean_log_hr(name: str) -> None:
    build, analyses, sort_by = BUILDERS[name]
    frame = INPUTS.get(name, bayes_frame)()
    if analyses is not None:
        frame = frame[frame["analysis"].isin([analyses] if isinstance(analyses, str) else analyses)]
    if sort_by is not None:
        frame = frame.sort_values(sort_by, kind="stable")
    assert (frame["hr_mean"].round(2) != np.exp(frame["mean"]).round(2)).all()  # the two definitions differ here
    assert point_cells(build()) == [expected_cell(row) for _, row in frame.iterrows()]


def test_interaction_point_is_raised_to_the_scale_with_its_bounds() -> None:
    bayes = bayes_frame()
    biomarkers = pd.DataFrame(
        {"biomarker": ["b_cell_ges"], "two_level": [0.0], "q1": [-0.5], "q3": [1.5], "iqr": [2.0]}
    )
    (cell,) = point_cells(posterior_tables.interaction_table(bayes, biomarkers=biomarkers))
    row = bayes[bayes["analysis"] == "interaction"].iloc[0]
    assert cell == f"{np.exp(2 * row['mean']):.2f} ({row['hr_lower'] ** 2:.2f}\u2013{row['hr_upper'] ** 2:.2f})"


def test_interaction_and_screen_show_the_log_hr_mean_and_sd() -> None:
    interaction = posterior_tables.interaction_table(bayes_frame())
    assert interaction.rows[0].cells[3] == "-0.300 (0.500)"
    screen = posterior_tables.screen_table(screen_frame())
    assert [row.cells[2] for row in screen.rows] == ["-0.600 (0.500)", "0.100 (0.500)"]


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        ([1.0, 1.0], tables.CONVERGED),
        ([1.0, 0.0], tables.NOT_CONVERGED),
        ([np.nan, 0.0], tables.NOT_CONVERGED),
        ([1.0, np.nan], tables.NOT_RECORDED),
    ],
)
def test_fit_status_counts_a_missing_flag_as_not_converged(flags: list[float], status: str) -> None:
    assert tables.fit_status(pd.Series(flags)) == status


def test_diagnostics_table_flags_failed_fits_and_says_when_none_was_recorded() -> None:
    bayes = bayes_frame()
    bayes["ess_tail"], bayes["bfmi_min"], bayes["divergences"] = 1200.0, 0.9, 0
    bayes.loc[bayes["analysis"] == "subgroup", "converged"] = 0.0
    bayes.loc[bayes["analysis"] == "interaction", "converged"] = np.nan
    diagnostics = posterior_tables.diagnostics_table(bayes)
    status = {row.cells[1]: (row.cells[-1], row.flagged) for row in diagnostics.table.rows}
    assert status == {
        "treatment": ("converged", False),
        "subgroup": ("not converged", True),
        "interaction": ("not recorded", False),
    }
    assert diagnostics.n_unconverged == 1


def test_badge_marks_only_rows_whose_fit_failed() -> None:
    bayes = bayes_frame().assign(converged=[0.0, np.nan, 1.0, 1.0])  # a blank flag: not recorded, not failed
    table = tables.forest_table(None, bayes, "efs")
    badges = [(row.cells[-1], row.flagged) for row in table.rows if not row.header]
    assert badges == [(tables.NOT_CONVERGED, True), ("", False)]


@pytest.mark.parametrize(("value", "text"), [(np.nan, ""), (None, ""), ("IPCW", "IPCW"), (3, "3")])
def test_format_text(value: object, text: str) -> None:
    assert tables.format_text(value) == text
