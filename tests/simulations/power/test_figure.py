"""The power curve: the values it plots, and its helper process (the same bytes as drawing in process; failures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from tests.simulations.power.conftest import write_study
from tmesurv.simulations.power import figure_process as power_figure
from tmesurv.simulations.power import run as power_run
from tmesurv.simulations.power.figure import PowerCurve, draw_power_curve, power_curve
from tmesurv.simulations.power.figure_process import FigureProcess
from tmesurv.simulations.power.methods import analytic_power
from tmesurv.simulations.power.run import run_power_study

GRID = {"n": [120, 240], "interaction_hr": [1.0, 0.5]}


def test_the_figure_plots_power_csv(tmp_path):
    run = run_power_study(write_study(tmp_path, grid=GRID, replicates=50), tmp_path / "out", figure=False)
    table = pd.read_csv(tmp_path / "out" / "power.csv")
    figure = draw_power_curve(power_curve(run.dataset))
    axes = figure.axes[:2]  # one row (randomized, prognostic HR 1, prevalence 0.5), a column per interaction HR
    for ax, hr in zip(axes, [1.0, 0.5], strict=True):
        assert f"HR_int {hr:g}" in ax.get_title()
        bars = {bar.get_label(): bar for bar in ax.containers if isinstance(bar, ErrorbarContainer)}
        assert set(bars) == {"cox_interaction", "cox_interaction_stratified", "median_split"}
        for method, bar in bars.items():
            rows = table[(table["interaction_hr"] == hr) & (table["method"] == method)].sort_values("mean_events")
            x, y = bar.lines[0].get_data()
            assert np.array_equal(x, rows["mean_events"].to_numpy())
            assert np.array_equal(y, rows["power"].to_numpy())
            top = bar.lines[2][0].get_segments()  # the error bars: power -+ 2 MCSE
            assert np.allclose([segment[1, 1] for segment in top], rows["power"] + 2 * rows["power_mcse"], atol=1e-12)
        (analytic,) = [line for line in ax.get_lines() if line.get_label() == "analytic (Cox interaction)"]
        events, power = analytic.get_data()
        assert np.array_equal(power, analytic_power(events, hr, 0.5, run.dataset.attrs["allocation"], 0.05))


@pytest.mark.parametrize("helper", [True, False])
def test_the_helper_process_draws_the_bytes_drawn_in_process(tmp_path, monkeypatch, helper):
    started = []

    class Recorded(FigureProcess):
        def __init__(self) -> None:
            started.append(self)
            super().__init__()

    monkeypatch.setattr(power_run, "FigureProcess", Recorded)
    monkeypatch.setattr(power_run, "in_helper_process", lambda cores: helper)
    study = write_study(tmp_path, grid=GRID, replicates=50)
    run_power_study(study, tmp_path / "out")
    assert len(started) == helper
    monkeypatch.setattr(power_run, "in_helper_process", lambda cores: not helper)
    run_power_study(study, tmp_path / "other")
    for name in ("power_curve.png", "power_curve.svg"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "other" / name).read_bytes()


def test_a_failure_in_the_helper_process_is_raised_with_its_cause(tmp_path):
    with FigureProcess() as process:
        process.submit(PowerCurve(panels=(), title="nothing to draw"), tmp_path)
        with pytest.raises(RuntimeError, match="helper process: IndexError"):
            process.wait()
    assert not list(tmp_path.iterdir())


def test_a_helper_process_given_nothing_is_stopped(tmp_path):
    with pytest.raises(KeyboardInterrupt), FigureProcess() as process:
        raise KeyboardInterrupt
    assert process._process.returncode is not None


def test_a_study_that_fails_while_its_helper_waits_leaves_no_figure(tmp_path, monkeypatch):
    def broken(*arguments, **keywords):
        raise ValueError("no summary")

    monkeypatch.setattr(power_run, "in_helper_process", lambda cores: True)
    monkeypatch.setattr(power_run, "summarize_power", broken)
    with pytest.raises(ValueError, match="no summary"):
        run_power_study(write_study(tmp_path), tmp_path / "out")
    assert not list((tmp_path / "out").glob("power_curve*"))


def test_a_helper_started_ahead_draws_the_next_study_s_figure(tmp_path, monkeypatch):
    for module in (power_figure, power_run):
        monkeypatch.setattr(module, "in_helper_process", lambda cores: True)
    power_figure.start_ahead()
    power_figure.start_ahead()  # one at a time
    (ahead,) = power_figure._ahead
    run_power_study(write_study(tmp_path), tmp_path / "out")
    assert not power_figure._ahead
    assert ahead.returncode == 0  # it drew the figure and ended
    assert (tmp_path / "out" / "power_curve.svg").read_bytes().startswith(b"<?xml")
