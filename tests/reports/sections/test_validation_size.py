"""Validation-size section: the figure plots the CSV's widths, targets and chosen n; the tables; the section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmesurv.outputs.files import VALIDATION_SIZE, VALIDATION_SIZE_N
from tmesurv.reports.sections.validation_size import (
    choice_table,
    precision_table,
    validation_size_figure,
    validation_size_section,
)


def size_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two calibration settings x three sizes x (harrell_c, calibration_slope with targets; ipa without an interval)."""
    rows = []
    for slope in (1.0, 0.8):
        for n in (200, 500, 1000):
            for metric, target, width in (
                ("harrell_c", 0.1, 1.6 / np.sqrt(n) + (1 - slope)), ("calibration_slope", 0.3, 7 / np.sqrt(n) * slope),
                ("ipa", np.nan, np.nan),
            ):  # fmt: skip
                rows.append({column: 0.0 for column in VALIDATION_SIZE.columns} | {
                    "n": n, "calibration_slope": slope, "oe": 1.0, "metric": metric, "mean_ci_width": width,
                    "target_width": target, "p_target": float(width <= target) if target == target else np.nan,
                })  # fmt: skip
    table = pd.DataFrame(rows, columns=list(VALIDATION_SIZE.columns))
    choices = pd.DataFrame(
        {"calibration_slope": [1.0, 0.8], "oe": [1.0, 1.0], "chosen_n": [1000.0, np.nan], "target_probability": 0.8,
         "targets": "harrell_c width <= 0.1; calibration_slope width <= 0.3",
         "population": "reference cohort ref.csv: 352 of 359 patients"},
        columns=list(VALIDATION_SIZE_N.columns),
    )  # fmt: skip
    return table, choices


def test_figure_plots_the_widths_targets_and_chosen_n():
    table, choices = size_rows()
    figure = validation_size_figure(table, choices)
    axes = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["harrell_c", "calibration_slope"]  # ipa has no interval: no panel
    for ax in axes:
        rows = table[table["metric"] == ax.get_title()]
        curves = [line for line in ax.get_lines() if line.get_label().startswith("slope")]
        assert [line.get_label() for line in curves] == ["slope 1, O/E 1", "slope 0.8, O/E 1"]
        for line, slope in zip(curves, (1.0, 0.8), strict=True):
            expected = rows[rows["calibration_slope"] == slope].sort_values("n")
            np.testing.assert_array_equal(line.get_xdata(), expected["n"])
            np.testing.assert_allclose(line.get_ydata(), expected["mean_ci_width"], rtol=0, atol=0)
        (target,) = [line for line in ax.get_lines() if line.get_label() == "target width"]
        assert set(target.get_ydata()) == {rows["target_width"].iloc[0]}
        (chosen,) = [line for line in ax.get_lines() if line.get_label().startswith("chosen n")]
        assert set(chosen.get_xdata()) == {1000.0}


def test_tables():
    table, choices = size_rows()
    choice = choice_table(choices)
    assert [row.cells for row in choice.rows] == [("1", "1", "1000"), ("0.8", "1", "none in the grid")]
    assert "at least 80% of simulated cohorts" in choice.caption
    assert choice.caption.endswith("Target population: reference cohort ref.csv: 352 of 359 patients.")
    precision = precision_table(table)
    assert len(precision.rows) == len(table)
    first = precision.rows[0].cells
    assert first[:4] == ("200", "1", "1", "harrell_c")
    assert first[6] == f"{1.6 / np.sqrt(200):.3f}"


def test_section_in_a_report(tmp_path):
    from tests.simulations.validation_size.conftest import write_study
    from tmesurv.reports.results import read_results
    from tmesurv.simulations.power.run import run_power_study

    out = tmp_path / "out"
    run_power_study(write_study(tmp_path, replicates=10, chunk_size=10, grid={"n": [150]}), out, workers=1)
    section = validation_size_section(read_results(out))
    assert section is not None
    assert len(section.table.rows) == 3
    assert section.figure.src.startswith("data:image/png;base64,")
    assert validation_size_section(read_results(tmp_path)) is None


@pytest.mark.parametrize("missing", ["validation_size", "validation_size_n"])
def test_no_section_without_both_files(missing):
    from tmesurv.reports.results import Results

    table, choices = size_rows()
    frames = {"validation_size": table, "validation_size_n": choices} | {missing: None}
    results = Results("r", None, None, None, None, None, None, None, **frames)
    assert validation_size_section(results) is None
