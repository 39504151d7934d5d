from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.reports.builders import BUILDERS, INPUTS, bayes_frame, expected_cell, point_cells
from tmesurv.reports import format
from tmesurv.reports.sections import interactions as interaction_section


@pytest.mark.parametrize(
    ("subgroup", "grouping", "level"),
    [
        ("b_cell_ges=high", "b_cell_ges", "high"),
        ("biopsy_timing=after_first_line", "biopsy_timing", "after_first_line"),
        ("cd19_hscore=low & sii=high", "cd19_hscore=low & sii=high", format.IN_SUBGROUP),
        ("not (cd19_hscore=low & sii=high)", "cd19_hscore=low & sii=high", format.NOT_IN_SUBGROUP),
        ("cd19_hscore=low & sii=high", "cd19_hscore", None),
        ("all", "b_cell_ges", None),
    ],
)
def test_subgroup_level(subgroup: str, grouping: str, level: str | None) -> None:
    assert format.subgroup_level(subgroup, grouping) == level


@pytest.mark.parametrize(
    ("subgroup", "expected"),
    [
        ("b_cell_ges=high", ("b_cell_ges", "high")),
        ("not (cd19_hscore=low & sii=high)", ("cd19_hscore=low & sii=high", format.NOT_IN_SUBGROUP)),
        ("sii=high", ("sii", "high")),
        ("level=with=equals", ("level", "with=equals")),
    ],
)
def test_split_subgroup(subgroup: str, expected: tuple[str, str]) -> None:
    assert format.split_subgroup(subgroup) == expected


def test_split_subgroup_uses_known_groupings_for_one_condition() -> None:
    assert format.split_subgroup("sii=high", groupings={"sii=high"}) == ("sii=high", format.IN_SUBGROUP)


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
    (cell,) = point_cells(interaction_section.interaction_table(bayes, biomarkers=biomarkers))
    row = bayes[bayes["analysis"] == "interaction"].iloc[0]
    assert cell == f"{np.exp(2 * row['mean']):.2f} ({row['hr_lower'] ** 2:.2f}\u2013{row['hr_upper'] ** 2:.2f})"


@pytest.mark.parametrize(("value", "text"), [(np.nan, ""), (None, ""), ("IPCW", "IPCW"), (3, "3")])
def test_format_text(value: object, text: str) -> None:
    assert format.format_text(value) == text
