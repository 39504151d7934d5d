from __future__ import annotations

import numpy as np
import pytest

from tests.reports.conftest import ARM_NAMES
from tmesurv.reports.sections import time_varying


def test_time_varying_figure_draws_each_interval_over_its_months(results) -> None:
    rows = results.bayes_time_varying.assign(hr_mean=lambda frame: np.exp(frame["mean"]) * 1.3)
    figure = time_varying.time_varying_figure(rows, "efs", ARM_NAMES)
    (ax,) = figure.get_axes()
    segments = ax.collections[-1].get_segments()  # the hlines of the posterior means
    starts_ends = [(segment[0][0], segment[1][0]) for segment in segments]
    assert starts_ends[:2] == [(0.0, 3.0), (3.0, 9.0)]
    assert starts_ends[2][0] == 9.0
    assert starts_ends[2][1] == pytest.approx(9.0 * 1.25)  # the open interval drawn a quarter beyond its start
    overall = rows[(rows["analysis"] == "treatment")].sort_values("interval")
    assert [segment[0][1] for segment in segments] == pytest.approx(np.exp(overall["mean"]))  # not hr_mean
    assert ax.get_ylabel().startswith("Treatment HR, axi-cel vs SOC")
    assert "Months since randomisation" in ax.get_xlabel()
    assert "0 divergences, converged" in ax.get_title()
    assert "at the posterior mean log HR" in ax.get_title()
