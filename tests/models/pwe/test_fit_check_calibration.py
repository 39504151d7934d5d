"""The misfit rule of the posterior-vs-Kaplan-Meier check against its calibration (fit_check_calibration.csv).

The calibration file holds the check's statistics of default-prior PWE fits to simulated cohorts: correct models
(proportional hazards, piecewise-exponential baselines) and the PH model on the ZUMA-7-like scenario, whose arms have a
cured fraction. Regenerate with ``python tests/reference/fit_check_calibration.py INTERVALS REPLICATES``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reference.fit_check_calibration import CORRECT, SEED, calibration_fit, correct_cohort, zuma7_cohort
from tmesurv.models.pwe.fit_check import CALIBRATED_DETECTION, fit_check, is_misfit

CALIBRATION = Path(__file__).parents[2] / "reference" / "fit_check_calibration.csv"
DATA_STATISTICS = ["n", "events", "follow_up", "largest_at"]
# Posterior statistics differ between CPUs (numba compiles for the machine's instruction set, so chains part after a
# few iterations): they agree within Monte Carlo error, not to the last bit. The tolerance is 5 Monte Carlo SDs, the
# largest SD of replicate 0's four arms refitted with 12 sampler seeds (max 0.0012, mean 0.00054, share 0.043).
MONTE_CARLO_TOLERANCE = {"max_abs_difference": 0.006, "mean_abs_difference": 0.0027, "share_in_band": 0.22}


def flagged_fits(intervals: int) -> pd.Series:
    """Per (scenario, n, replicate): whether the rule flags the fit (either arm), at ``intervals`` intervals."""
    rows = pd.read_csv(CALIBRATION)
    rows = rows[rows["intervals"] == intervals]
    flags = pd.Series(is_misfit(rows["share_in_band"], rows["mean_abs_difference"], rows["n"]), index=rows.index)
    return flags.groupby([rows["scenario"], rows["cohort_n"], rows["replicate"]]).any()


def test_rule_flags_no_correct_fit_and_most_ph_fits_of_the_cure_shaped_trial():
    flags = flagged_fits(8)
    rates = flags.groupby(level=["scenario", "cohort_n"]).mean()
    replicates = flags.groupby(level=["scenario", "cohort_n"]).size()
    assert (replicates >= 10).all()
    correct = rates[rates.index.get_level_values("scenario").isin(list(CORRECT))]
    assert len(correct) == 6
    assert (correct == 0).all()  # no correct fit flagged, as the fit_check docstring states
    assert rates[("zuma7", 359)] >= 0.75  # the PH model on the ZUMA-7-like trial: 13 of 16 flagged
    detected = flags.groupby(level=["scenario", "cohort_n"]).sum()
    assert (detected[("zuma7", 359)], replicates[("zuma7", 359)]) == CALIBRATED_DETECTION["trial"]
    assert (detected[("zuma7_half", 179)], replicates[("zuma7_half", 179)]) == CALIBRATED_DETECTION["half"]


@pytest.mark.parametrize(
    ("scenario", "flagged"),
    [("pwe_step", False), ("zuma7", True)],
)
def test_rule_on_a_sampled_fit_reproduces_the_calibration(scenario: str, flagged: bool):
    """Replicate 0 refitted: a correct model (ZUMA-7-like stepped baseline, PH) passes, the PH fit of the ZUMA-7-like
    trial (cured fractions) is flagged; the statistics equal the calibration file's (same seeds) within Monte Carlo
    error."""
    rng = np.random.default_rng([SEED, 0])
    if scenario == "zuma7":
        time, event, arm = zuma7_cohort(0, False, rng)
    else:
        time, event, arm = correct_cohort(CORRECT[scenario], 359, rng)  # the first cohort of replicate 0
    check = fit_check(calibration_fit(time, event, arm, intervals=8, replicate=0)).set_index("arm")
    stored = pd.read_csv(CALIBRATION).query("scenario == @scenario and cohort_n == 359 and intervals == 8")
    stored = stored[stored["replicate"] == 0].set_index("arm")
    check = check.loc[stored.index]
    np.testing.assert_allclose(check[DATA_STATISTICS].to_numpy(float), stored[DATA_STATISTICS], rtol=1e-9)
    for statistic, tolerance in MONTE_CARLO_TOLERANCE.items():
        np.testing.assert_allclose(check[statistic], stored[statistic], rtol=0, atol=tolerance, err_msg=statistic)
    assert check["misfit"].any() == flagged
