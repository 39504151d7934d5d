"""The validation section shows E-for-benefit and the matching wherever it shows the c-for-benefit."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.reports.conftest import row_with, section
from tmesurv.reports import html
from tmesurv.validation.benefit_matching import BenefitMatching, matching_in_note, matching_note
from tmesurv.validation.score import ExternalPredictions, validation_table

HORIZONS = (6.0, 12.0)

pytestmark = pytest.mark.usefixtures("undrawn_figures")  # the section is text


def scored(matching: BenefitMatching, seed: int = 4) -> pd.DataFrame:
    """validation.csv rows of a small two-arm external cohort, scored as tmesurv validate does (20 bootstraps)."""
    rng = np.random.default_rng(seed)
    n = 160
    treated = (np.arange(n) % 2).astype(float)
    marker = rng.normal(size=n)
    rate = 0.08 * np.exp(0.5 * marker - treated * (0.3 + 0.5 * marker))
    time = np.minimum(rng.exponential(1 / rate), rng.uniform(8.0, 30.0, n))
    event = (time < 30.0).astype(float) * (rng.uniform(size=n) < 0.9)

    def risk(arm: float) -> dict[float, np.ndarray]:
        lp = 0.5 * marker - arm * (0.3 + 0.5 * marker)
        return {h: 1 - np.exp(-0.08 * h * np.exp(lp)) for h in HORIZONS}

    lp = 0.5 * marker - treated * (0.3 + 0.5 * marker)
    own = {h: np.where(treated == 1, risk(1.0)[h], risk(0.0)[h]) for h in HORIZONS}
    predictions = ExternalPredictions(time, event, lp, own, treated, risk(0.0), risk(1.0))
    return validation_table(predictions, n_boot=20, seed=seed, matching=matching).assign(model="cox")


def test_c_and_e_for_benefit_are_shown_with_their_matching(tmp_path: Path, writers: SimpleNamespace):
    random = BenefitMatching("random", repeats=5, seed=3)
    rows = scored(random)
    rows.to_csv(tmp_path / "validation.csv", index=False)
    writers.run(tmp_path)
    shown = section(html.write_report(tmp_path).read_text(encoding="utf-8"), "validation")
    table = shown.split("Predicted treatment benefit: c- and E-for-benefit")[1]
    for horizon in HORIZONS:
        at = rows[(rows["horizon"] == horizon) & (rows["group"] == "all")].set_index("metric")
        cells = [
            f"{at.loc[metric, 'estimate']:.3f} ({at.loc[metric, 'lower']:.3f}\u2013{at.loc[metric, 'upper']:.3f})"
            for metric in ("c_for_benefit", "e_for_benefit", "e50_for_benefit", "e90_for_benefit")
        ]
        assert all(np.isfinite(at.loc["e_for_benefit", ["estimate", "lower", "upper"]].astype(float)))
        row = row_with(table, "cox", f"{horizon:g}", *cells)
        assert ">random matching (van Klaveren), mean of 5 matchings, seed 3</td>" in row


def test_the_matching_is_read_back_from_the_note_it_was_written_in():
    random = BenefitMatching("random", repeats=5, seed=3)
    assert matching_in_note(f"beyond the development follow-up; {matching_note(random)}") == matching_note(random)
    assert matching_in_note(matching_note(BenefitMatching())) == "rank matching on predicted benefit"
    assert matching_in_note("IPCW") is None
    assert matching_in_note(np.nan) is None


def test_results_of_an_earlier_version_without_e_for_benefit_say_the_matching_is_not_recorded(tmp_path, writers):
    rows = scored(BenefitMatching())
    old = rows[~rows["metric"].str.startswith(("e_", "e50_", "e90_"))].assign(note="")
    old.to_csv(tmp_path / "validation.csv", index=False)
    writers.run(tmp_path)
    shown = section(html.write_report(tmp_path).read_text(encoding="utf-8"), "validation")
    table = shown.split("Predicted treatment benefit: c- and E-for-benefit")[1]
    c_row = old[(old["metric"] == "c_for_benefit") & (old["horizon"] == 6.0)].iloc[0]
    c_cell = f"{c_row['estimate']:.3f} ({c_row['lower']:.3f}\u2013{c_row['upper']:.3f})"
    row = row_with(table, "cox", "6", c_cell, "not recorded")
    assert row.count('<td class="num"></td>') == 3  # Eavg, E50, E90 blank
