from __future__ import annotations

import numpy as np

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
