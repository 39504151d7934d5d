"""The model check section (fit check, Kaplan-Meier with censor marks under the posterior, PSIS-LOO), the misfit
banners of the Bayesian sections, not-reached posterior statistics, and the methods text of the Bayesian checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reports.conftest import section, table_rows
from tmesurv.models.cox.km import fit_km
from tmesurv.models.pwe.fit_check import misfit_rule_text
from tmesurv.models.pwe.survival import not_reached_rule_text
from tmesurv.reports.km_marks import GID_CENSOR, GID_STEPS, censoring_times
from tmesurv.reports.posterior_km_plot import GID_MEDIAN, GID_POSTERIOR_BAND, km_models_figure
from tmesurv.reports.sections import km, methods, model_check


def test_censor_marks_at_the_censored_times_on_the_curve():
    # censored at 2 (tied with a death), 3 and 5; KM 5/6 after month 1, x 4/5 after month 2, x 1/2 after month 4
    curve = fit_km(np.array([1.0, 2, 2, 3, 4, 5]), np.array([1.0, 0, 1, 0, 1, 0]))
    np.testing.assert_array_equal(censoring_times(curve), [2.0, 3.0, 5.0])


def km_and_posterior() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier curves of two arms (fit_km on made-up patients) and made-up posterior curves of each."""
    rng = np.random.default_rng(3)
    curves, posterior = [], []
    for arm, rate in (("treated", 0.05), ("control", 0.1)):
        time = np.minimum(rng.exponential(1 / rate, 40), rng.uniform(5, 30, 40))
        event = (time < 30) & (rng.uniform(size=40) < 0.8)
        curves.append(fit_km(time, event.astype(float)).assign(endpoint="efs", arm=arm, subgroup="all"))
        grid = np.linspace(0, 25, 26)
        survival = np.exp(-rate * grid)
        band = {"lower": survival * 0.9, "upper": np.minimum(survival * 1.1, 1)}
        posterior.append(pd.DataFrame({"endpoint": "efs", "arm": arm, "subgroup": "all", "time": grid} | band))
        posterior[-1]["survival"] = survival
    return pd.concat(curves, ignore_index=True), pd.concat(posterior, ignore_index=True)


def two_models(posterior: pd.DataFrame) -> pd.DataFrame:
    """The posterior as bayes.model ph, and a compared cure model whose curves sit 0.05 higher."""
    cure = posterior.assign(survival=posterior["survival"] + 0.05, model="cure")
    return pd.concat([posterior.assign(model="ph"), cure], ignore_index=True)


def test_km_models_figure_draws_km_with_censor_marks_under_every_models_median_and_band():
    curves, posterior = km_and_posterior()
    posterior = two_models(posterior)
    notes = {("all", "treated"): "ph (bayes.model): max |S - KM| 0.100, KM in band at 50%, MISFIT"}
    figure = km_models_figure(curves, posterior, "efs", ["all"], {"all": "all patients"}, None, notes, main="ph")
    panels = figure.subfigs[0].subfigs
    assert len(panels) == 2  # a panel per arm
    for panel, arm in zip(panels, ("treated", "control"), strict=True):
        ax = panel.axes[0]
        assert ax.get_title() == f"all patients: {arm}"
        rows = curves[curves["arm"] == arm].sort_values("time")
        [marks] = [line for line in ax.get_lines() if line.get_gid() == GID_CENSOR]
        np.testing.assert_array_equal(marks.get_xdata(), censoring_times(rows))
        [steps] = [line for line in ax.get_lines() if line.get_gid() == GID_STEPS]
        np.testing.assert_array_equal(steps.get_ydata(), rows["survival"])
        medians = {line.get_label(): line for line in ax.get_lines() if line.get_gid() == GID_MEDIAN}
        assert list(medians) == ["ph", "cure"]
        assert medians["ph"].get_color() != medians["cure"].get_color()
        assert medians["ph"].get_linestyle() != medians["cure"].get_linestyle()
        for model, line in medians.items():
            expected = posterior.loc[(posterior["arm"] == arm) & (posterior["model"] == model), "survival"]
            np.testing.assert_array_equal(line.get_ydata(), expected)
        bands = [artist for artist in ax.collections if artist.get_gid() == GID_POSTERIOR_BAND]
        assert len(bands) == 2
    texts = [text.get_text() for text in panels[0].axes[0].texts]
    assert notes["all", "treated"] in texts
    legend = [text.get_text() for text in figure.subfigs[1].legends[0].get_texts()]
    assert legend == [
        "Kaplan-Meier",
        "Censored",
        "ph (bayes.model): posterior median, 95% band",
        "cure: posterior median, 95% band",
    ]


def fit_check_rows() -> pd.DataFrame:
    rows = [
        ("efs", "treatment", "all", "treated", 0.04, 0.9, 0.0),
        ("efs", "treatment", "all", "control", 0.03, 0.95, 0.0),
        ("efs", "interaction", "b_cell_ges", "treated", 0.15, 0.4, 1.0),
        ("efs", "subgroup", "b_cell_ges=high", "treated", 0.12, 0.5, 1.0),
    ]
    keys = ["endpoint", "analysis", "subgroup", "arm"]
    frame = pd.DataFrame(rows, columns=[*keys, "max_abs_difference", "share_in_band", "misfit"])
    return frame.assign(model="ph", n=50, events=30, follow_up=24.0, largest_at=3.0, mean_abs_difference=0.02)


def test_fit_check_table_flags_misfits_and_states_the_rule():
    table = model_check.fit_check_table(fit_check_rows(), {"treated": "axi-cel", "control": "SOC"}, main="ph")
    assert [row.flagged for row in table.rows] == [False, False, True, True]
    assert table.rows[2].cells[-1] == "misfit"
    assert table.rows[0].cells[3] == "ph (bayes.model)"
    assert table.rows[0].cells[8:11] == ("0.040 (at 3.0)", "0.020", "90%")
    assert misfit_rule_text() in table.caption
    assert "2 of 16 random halves" in table.caption  # an unflagged subgroup is not read as a fit


def test_fit_check_table_puts_the_models_of_a_fit_together():
    main = fit_check_rows()
    cure = main.assign(model="cure", misfit=0.0, share_in_band=0.97)
    table = model_check.fit_check_table(pd.concat([main, cure], ignore_index=True), main="ph")
    fits_and_models = [(row.cells[2], row.cells[3], row.cells[4]) for row in table.rows]
    assert fits_and_models == [
        ("all", "ph (bayes.model)", "treated"),
        ("all", "ph (bayes.model)", "control"),
        ("all", "cure", "treated"),
        ("all", "cure", "control"),
        ("b_cell_ges", "ph (bayes.model)", "treated"),
        ("b_cell_ges", "cure", "treated"),
        ("b_cell_ges=high", "ph (bayes.model)", "treated"),
        ("b_cell_ges=high", "cure", "treated"),
    ]
    assert [row.flagged for row in table.rows] == [False, False, False, False, True, False, True, False]


def test_the_banner_names_the_misfits_of_bayes_model_only():
    checks = pd.concat([fit_check_rows().assign(misfit=0.0), fit_check_rows().assign(model="cure")])
    assert model_check.misfit_banner(checks[checks["model"] == "ph"]) is None
    assert model_check.misfit_banner(checks[checks["model"] == "cure"]).fits == (
        "efs interaction b_cell_ges",
        "efs subgroup b_cell_ges=high",
    )


def test_misfit_banner_names_the_misfit_fits_of_the_section_shown():
    checks = fit_check_rows()
    assert model_check.misfit_banner(checks).fits == ("efs interaction b_cell_ges", "efs subgroup b_cell_ges=high")
    assert model_check.misfit_banner(checks, ("treatment", "subgroup")).fits == ("efs subgroup b_cell_ges=high",)
    assert model_check.misfit_banner(checks, ("treatment",)) is None
    assert model_check.misfit_banner(None) is None


def loo_rows(difference: float, dse: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "endpoint": "efs",
            "analysis": "treatment",
            "subgroup": "all",
            "model": ["time_varying", "ph"],
            "elpd_loo": [-400.0, -400.0 - difference],
            "se": [20.0, 21.0],
            "p_loo": [9.0, 7.0],
            "elpd_diff": [0.0, difference],
            "dse": [0.0, dse],
            "n_pareto_k_high": [0, 2],
            "rank": [0, 1],
        }
    )


@pytest.mark.parametrize(
    ("difference", "dse", "clear"),
    [(9.5, 3.1, True), (4.0, 2.0, True), (5.0, 3.0, False), (3.9, 1.0, False)],
)
def test_loo_sentence_says_which_model_the_data_prefer_only_when_clear(difference, dse, clear):
    sentence = model_check.loo_sentence(loo_rows(difference, dse))
    if clear:
        assert f"for efs the data clearly prefer time_varying (over ph by {difference:.1f} (SE {dse:.1f}))" in sentence
    else:
        assert "for efs the data show no clear preference (time_varying over ph" in sentence
    table = model_check.loo_table(loo_rows(difference, dse))
    assert [row.cells[3] for row in table.rows] == ["time_varying", "ph"]
    assert table.rows[1].cells[6] == f"{difference:.1f} ({dse:.1f})"
    assert [row.flagged for row in table.rows] == [False, True]  # ph has patients with a high Pareto k


def test_loo_sentence_absent_without_a_comparison():
    assert model_check.loo_sentence(loo_rows(9.5, 3.1).iloc[:1]) is None


def test_posterior_table_prints_nr_never_an_extrapolation():
    rows = pd.DataFrame(
        [
            ("treated", "median", np.nan, np.nan, 40.2, np.nan, 0.0, 0.93),
            ("control", "median", np.nan, 8.1, 6.0, 10.5, 1.0, 0.0),
            ("difference", "median", np.nan, np.nan, np.nan, np.nan, 0.0, np.nan),
            ("treated", "survival", 60.0, np.nan, np.nan, np.nan, 0.0, np.nan),
            ("control", "survival", 60.0, 0.2, 0.1, 0.3, 1.0, np.nan),
        ],
        columns=["arm", "statistic", "time", "estimate", "lower", "upper", "reached", "prob_beyond_follow_up"],
    ).assign(endpoint="os", subgroup="all")
    table = km.posterior_survival_table(rows)
    median, landmark = (row.cells[3:] for row in table.rows)
    assert median == ("NR (40.2\u2013NR); P(beyond follow-up) 0.93", "8.1 (6.0\u201310.5)", "NR")
    assert landmark == ("beyond follow-up", "0.20 (0.10\u20130.30)", "")
    assert not_reached_rule_text() in table.caption


def test_methods_text_states_the_model_as_fitted_and_the_checks():
    text = methods.bayes_text(
        {"model": "time_varying", "compare": ["ph", "time_varying"], "intervals": 8, "divergence_reruns": [0.95, 0.99]}
    )
    assert "a treatment log hazard ratio in each of the (up to 8) baseline intervals" in text
    assert "event-weighted average" in text
    assert "proportional-hazards models" not in text
    assert "target acceptance of 0.95, then 0.99" in text
    assert not_reached_rule_text() in text
    assert misfit_rule_text() in text
    assert "ahead by at least 4 and by at least 2 standard errors" in text
    assert "one hazard ratio for the whole follow-up" in methods.bayes_text({})
    assert "event-weighted average" in methods.bayes_text({"time_varying": True})  # run.json before bayes.model
    assert "were not re-run" in methods.bayes_text({"divergence_reruns": []})


def test_report_shows_the_model_check_and_the_misfit_banners(full_report: Path):
    page = full_report.read_text(encoding="utf-8")
    checked = section(page, "model-check")
    assert "Treatment effect of all patients by PSIS-LOO: for efs the data clearly prefer time_varying" in checked
    assert "efs subgroup b_cell_ges=high" in checked.split("</div>")[0]  # the banner
    assert len([row for row in table_rows(checked) if 'class="flagged"' in row]) == 1
    assert checked.count("<img") == 2  # all patients and the four subgroups: 4 panels per figure
    assert "efs subgroup b_cell_ges=high" in section(page, "kaplan-meier")
    assert "efs subgroup b_cell_ges=high" in section(page, "diagnostics")


def test_panel_note_gives_every_models_fit_check_and_flags_misfits():
    rows = fit_check_rows().query("subgroup == 'b_cell_ges=high'")
    rows = pd.concat([rows, rows.assign(model="cure", misfit=0.0, max_abs_difference=np.nan)], ignore_index=True)
    assert model_check._panel_note(rows, "ph") == (
        "ph (bayes.model): max |S - KM| 0.120, KM in band at 50%, MISFIT\ncure: no events"
    )
