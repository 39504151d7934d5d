from __future__ import annotations

import numpy as np
import pandas as pd

from tests.reports.builders import bayes_frame
from tmesurv.reports.sections import diagnostics


def test_diagnostics_table_flags_failed_fits_and_says_when_none_was_recorded() -> None:
    bayes = bayes_frame()
    bayes["ess_tail"], bayes["bfmi_min"], bayes["divergences"] = 1200.0, 0.9, 0
    bayes.loc[bayes["analysis"] == "subgroup", "converged"] = 0.0
    bayes.loc[bayes["analysis"] == "interaction", "converged"] = np.nan
    summary = diagnostics.diagnostics_table(bayes)
    status = {row.cells[1]: (row.cells[-1], row.flagged) for row in summary.table.rows}
    assert status == {
        "treatment": ("converged", False),
        "subgroup": ("not converged", True),
        "interaction": ("not recorded", False),
    }
    assert summary.n_unconverged == 1


def test_every_compared_model_has_its_own_rows_after_those_of_bayes_model() -> None:
    ph = bayes_frame().assign(ess_tail=1200.0, bfmi_min=0.9, divergences=0)
    cure = ph.assign(model="cure", term="cure:" + ph["term"], r_hat=1.02, converged=0.0)  # the compared fits failed
    summary = diagnostics.diagnostics_table(pd.concat([ph, cure], ignore_index=True))
    fits = [(row.cells[1], row.cells[3], row.cells[4], row.cells[5], row.flagged) for row in summary.table.rows]
    assert fits == [
        (analysis, model, "1", r_hat, model == "cure")  # one term per fit; treatment_at rows are left out
        for model, r_hat in (("ph", "1.002"), ("cure", "1.020"))
        for analysis in ("treatment", "subgroup", "interaction")
    ]
    assert (summary.n_fits, summary.n_unconverged) == (6, 3)
