"""Rows of a cure fit for bayes.csv and bayes_cure.csv, from constructed posteriors (closed forms)."""

import numpy as np
import pytest

from tests.models.pwe.cure.conftest import constructed_fit
from tmesurv.models.pwe.cure.tables import CURE_COLUMNS, cure_table_rows, plateau_notes
from tmesurv.models.pwe.registry import CURE
from tmesurv.models.pwe.remedy import Remedied
from tmesurv.models.pwe.rows import summary_rows, treatment_at_rows
from tmesurv.models.pwe.storage import PweFit
from tmesurv.outputs.files import REGISTRY


def interaction_fit():
    idata = constructed_fit(-0.5, [0.7, 0.1, 0.4], [-0.3, 0.2, -0.1], jitter=0.1)
    return PweFit("efs", "interaction", "b_cell_ges", idata, model=CURE)


def test_treatment_at_gives_the_odds_ratio_of_cure_and_the_uncured_hazard_ratio_at_each_value():
    fit = interaction_fit()
    summary = summary_rows(fit, Remedied(fit.idata, target_accept=0.95, reruns=1, first_divergences=3), notes=[])
    rows = treatment_at_rows(fit, np.array([0.0, 1.0, 2.0, 3.0, 4.0]), [10.0], summary)
    assert rows[["subgroup", "term"]].to_numpy().tolist() == [
        [f"b_cell_ges={value}", term] for value in (1, 2, 3, 10) for term in ("cure:arm", "latency:arm")
    ]
    rows = rows.set_index(["subgroup", "term"])
    posterior = fit.idata.posterior
    for value, label in ((1.0, "b_cell_ges=1"), (3.0, "b_cell_ges=3"), (10.0, "b_cell_ges=10")):
        cure = posterior["cure_coef"].sel(term="arm") + value * posterior["cure_coef"].sel(term="arm:b_cell_ges")
        latency = posterior["coef"].sel(term="arm") + value * posterior["coef"].sel(term="arm:b_cell_ges")
        assert rows.loc[(label, "cure:arm"), "hr_mean"] == pytest.approx(float(np.exp(cure).mean()), rel=1e-12)
        assert rows.loc[(label, "latency:arm"), "mean"] == pytest.approx(float(latency.mean()), rel=1e-12)
    assert set(rows["analysis"]) == {"treatment_at"}
    interaction_row = summary.set_index("term").loc["cure:arm:b_cell_ges"]
    assert rows.loc[("b_cell_ges=1", "cure:arm"), "r_hat"] == interaction_row["r_hat"]
    assert (rows["target_accept"] == 0.95).all()
    assert (rows["reruns"] == 1).all()
    assert (rows["note"] == "re-run: 3 divergences at the first run, 0 at target_accept 0.95").all()


def test_bayes_csv_rows_fit_the_registry():
    fit = interaction_fit()
    summary = summary_rows(fit, Remedied(fit.idata, target_accept=0.9, reruns=0, first_divergences=0), notes=[])
    at = treatment_at_rows(fit, np.array([0.0, 1.0, 2.0]), [], summary)
    for table in (summary, at):
        REGISTRY["bayes"].ordered(table)  # raises on a missing or unknown column


def test_cure_table_rows_per_value_and_a_note_for_an_unsupported_plateau():
    fit = interaction_fit()
    table = cure_table_rows(fit, np.array([-1.0, 0.0, 1.0]), [0.5])
    assert list(table.columns) == CURE_COLUMNS == list(REGISTRY["bayes_cure"].columns)
    assert list(dict.fromkeys(table["subgroup"])) == ["b_cell_ges=-0.5", "b_cell_ges=0", "b_cell_ges=0.5"]
    # the constructed patients: 5 and 4 followed beyond each arm's last event, fewer than 10 -> not supported
    [note] = plateau_notes(table)  # one per endpoint; the three values rest on the same patients: named once
    assert note.startswith("efs: the cure plateau is not supported by the follow-up")
    facts = "interaction b_cell_ges (control: last event at 4.0 months, 3 patients followed beyond it (to 30.0)"
    assert f"in these cure fits (bayes_cure.csv): {facts}" in note
