from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Annotation, Text

from tests.reports.builders import MATH, screen_table, texts
from tests.reports.conftest import XSS
from tmesurv.reports import format
from tmesurv.reports.sections import screens


def test_volcano_cox_screen_highlights_and_names_without_overlap() -> None:
    screen = screen_table()
    figure = screens.volcano_figure(screen, f"Cox screen {XSS} {MATH}", n_labels=12)
    ax = figure.get_axes()[0]
    assert ax.get_xlabel() == "log2 hazard ratio"
    assert "log" in ax.get_ylabel()
    figure.draw_without_rendering()
    names = [child for child in ax.get_children() if isinstance(child, Annotation)]
    assert 0 < len(names) <= 12
    boxes = [Text.get_window_extent(name) for name in names]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    frame = ax.get_window_extent()
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    note = figure.get_supxlabel()
    assert f"of {int((screen['q'] < 0.05).sum())} highlighted" in note
    assert "{named}" not in note
    assert "1 of 46 features" in note  # the NaN P
    assert "P = 0" in note


def test_volcano_rank_sum_screen_uses_median_difference() -> None:
    screen = screen_table().drop(columns=["coef", "hr"]).assign(median_difference=np.linspace(-1, 1, 46))
    figure = screens.volcano_figure(screen, "rank-sum", q_threshold=0.0)
    assert figure.get_axes()[0].get_xlabel() == screens.MEDIAN_DIFFERENCE_LABEL
    assert not [c for c in figure.get_axes()[0].get_children() if isinstance(c, Annotation)]


def test_volcano_without_an_effect_column_says_which_are_needed() -> None:
    with pytest.raises(ValueError, match="'hr', 'coef' or 'median_difference'"):
        screens.volcano_figure(pd.DataFrame({"feature": ["a"], "p": [0.1], "q": [0.1]}), "x")


def test_response_boxes_order_counts_and_seeded_jitter() -> None:
    rng = np.random.default_rng(5)
    values = pd.DataFrame(
        {
            "b_cell_ges": rng.normal(size=30),
            MATH: rng.normal(size=30),
            "response_group": ["relapsed", "ongoing", "no_response"] * 9 + [None, "relapsed", "ongoing"],
        }
    )
    values.loc[0, "b_cell_ges"] = np.nan
    order = ["ongoing", "relapsed", "no_response"]
    figure = screens.response_box_figure(values, order, kruskal_p={"b_cell_ges": 0.0004}, value_label="log2")
    first, second = figure.get_axes()
    assert [t.get_text() for t in first.get_xticklabels()] == [
        "ongoing\n(n=10)",
        "relapsed\n(n=9)",
        "no_response\n(n=9)",
    ]
    assert first.get_title() == "b_cell_ges\nKruskal-Wallis P < 0.001"
    assert second.get_title() == MATH
    assert all(ax.get_xlabel() == "Response group" and ax.get_ylabel() == "log2" for ax in (first, second))
    assert "1 of 30 patients" in figure.get_supxlabel()
    again = screens.response_box_figure(values, order, kruskal_p={"b_cell_ges": 0.0004}, value_label="log2")
    offsets = [ax.collections[0].get_offsets() for ax in (first, again.get_axes()[0])]
    np.testing.assert_array_equal(*offsets)
    texts(figure)


def test_response_boxes_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="sii"):
        screens.response_box_figure(pd.DataFrame({"response_group": ["ongoing"]}), features=["sii"])


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        ([1.0, 1.0], format.CONVERGED),
        ([1.0, 0.0], format.NOT_CONVERGED),
        ([np.nan, 0.0], format.NOT_CONVERGED),
        ([1.0, np.nan], format.NOT_RECORDED),
    ],
)
def test_fit_status_counts_a_missing_flag_as_not_converged(flags: list[float], status: str) -> None:
    assert format.fit_status(pd.Series(flags)) == status
